// AutoInt as ONNX (model.onnx): interacting layers (multi-head self-attention over the fields, residual projection,
// ReLU), then [flattened last layer, deep MLP or dense features] w_out (+ wide) + b.
// Shape letters: B batch, F fields, D embedding dim, H heads, P head size.
import { Linear, Mlp } from '../../../nn/index.js';
import { ALL_SOURCES, FieldEmbedder } from '../../../models/common/field-embedder.js';
import { LinearPart } from '../../../models/common/layers.js';
import { AutoInt } from '../../../models/autoint.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { denseBlock, fieldEmbeddings, flatten } from '../features.js';
import { linear, mlp, optionalModule, subModule } from '../layers.js';
import { linearPart, logits } from '../parts.js';
import { paramOf, type SingleTowerOnnx } from '../declaration.js';

const WHAT = 'autoint';

export function autoIntOnnx(model: RecModel): SingleTowerOnnx {
  if (!(model instanceof AutoInt)) throw new Error(`onnx export (${WHAT}): expected an AutoInt model, got '${model.kind}'`);
  const c = model.config;
  const embed = subModule(model, 'embed', FieldEmbedder, WHAT);
  const F = embed.fieldsOf(ALL_SOURCES).length;
  const H = c.heads, P = c.headSize;

  /** Interacting layer l: x [B, F, Din] -> [B, F, H*P]. */
  const interacting = (g: OnnxGraph, x: string, l: number, din: number): string => {
    const x2 = g.op('Reshape', [x, g.int64s([-1, din])]); // [B*F, Din]
    const qkv = linear(g, x2, subModule(model, `att${l}.qkv`, Linear, WHAT)); // [B*F, 3*H*P]: q heads, k heads, v heads
    const heads = g.op('Transpose', [g.op('Reshape', [qkv, g.int64s([-1, F, 3 * H, P])])], { perm: [0, 2, 1, 3] }); // [B, 3H, F, P]
    const [q, k, v] = g.opN('Split', [heads, g.int64s([H, H, H])], 3, { axis: 1 }); // [B, H, F, P] each
    let att = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]); // [B, H, F, F]
    if (c.scaled) att = g.op('Mul', [att, g.floats([1 / Math.sqrt(P)], [])]);
    const out = g.op('MatMul', [g.op('Softmax', [att], { axis: -1 }), v]); // [B, H, F, P]
    let y = g.op('Reshape', [g.op('Transpose', [out], { perm: [0, 2, 1, 3] }), g.int64s([-1, F, H * P])]); // [B, F, H*P]
    const res = optionalModule(model, `att${l}.res`, Linear);
    if (res) y = g.op('Add', [y, g.op('Reshape', [linear(g, x2, res), g.int64s([-1, F, H * P])])]);
    return g.op('Relu', [y]);
  };

  return {
    towers: 1,
    forward(g) {
      const fields = fieldEmbeddings(g, embed, ALL_SOURCES, WHAT)!;
      let h = fields, width = embed.dim;
      for (let l = 0; l < c.attentionLayers; l++) {
        h = interacting(g, h, l, width);
        width = H * P;
      }
      const parts = [g.op('Reshape', [h, g.int64s([-1, F * width])])];
      const dense = denseBlock(g, embed, ALL_SOURCES);
      const dnn = optionalModule(model, 'dnn', Mlp);
      if (dnn) {
        const outs = mlp(g, flatten(g, fields, dense, F * embed.dim), dnn);
        parts.push(outs[outs.length - 1]);
      } else if (dense) parts.push(dense);
      const head = linear(g, parts.length === 1 ? parts[0] : g.op('Concat', parts, { axis: 1 }), subModule(model, 'out', Linear, WHAT));
      const wideModule = optionalModule(model, 'wide', LinearPart);
      return logits(g, [head, wideModule ? linearPart(g, wideModule, ALL_SOURCES, WHAT) : null], g.weight(paramOf(model, 'bias', WHAT)), WHAT);
    },
    doc: 'logit = [interacting layers over the fields, deep MLP] w_out (+ wide) + bias',
  };
}
