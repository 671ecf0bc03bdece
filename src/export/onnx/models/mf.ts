// MF as ONNX: each tower looks its id up in its own table (L2-normalised when `normalize`); with `biases` the reps
// are [e_u, b_u, 1] and [e_i, 1, b_i], so the score stays one dot product: logit = <u, v> / T + b.
// Shape letters: B batch, D embedding dim.
import { Embedding } from '../../../nn/index.js';
import type { FeatureInfo } from '../../../data/index.js';
import { Mf } from '../../../models/mf.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { idInput } from '../features.js';
import { l2Normalize, optionalModule, subModule } from '../layers.js';
import { scaledDot } from '../parts.js';
import { paramOf, type Rep, type TwoTowerOnnx } from '../declaration.js';

const WHAT = 'mf';

export function mfOnnx(model: RecModel): TwoTowerOnnx {
  if (!(model instanceof Mf)) throw new Error(`onnx export (${WHAT}): expected an MF model, got '${model.kind}'`);
  const c = model.config;
  const side = (f: FeatureInfo, table: string, bias: string, isUser: boolean) => (g: OnnxGraph): Rep => {
    const ids = idInput(g, f).name;
    const e = g.op('Gather', [g.weight(subModule(model, table, Embedding, WHAT).table), ids], { axis: 0 }); // [B, D]
    const b = optionalModule(model, bias, Embedding);
    if (!b) return { value: c.normalize ? l2Normalize(g, e) : e, width: c.embedDim };
    const own = g.op('Gather', [g.weight(b.table), ids], { axis: 0 }); // [B, 1]
    const one = g.op('Expand', [g.floats([1], [1, 1]), g.op('Shape', [own])]); // [B, 1]
    return { value: g.op('Concat', isUser ? [e, own, one] : [e, one, own], { axis: 1 }), width: c.embedDim + 2 };
  };
  return {
    towers: 2,
    user: side(model.userId, 'users', 'userBias', true),
    item: side(model.itemId, 'items', 'itemBias', false),
    score: (g, user, items) => scaledDot(g, user, items, c.temperature, g.weight(paramOf(model, 'bias', WHAT))),
    userDoc: `the user id's embedding${c.normalize ? ', L2-normalised' : ''}${c.biases ? ', then the user bias and 1' : ''}`,
    itemDoc: `the item id's embedding${c.normalize ? ', L2-normalised' : ''}${c.biases ? ', then 1 and the item bias' : ''}`,
    scoreDoc: `logit = <user_rep, item_rep> / ${c.temperature} + bias`,
  };
}
