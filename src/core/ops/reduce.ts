// Reductions over one axis (sum, mean, max with its arg-max gradient), over everything, and the row-wise dot
// product that two-tower scoring uses.
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { around, axisOf, emptyLike, fail, requireFloat, requireSameShape } from './util.js';

function reducedShape(t: Tensor, axis: number, keepDim: boolean): number[] {
  const s = [...t.shape];
  if (keepDim) s[axis] = 1;
  else s.splice(axis, 1);
  return s;
}

function sumOrMean(op: 'sum' | 'mean', x: Tensor, axisArg: number, keepDim: boolean): Tensor {
  requireFloat(op, 'x', x);
  const axis = axisOf(op, x, axisArg);
  const [outer, n, inner] = around(x.shape, axis);
  const out = emptyLike(x, reducedShape(x, axis, keepDim), true);
  const [xd, od] = [x.f, out.f];
  const k = op === 'mean' ? 1 / n : 1;
  if (inner === 1) return lastAxisSum(op, axis, x, out, outer, n, k);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const base = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) od[o * inner + i] += xd[base + i];
    }
  }
  if (k !== 1) for (let i = 0; i < od.length && i < out.size; i++) od[i] *= k;
  return record(`${op}(${axis})`, [x], out, (g) => {
    const gx = emptyLike(x);
    const [gd, gxd] = [g.f, gx.f];
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < n; j++) {
        const base = (o * n + j) * inner;
        for (let i = 0; i < inner; i++) gxd[base + i] = gd[o * inner + i] * k;
      }
    }
    return [gx];
  });
}

/** sum/mean over the last axis: plain row loops both ways. */
function lastAxisSum(op: string, axis: number, x: Tensor, out: Tensor, rows: number, n: number, k: number): Tensor {
  const [xd, od] = [x.f, out.f];
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let j = 0; j < n; j++) acc += xd[r * n + j];
    od[r] = acc * k;
  }
  return record(`${op}(${axis})`, [x], out, (g) => {
    const gx = emptyLike(x);
    const [gd, gxd] = [g.f, gx.f];
    for (let r = 0; r < rows; r++) {
      const v = gd[r] * k;
      for (let j = 0; j < n; j++) gxd[r * n + j] = v;
    }
    return [gx];
  });
}

export const sum = (x: Tensor, axis: number, keepDim = false): Tensor => sumOrMean('sum', x, axis, keepDim);
export const mean = (x: Tensor, axis: number, keepDim = false): Tensor => sumOrMean('mean', x, axis, keepDim);

/** Max over an axis; the gradient goes to the first arg-max (deterministic tie-break). */
export function max(x: Tensor, axisArg: number, keepDim = false): Tensor {
  requireFloat('max', 'x', x);
  const axis = axisOf('max', x, axisArg);
  const [outer, n, inner] = around(x.shape, axis);
  if (n === 0) fail('max', `axis ${axis} of ${x.describe()} is empty`);
  const out = emptyLike(x, reducedShape(x, axis, keepDim));
  const arg = new Int32Array(outer * inner);
  const [xd, od] = [x.f, out.f];
  if (inner === 1) {
    // The last axis (attention heads, max-sim): the same rule as below, in a flat loop.
    for (let o = 0; o < outer; o++) {
      let best = 0;
      let bv = xd[o * n];
      for (let j = 1; j < n; j++) {
        const v = xd[o * n + j];
        if (v > bv || (v !== v && bv === bv)) {
          bv = v;
          best = j;
        }
      }
      od[o] = bv;
      arg[o] = best;
    }
  } else for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      let bv = xd[o * n * inner + i];
      for (let j = 1; j < n; j++) {
        const v = xd[(o * n + j) * inner + i];
        if (v > bv || (v !== v && bv === bv)) {
          bv = v;
          best = j;
        }
      }
      od[o * inner + i] = bv;
      arg[o * inner + i] = best;
    }
  }
  return record(`max(${axis})`, [x], out, (g) => {
    const gx = emptyLike(x, x.shape, true);
    const [gd, gxd] = [g.f, gx.f];
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) gxd[(o * n + arg[o * inner + i]) * inner + i] = gd[o * inner + i];
    }
    return [gx];
  });
}

function allReduce(op: 'sumAll' | 'meanAll', x: Tensor): Tensor {
  requireFloat(op, 'x', x);
  const xd = x.f;
  let s = 0;
  for (let i = 0; i < x.size; i++) s += xd[i];
  const k = op === 'meanAll' ? 1 / x.size : 1;
  const out = emptyLike(x, []);
  out.f[0] = s * k;
  return record(op, [x], out, (g) => {
    const gx = emptyLike(x);
    gx.f.fill(g.f[0] * k, 0, x.size);
    return [gx];
  });
}

export const sumAll = (x: Tensor): Tensor => allReduce('sumAll', x);
export const meanAll = (x: Tensor): Tensor => allReduce('meanAll', x);

/** Row-wise dot product over the last axis: [R, C] . [R, C] -> [R]. */
export function rowDot(a: Tensor, b: Tensor): Tensor {
  requireFloat('rowDot', 'a', a);
  requireSameShape('rowDot', a, b);
  const [R, C] = [a.rows, a.cols];
  const out = emptyLike(a, a.shape.slice(0, -1));
  kernelsFor(a, b).rowDot(R, C, a.f, b.f, out.f);
  return record('rowDot', [a, b], out, (g, needs) => {
    const grad = (other: Tensor): Tensor => {
      const t = emptyLike(a);
      kernelsFor(g, other).rowScale(R, C, g.f, other.f, t.f);
      return t;
    };
    return [needs[0] ? grad(b) : null, needs[1] ? grad(a) : null];
  });
}

/**
 * Max-sim over groups: x [A, N*G] -> [N], out[n] = sum_a max_g x[a, n*G + g] (IntTower's FE-Block score for one
 * user's A = L*H heads against N items of G heads each, from one GEMM). Gradient to the first arg-max.
 */
export function groupMaxSum(x: Tensor, groups: number): Tensor {
  requireFloat('groupMaxSum', 'x', x);
  if (x.rank !== 2 || x.shape[1] % groups !== 0) fail('groupMaxSum', `x ${x.describe()} must be [A, N*${groups}]`);
  const [A, NG] = x.shape;
  const N = NG / groups;
  const out = emptyLike(x, [N]);
  const arg = new Int32Array(A * N);
  kernelsFor(x).groupMaxSum(A, N, groups, x.f, out.f, arg);
  return record('groupMaxSum', [x], out, (g) => {
    const gx = emptyLike(x, x.shape, true);
    const [gd, gxd] = [g.f, gx.f];
    for (let a = 0; a < A; a++) for (let n = 0; n < N; n++) gxd[a * NG + n * groups + arg[a * N + n]] += gd[n];
    return [gx];
  });
}
