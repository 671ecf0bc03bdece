// RankTower as ONNX, split as prerank serves it. Each tower: the Multi-Head Gated Network e = MLP(x) * sigmoid(gMLP(x))
// [B, H*k], then (with cross-attention) the projections of each sub-space that depend on this side alone: the user
// rep is [E_u | Q_u | U_u | K'_u | V'_u], the item rep [E_i | K_i | V_i | Q'_i | U'_i]. The scorer runs the per-pair
// part: both gated cross-attention branches LN(E_q + (U * softmax(Q K^T / sqrt d) V) W_o), then max-sim:
// logit = exp(logInvTau) * sum over user sub-spaces of the max cosine over item sub-spaces + b.
// Shape letters: B batch, N pairs, Hu/Hi sub-spaces, k sub-space size, d query/key width, v value width.
import { LayerNorm, Linear, Mlp } from '../../../nn/index.js';
import { RankTower } from '../../../models/rank-tower.js';
import { FieldEmbedder, ITEM_SIDE, USER_SIDE, type Source } from '../../../models/common/field-embedder.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { flatten, towerInput } from '../features.js';
import { l2Normalize, linear, mlp, optionalModule, subModule } from '../layers.js';
import { paramOf, type Rep, type TwoTowerOnnx } from '../declaration.js';

const WHAT = 'rank-tower';

interface Branch {
  q: Linear;
  u: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  ln: LayerNorm;
}

export function rankTowerOnnx(model: RecModel): TwoTowerOnnx {
  if (!(model instanceof RankTower)) throw new Error(`onnx export (${WHAT}): expected a RankTower model, got '${model.kind}'`);
  const c = model.config;
  const K = c.headSize, d = c.attnDim || K, v = c.valueDim || K;
  const embed = subModule(model, 'embed', FieldEmbedder, WHAT);
  const branch = (name: string): Branch | null => {
    if (!optionalModule(model, `${name}.ln`, LayerNorm)) return null;
    const l = (p: string) => subModule(model, `${name}.${p}`, Linear, WHAT);
    return { q: l('q'), u: l('u'), k: l('k'), v: l('v'), o: l('o'), ln: subModule(model, `${name}.ln`, LayerNorm, WHAT) };
  };
  const u2i = branch('userToItem'), i2u = branch('itemToUser');
  const cross = !!(u2i && i2u);
  /** Widths of a rep's parts per sub-space: [E, Q, U, K', V'] (user) or [E, K, V, Q', U'] (item). */
  const parts = cross ? [K, d, v, d, v] : [K];

  const side = (sources: readonly Source[], tower: string, H: number, isUser: boolean) => (g: OnnxGraph): Rep => {
    const t = towerInput(g, embed, sources, WHAT);
    const x = flatten(g, t.fields, t.dense, t.fieldCount * embed.dim);
    const value = mlp(g, x, subModule(model, `${tower}.mlp`, Mlp, WHAT)).at(-1)!;
    const gate = mlp(g, x, subModule(model, `${tower}.gate`, Mlp, WHAT)).at(-1)!;
    const e = g.op('Mul', [value, g.op('Sigmoid', [gate])]); // [B, H*k]
    if (!u2i || !i2u) return { value: e, width: H * K };
    const heads = g.op('Reshape', [e, g.int64s([0, H, K])]); // [B, H, k]
    const layers = isUser ? [u2i.q, u2i.u, i2u.k, i2u.v] : [u2i.k, u2i.v, i2u.q, i2u.u];
    const projs = layers.map((l) => g.op('Reshape', [linear(g, heads, l), g.int64s([0, H * l.outFeatures])])); // [B, H*w]
    return { value: g.op('Concat', [e, ...projs], { axis: 1 }), width: H * parts.reduce((a, b) => a + b, 0) };
  };

  /** rep [N or 1, H*sum(parts)] -> its parts, each [N or 1, H, w]. */
  const split = (g: OnnxGraph, rep: string, H: number): string[] => {
    const pieces = parts.length === 1 ? [rep] : g.opN('Split', [rep, g.int64s(parts.map((w) => H * w))], parts.length, { axis: 1 });
    return pieces.map((p) => g.op('Reshape', [p, g.int64s([0, H, -1])]));
  };

  /** One branch: E, Q, U of the query side [N or 1, Hq, .], K, V of the other [N or 1, Hkv, .] -> [N, Hq, k]. */
  const attend = (g: OnnxGraph, b: Branch, e: string, q: string, u: string, k: string, vv: string): string => {
    const logits = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 2, 1] })]), g.floats([1 / Math.sqrt(d)], [])]);
    const gated = g.op('Mul', [u, g.op('MatMul', [g.op('Softmax', [logits], { axis: -1 }), vv])]); // [N, Hq, v]
    const sum = g.op('Add', [e, linear(g, gated, b.o)]); // [N, Hq, k]
    return g.op('LayerNormalization', [sum, g.weight(b.ln.gamma), g.weight(b.ln.beta)], { axis: -1, epsilon: { float: b.ln.eps } });
  };

  return {
    towers: 2,
    user: side(USER_SIDE, 'user', c.userHeads, true),
    item: side(ITEM_SIDE, 'item', c.itemHeads, false),
    score(g, user, items) {
      const [eu, ...pu] = split(g, user, c.userHeads);
      const [ei, ...pi] = split(g, items, c.itemHeads);
      let au = eu, ai = ei;
      if (u2i && i2u) {
        const [qu, uu, ku, vu] = pu;
        const [ki, vi, qi, ui] = pi;
        au = attend(g, u2i, eu, qu, uu, ki, vi);
        ai = attend(g, i2u, ei, qi, ui, ku, vu);
      }
      const cos = g.op('MatMul', [l2Normalize(g, au), g.op('Transpose', [l2Normalize(g, ai)], { perm: [0, 2, 1] })]); // [N, Hu, Hi]
      const s = g.op('ReduceSum', [g.op('ReduceMax', [cos], { axes: [2], keepdims: 0 }), g.int64s([1])], { keepdims: 0 }); // [N]
      return g.op('Add', [g.op('Mul', [s, g.op('Exp', [g.weight(paramOf(model, 'logInvTau', WHAT))])]), g.weight(paramOf(model, 'bias', WHAT))]);
    },
    userDoc: cross
      ? `E_u [${c.userHeads} x ${K}], Q_u [${c.userHeads} x ${d}], U_u [${c.userHeads} x ${v}], K'_u [${c.userHeads} x ${d}], V'_u [${c.userHeads} x ${v}], each flattened, one after the other`
      : `the ${c.userHeads} gated user sub-spaces of ${K}`,
    itemDoc: cross
      ? `E_i [${c.itemHeads} x ${K}], K_i [${c.itemHeads} x ${d}], V_i [${c.itemHeads} x ${v}], Q'_i [${c.itemHeads} x ${d}], U'_i [${c.itemHeads} x ${v}], each flattened, one after the other`
      : `the ${c.itemHeads} gated item sub-spaces of ${K}`,
    scoreDoc: `logit = exp(logInvTau) * sum over user sub-spaces of the max over item sub-spaces of the cosine${cross ? ' of the gated cross-attention outputs' : ''} + bias`,
  };
}
