// RankTower's per-pair score as one op: both directions of the gated cross-attention (a GAU each), LayerNorm, L2
// normalisation and max-sim for each (user row, item row) pair, forward and backward in one kernel each. Composed
// from bmm, softmax, linear, layerNorm and l2Normalize the same score wrote about thirty [pairs, heads, k] tensors
// a step and spent most of its time on tiny batched products; here a pair's intermediates stay in registers and
// cache, and the backward recomputes them instead of reading them back.
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { emptyLike, fail, requireFloat, requireRank, requireSameDtype } from './util.js';

/** The sizes of a GAU pair score: heads per side, sub-space size, query/key and value widths, LayerNorm eps. */
export interface GauDims {
  userHeads: number;
  itemHeads: number;
  headSize: number;
  attnDim: number;
  valueDim: number;
  eps: number;
}

/** Values a rep row holds for `heads` sub-spaces: [E | Q | U | K' | V'] (user) or [E | K | V | Q' | U'] (item). */
export const gauRepWidth = (heads: number, d: GauDims): number => heads * (d.headSize + 2 * d.attnDim + 2 * d.valueDim);

/** Values the packed weights hold: per branch (user->item, then item->user) [W_o (valueDim x k) | b_o | gamma | beta]. */
export const gauWeightsSize = (d: GauDims): number => 2 * (d.valueDim * d.headSize + 3 * d.headSize);

/**
 * userReps [P, Ru], itemReps [C, Ri], pairs (users[n], items[n]) -> [N]: the sum over user heads of the max over item
 * heads of the cosine of the attended sub-spaces (kernels/types.ts `gauMaxSim` has the formula). Gradients reach both
 * rep tables and the packed weights.
 */
export function gauMaxSim(userReps: Tensor, itemReps: Tensor, users: Int32Array, items: Int32Array, weights: Tensor, d: GauDims): Tensor {
  requireRank('gauMaxSim', 'userReps', userReps, 2);
  requireRank('gauMaxSim', 'itemReps', itemReps, 2);
  requireFloat('gauMaxSim', 'userReps', userReps);
  requireSameDtype('gauMaxSim', userReps, itemReps);
  requireSameDtype('gauMaxSim', userReps, weights);
  const [P, Ru] = userReps.shape;
  const [C, Ri] = itemReps.shape;
  const N = users.length;
  if (Ru !== gauRepWidth(d.userHeads, d) || Ri !== gauRepWidth(d.itemHeads, d)) {
    fail('gauMaxSim', `reps ${userReps.describe()} and ${itemReps.describe()} must have ${gauRepWidth(d.userHeads, d)} and ${gauRepWidth(d.itemHeads, d)} columns`);
  }
  if (weights.size !== gauWeightsSize(d)) fail('gauMaxSim', `weights ${weights.describe()} must hold ${gauWeightsSize(d)} values`);
  if (items.length !== N) fail('gauMaxSim', `${N} user indices and ${items.length} item indices`);
  for (let n = 0; n < N; n++) {
    if (!(users[n] >= 0 && users[n] < P) || !(items[n] >= 0 && items[n] < C)) fail('gauMaxSim', `pair ${n} is (${users[n]}, ${items[n]}), outside [0, ${P}) x [0, ${C})`);
  }
  const args = [d.userHeads, d.itemHeads, d.headSize, d.attnDim, d.valueDim, d.eps, P, C, N, users, items] as const;
  const out = emptyLike(userReps, [N]);
  kernelsFor(userReps, itemReps, weights).gauMaxSim(...args, userReps.f, itemReps.f, weights.f, out.f);
  return record('gauMaxSim', [userReps, itemReps, weights], out, (g) => {
    const du = emptyLike(userReps), di = emptyLike(itemReps), dw = emptyLike(weights);
    kernelsFor(g, userReps, itemReps, weights).gauMaxSimBackward(...args, userReps.f, itemReps.f, weights.f, g.f, du.f, di.f, dw.f);
    return [du, di, dw];
  });
}
