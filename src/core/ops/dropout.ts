// Inverted dropout: kept values are scaled by 1/(1-p) in training; identity in eval. The mask comes from a
// counter-based hash of (seed, index) with one seed drawn from `rng` per call, so runs are reproducible.
import type { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import type { Rng } from '../random.js';
import { emptyLike, fail, requireFloat } from './util.js';

export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  requireFloat('dropout', 'x', x);
  if (!(p >= 0 && p < 1)) fail('dropout', `p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = emptyLike(x);
  const y = emptyLike(x);
  kernelsFor(x).dropout(x.size, p, rng.nextU32(), x.f, y.f, mask.f);
  return record(`dropout(${p})`, [x], y, (g) => {
    const gx = emptyLike(x);
    kernelsFor(g, mask).mul(x.size, g.f, mask.f, gx.f);
    return [gx];
  });
}
