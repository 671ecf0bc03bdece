// Statistics of a two-tower model's reps that CS3 (this project's interpretation) trains and aligns with: the widths
// of the user and item reps, the mean of row-normalised reps, and the alignment of two rep distributions.
// Shape letters: B batch, U/I user/item rep widths, W a rep's width.
import type { Tensor } from '../../core/tensor.js';
import { noGrad } from '../../core/tape.js';
import { scope } from '../../core/scope.js';
import * as ops from '../../core/ops/index.js';
import { allocBatch } from '../../data/batch.js';
import type { ModelContext, RecModel } from '../types.js';

/** Alignment of the row-normalised reps u [B, U] (its last I columns) and v [B, I]: mean gap^2 + second-moment gap^2. */
export function alignment(user: Tensor, item: Tensor): Tensor {
  const [B, U] = user.shape;
  const I = item.shape[1];
  const u = ops.l2Normalize(U === I ? user : ops.split(user, [U - I, I], 1)[1]); // [B, I]
  const v = ops.l2Normalize(item);
  const dm = ops.sub(ops.mean(u, 0), ops.mean(v, 0)); // [I]
  const dc = ops.scale(ops.sub(ops.matmul(u, u, { transA: true }), ops.matmul(v, v, { transA: true })), 1 / B); // [I, I]
  return ops.add(ops.sumAll(ops.mul(dm, dm)), ops.sumAll(ops.mul(dc, dc)));
}

/** mean over rows of r_b / ||r_b|| ([B, W] -> [W]), in float64, no tape. */
export function meanNormalizedRow(r: Tensor): Float64Array {
  const [B, W] = r.shape;
  const d = r.f;
  const m = new Float64Array(W);
  for (let b = 0; b < B; b++) {
    let ss = 0;
    for (let j = 0; j < W; j++) ss += d[b * W + j] ** 2;
    const k = 1 / Math.max(Math.sqrt(ss), 1e-12) / B;
    for (let j = 0; j < W; j++) m[j] += d[b * W + j] * k;
  }
  return m;
}

/** User and item rep widths, from encoding one all-padding row in eval mode (the model's mode is restored). */
export function repWidths(base: RecModel, ctx: ModelContext): { user: number; item: number } {
  const was = base.training;
  base.eval();
  try {
    const b = allocBatch(ctx.features, 1);
    return noGrad(() => scope(() => ({ user: base.encodeUser!(b).shape[1], item: base.encodeItem!(b).shape[1] })));
  } finally {
    base.train(was);
  }
}
