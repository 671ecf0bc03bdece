// Wide & Deep and DeepFM as ONNX (one graph, model.onnx): the linear part over every feature, DeepFM's FM second
// order over the field embeddings, and the deep MLP over the flattened field embeddings and dense features.
// Shape letters: B batch, F fields, D embedding dim.
import { Linear, Mlp } from '../../../nn/index.js';
import { ALL_SOURCES, FieldEmbedder } from '../../../models/common/field-embedder.js';
import { LinearPart } from '../../../models/common/layers.js';
import { WideDeep } from '../../../models/wide-deep.js';
import { DeepFm } from '../../../models/deepfm.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { denseBlock, fieldEmbeddings, flatten } from '../features.js';
import { linear, mlp, subModule } from '../layers.js';
import { linearPart, logits } from '../parts.js';
import { paramOf, type SingleTowerOnnx } from '../declaration.js';

/** out(dnn(flatInput(fields, dense))) [B, 1]. */
export function deepPart(g: OnnxGraph, model: RecModel, embed: FieldEmbedder, fields: string | null, what: string): string {
  const x = flatten(g, fields, denseBlock(g, embed, ALL_SOURCES), embed.fieldsOf(ALL_SOURCES).length * embed.dim);
  const outs = mlp(g, x, subModule(model, 'dnn', Mlp, what));
  return linear(g, outs[outs.length - 1], subModule(model, 'out', Linear, what));
}

/** 1/2 sum_d [(sum_f e_fd)^2 - sum_f e_fd^2]: e [B, F, D] -> [B, 1]. */
function fmSecondOrder(g: OnnxGraph, e: string): string {
  const s = g.op('ReduceSum', [e, g.int64s([1])], { keepdims: 0 }); // [B, D]
  const sumSq = g.op('ReduceSum', [g.op('Mul', [e, e]), g.int64s([1])], { keepdims: 0 }); // [B, D]
  const diff = g.op('ReduceSum', [g.op('Sub', [g.op('Mul', [s, s]), sumSq]), g.int64s([1])], { keepdims: 1 }); // [B, 1]
  return g.op('Mul', [diff, g.floats([0.5], [])]);
}

export function wideDeepOnnx(model: RecModel): SingleTowerOnnx {
  const what = 'wide-deep';
  if (!(model instanceof WideDeep)) throw new Error(`onnx export (${what}): expected a Wide & Deep model, got '${model.kind}'`);
  const embed = subModule(model, 'embed', FieldEmbedder, what);
  return {
    towers: 1,
    forward(g) {
      const deep = deepPart(g, model, embed, fieldEmbeddings(g, embed, ALL_SOURCES, what), what);
      const wide = linearPart(g, subModule(model, 'wide', LinearPart, what), ALL_SOURCES, what);
      return logits(g, [wide, deep], g.weight(paramOf(model, 'bias', what)), what);
    },
    doc: 'logit = wide (linear over every feature) + deep (MLP over the field embeddings and dense features) + bias',
  };
}

export function deepFmOnnx(model: RecModel): SingleTowerOnnx {
  const what = 'deepfm';
  if (!(model instanceof DeepFm)) throw new Error(`onnx export (${what}): expected a DeepFM model, got '${model.kind}'`);
  const embed = subModule(model, 'embed', FieldEmbedder, what);
  return {
    towers: 1,
    forward(g) {
      const fields = fieldEmbeddings(g, embed, ALL_SOURCES, what);
      const first = linearPart(g, subModule(model, 'first', LinearPart, what), ALL_SOURCES, what);
      const fm = fields ? fmSecondOrder(g, fields) : null;
      return logits(g, [first, fm, deepPart(g, model, embed, fields, what)], g.weight(paramOf(model, 'bias', what)), what);
    },
    doc: 'logit = first order + FM second order + deep + bias',
  };
}
