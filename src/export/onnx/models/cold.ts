// COLD as ONNX (model.onnx): one tower over every feature. The SE block weighs the field embeddings ('cold':
// s = sigmoid([e_1..e_F] W + b), e_f * s_f; 'fibinet': a = relu(relu(mean_D(e) W1) W2), e + e * a), the MLP runs over
// the weighted embeddings and the dense features, logit = MLP output w_out (+ wide) + b.
// Shape letters: B batch, F fields, D embedding dim.
import { Linear } from '../../../nn/index.js';
import { ALL_SOURCES, FieldEmbedder } from '../../../models/common/field-embedder.js';
import { LinearPart } from '../../../models/common/layers.js';
import { Cold } from '../../../models/cold.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { fieldEmbeddings } from '../features.js';
import { linear, optionalModule, subModule } from '../layers.js';
import { linearPart, logits } from '../parts.js';
import { deepPart } from './wide-deep.js';
import { paramOf, type SingleTowerOnnx } from '../declaration.js';

const WHAT = 'cold';

export function coldOnnx(model: RecModel): SingleTowerOnnx {
  if (!(model instanceof Cold)) throw new Error(`onnx export (${WHAT}): expected a COLD model, got '${model.kind}'`);
  const embed = subModule(model, 'embed', FieldEmbedder, WHAT);
  const F = embed.fieldsOf(ALL_SOURCES).length, D = embed.dim;

  /** The SE block over e [B, F, D] -> [B, F, D] (e itself when the model has none). */
  const se = (g: OnnxGraph, e: string): string => {
    const fc = optionalModule(model, 'se.fc', Linear);
    if (fc) {
      const s = linear(g, g.op('Reshape', [e, g.int64s([-1, F * D])]), fc); // [B, F]
      return g.op('Mul', [e, g.op('Unsqueeze', [s, g.int64s([2])])]);
    }
    const fc1 = optionalModule(model, 'se.fc1', Linear);
    if (!fc1) return e;
    const a = linear(g, linear(g, g.op('ReduceMean', [e], { axes: [2], keepdims: 0 }), fc1), subModule(model, 'se.fc2', Linear, WHAT)); // [B, F]
    return g.op('Add', [e, g.op('Mul', [e, g.op('Unsqueeze', [a, g.int64s([2])])])]);
  };

  return {
    towers: 1,
    forward(g) {
      const fields = fieldEmbeddings(g, embed, ALL_SOURCES, WHAT);
      const deep = deepPart(g, model, embed, fields && se(g, fields), WHAT);
      const wideModule = optionalModule(model, 'wide', LinearPart);
      return logits(g, [deep, wideModule ? linearPart(g, wideModule, ALL_SOURCES, WHAT) : null], g.weight(paramOf(model, 'bias', WHAT)), WHAT);
    },
    doc: `logit = MLP over the ${model.config.se === 'none' ? '' : `SE-weighted (${model.config.se}) `}field embeddings and dense features, w_out (+ wide) + bias`,
  };
}
