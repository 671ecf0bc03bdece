// Embedding lookups: gather rows by id (scatter-add gradient, or a lazy row gradient for sparse tables) and masked
// pooling over variable-length id lists.
import { Tensor } from '../tensor.js';
import { record, SPARSE_HANDLED } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { emptyLike, fail, requireFloat, requireRank } from './util.js';

/** table [V, D], ids int32 [...] -> [..., D]. Ids outside [0, V) throw. */
export function gather(table: Tensor, ids: Tensor): Tensor {
  requireRank('gather', 'table', table, 2);
  requireFloat('gather', 'table', table);
  if (ids.dtype !== 'int32') fail('gather', `ids ${ids.describe()} must be int32`);
  const [V, D] = table.shape;
  const idd = ids.data as Int32Array;
  const n = ids.size;
  const out = emptyLike(table, [...ids.shape, D]);
  kernelsFor(table).gatherRows(V, D, table.f, idd.length === n ? idd : idd.subarray(0, n), out.f);
  return record('gather', [table], out, (g) => {
    const ids32 = idd.subarray(0, n);
    if (table.sparse && table.node === null) {
      const sg = (table.sparseGrad ??= { ids: [], rows: [] });
      sg.ids.push(ids32.slice());
      sg.rows.push(Float32Array.from(g.f.subarray(0, n * D)));
      return [SPARSE_HANDLED];
    }
    const gt = emptyLike(table, table.shape, true);
    kernelsFor(gt, g).scatterAddRows(V, D, gt.f, ids32, g.f);
    return [gt];
  });
}

export type PoolMode = 'sum' | 'mean';

/**
 * Pools x [B, L, D] over L where mask [B, L] is non-zero: sum, or mean over the valid positions (an all-padding row
 * gives zeros). mask is a float tensor of 0/1 (weights other than 0/1 act as weights in 'sum').
 */
export function maskedPool(x: Tensor, mask: Tensor, mode: PoolMode): Tensor {
  requireRank('maskedPool', 'x', x, 3);
  requireFloat('maskedPool', 'x', x);
  const [B, L, D] = x.shape;
  if (mask.size !== B * L) fail('maskedPool', `mask ${mask.describe()} must have ${B}x${L} elements`);
  const md = mask.data;
  const scale = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let l = 0; l < L; l++) count += md[b * L + l] !== 0 ? 1 : 0;
    scale[b] = mode === 'mean' ? (count > 0 ? 1 / count : 0) : 1;
  }
  const out = emptyLike(x, [B, D], true);
  const [xd, od] = [x.f, out.f];
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      const w = md[b * L + l] * scale[b];
      if (w === 0) continue;
      for (let d = 0; d < D; d++) od[b * D + d] += w * xd[(b * L + l) * D + d];
    }
  }
  return record(`maskedPool(${mode})`, [x], out, (g) => {
    const gx = emptyLike(x);
    const [gd, gxd] = [g.f, gx.f];
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        const w = md[b * L + l] * scale[b];
        for (let d = 0; d < D; d++) gxd[(b * L + l) * D + d] = w * gd[b * D + d];
      }
    }
    return [gx];
  });
}
