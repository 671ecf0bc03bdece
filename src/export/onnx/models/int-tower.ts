// IntTower as ONNX: Light-SE on each side's field embeddings, the tower MLPs, the FE-Block heads (every tapped user
// layer projected to H heads of size P, the item's last layer to H heads; each head L2-normalised when the model
// does), and the FE-Block max-sim scorer: logit = (sum over layers and user heads of max over item heads of <u, v>) / T + b.
// Shape letters: B batch, N items, F fields, D embedding dim, L tapped user layers, H heads, P head size.
import { Linear, Mlp } from '../../../nn/index.js';
import type { RecModel } from '../../../models/types.js';
import { IntTower } from '../../../models/int-tower.js';
import { FieldEmbedder, ITEM_SIDE, USER_SIDE, type Source } from '../../../models/common/field-embedder.js';
import type { OnnxGraph } from '../graph.js';
import { flatten, towerInput } from '../features.js';
import { linear, mlp, normalizeHeads, optionalModule, subModule } from '../layers.js';
import { paramOf, type TwoTowerOnnx } from '../declaration.js';
import { temperedLogit } from '../parts.js';

const WHAT = 'int-tower';

export function intTowerOnnx(model: RecModel): TwoTowerOnnx {
  if (!(model instanceof IntTower)) throw new Error(`onnx export (${WHAT}): expected an IntTower model, got '${model.kind}'`);
  const c = model.config;
  const H = model.heads;
  const P = c.headSize;
  const embed = subModule(model, 'embed', FieldEmbedder, WHAT);
  const heads = (g: OnnxGraph, x: string, proj: Linear): string => {
    const h = linear(g, x, proj); // [B, H*P]
    return c.normalizeHeads ? normalizeHeads(g, h, H, P) : h;
  };

  /** Light-SE over e [B, F, D]: e * softmax(mean_D(e) W + b) per field, or e + that ('residual'). */
  const lightSe = (g: OnnxGraph, e: string, se: string): string => {
    const fc = optionalModule(model, `${se}.fc`, Linear);
    if (!fc) return e;
    const z = g.op('ReduceMean', [e], { axes: [2], keepdims: 0 }); // [B, F]
    const k = g.op('Softmax', [linear(g, z, fc)], { axis: -1 });
    const reweighted = g.op('Mul', [e, g.op('Unsqueeze', [k, g.int64s([2])])]);
    return c.lightSe === 'residual' ? g.op('Add', [e, reweighted]) : reweighted;
  };

  const input = (g: OnnxGraph, sources: readonly Source[], se: string): string => {
    const t = towerInput(g, embed, sources, WHAT);
    return flatten(g, t.fields && lightSe(g, t.fields, se), t.dense, t.fieldCount * embed.dim);
  };

  return {
    towers: 2,
    user(g) {
      const x = input(g, USER_SIDE, 'userSe');
      const net = optionalModule(model, 'user', Mlp);
      const outs = net ? mlp(g, x, net) : [];
      const taps = c.taps === 'output' ? outs : c.taps === 'input' ? [x, ...outs] : [outs[outs.length - 1]];
      const reps = taps.map((t, i) => heads(g, t, subModule(model, `userHead${i}`, Linear, WHAT))); // L x [B, H*P]
      return { value: reps.length === 1 ? reps[0] : g.op('Concat', reps, { axis: 1 }), width: taps.length * H * P };
    },
    item(g) {
      const outs = mlp(g, input(g, ITEM_SIDE, 'itemSe'), subModule(model, 'item', Mlp, WHAT));
      return { value: heads(g, outs[outs.length - 1], subModule(model, 'itemHead', Linear, WHAT)), width: H * P };
    },
    score(g, user, items) {
      const u = g.op('Reshape', [user, g.int64s([0, -1, P])]); // [N or 1, L*H, P]
      const v = g.op('Transpose', [g.op('Reshape', [items, g.int64s([0, H, P])])], { perm: [0, 2, 1] }); // [N, P, H]
      const sim = g.op('MatMul', [u, v]); // [N, L*H, H]
      const best = g.op('ReduceMax', [sim], { axes: [2], keepdims: 0 }); // [N, L*H]
      const sum = g.op('ReduceSum', [best, g.int64s([1])], { keepdims: 0 }); // [N]
      return temperedLogit(g, sum, c.temperature, g.weight(paramOf(model, 'bias', WHAT)));
    },
    userDoc: `the FE-Block user heads: ${c.taps === 'last' ? 1 : 'L'} tapped layer(s) x ${H} heads x ${P}, layer by layer${c.normalizeHeads ? ', each head L2-normalised' : ''}`,
    itemDoc: `the item heads: ${H} heads x ${P}${c.normalizeHeads ? ', each L2-normalised' : ''}`,
    scoreDoc: `logit = sum over user heads of the max over item heads of <u, v>${c.temperature === 1 ? '' : ` / ${c.temperature}`} + bias (FE-Block max-sim)`,
  };
}
