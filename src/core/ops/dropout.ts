// Inverted dropout with a seeded generator: kept values are scaled by 1/(1-p) in training; identity in eval.
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import type { Rng } from '../random.js';
import { emptyLike, fail, requireFloat } from './util.js';

export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  requireFloat('dropout', 'x', x);
  if (!(p >= 0 && p < 1)) fail('dropout', `p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const keepScale = 1 / (1 - p);
  const mask = emptyLike(x);
  const [md, xd] = [mask.f, x.f];
  const y = emptyLike(x);
  const yd = y.f;
  for (let i = 0; i < x.size; i++) {
    md[i] = rng.uniform() >= p ? keepScale : 0;
    yd[i] = xd[i] * md[i];
  }
  return record(`dropout(${p})`, [x], y, (g) => {
    const gx = emptyLike(x);
    const [gd, gxd] = [g.f, gx.f];
    for (let i = 0; i < x.size; i++) gxd[i] = gd[i] * md[i];
    return [gx];
  });
}
