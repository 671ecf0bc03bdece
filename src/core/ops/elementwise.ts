// Element-wise ops. Binary ops broadcast NumPy-style (trailing axes aligned, size-1 axes stretched); their
// gradients are summed back to each input's shape.
import { Tensor, shapeStr, type Shape } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { ACT, type ActName, type FArr } from '../kernels/types.js';
import { emptyLike, fail, requireFloat, requireSameDtype, sameShape } from './util.js';

export function broadcastShape(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) fail(op, `shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element strides of `shape` when read as `out` (0 along broadcast axes). */
function broadcastStrides(shape: Shape, out: Shape): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = out.length - shape.length + i;
    strides[j] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Calls row(o, ia, ib) for each innermost row of the broadcast output: the row's elements are o + j (output),
 * ia + j * sa[last] (a) and ib + j * sb[last] (b) for j < out[last] (a scalar output is one row of one element).
 * One call per row, so the per-element work stays in the caller's own loop (a per-element callback cost ~40 ns).
 */
function forEachBroadcastRow(out: Shape, sa: number[], sb: number[], row: (o: number, ia: number, ib: number) => void): void {
  const n = out.length;
  const total = out.reduce((p, d) => p * d, 1);
  if (n === 0) {
    if (total) row(0, 0, 0);
    return;
  }
  const idx = new Array<number>(n).fill(0);
  let ia = 0;
  let ib = 0;
  const last = n - 1;
  const inner = out[last];
  for (let o = 0; o < total; o += inner) {
    row(o, ia, ib);
    // advance the multi-index over the outer axes
    for (let ax = last - 1; ax >= 0; ax--) {
      idx[ax]++;
      ia += sa[ax];
      ib += sb[ax];
      if (idx[ax] < out[ax]) break;
      ia -= sa[ax] * out[ax];
      ib -= sb[ax] * out[ax];
      idx[ax] = 0;
    }
  }
}

/** Sums g (shaped `from`) down to `to` (a broadcast source shape). */
export function sumToShape(g: Tensor, to: Shape): Tensor {
  if (sameShape(g.shape, to)) return g.clone();
  const out = emptyLike(g, to, true);
  const so = broadcastStrides(to, g.shape);
  const gd = g.f;
  const od = out.f;
  const inner = g.shape.length ? g.shape[g.shape.length - 1] : 1;
  const step = g.shape.length ? so[so.length - 1] : 0;
  forEachBroadcastRow(g.shape, so, so, (o, io) => {
    for (let j = 0; j < inner; j++) od[io + j * step] += gd[o + j];
  });
  return out;
}

type BinaryCode = 0 | 1 | 2 | 3; // add, sub, mul, div

/**
 * How b is read when a already has the output shape: element by element, one value per row (b is a's shape with
 * a trailing 1), or one value per column (b is a vector over the last axis). Null: the general strided path.
 */
function fastPattern(a: Shape, b: Shape, out: Shape): 'same' | 'row' | 'col' | null {
  if (!sameShape(a, out)) return null;
  if (sameShape(b, out)) return 'same';
  const n = out.length;
  const padded = [...new Array<number>(n - b.length).fill(1), ...b];
  if (padded[n - 1] === 1 && padded.slice(0, -1).every((d, i) => d === out[i])) return 'row';
  if (padded[n - 1] === out[n - 1] && padded.slice(0, -1).every((d) => d === 1)) return 'col';
  return null;
}

/** The fast paths as plain loops, one per op and pattern, so the JIT sees only arithmetic. */
function fastForward(code: BinaryCode, pattern: 'same' | 'row' | 'col', C: number, a: FArr, b: FArr, o: FArr, n: number): void {
  const rows = n / C;
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    if (pattern === 'row') {
      const v = b[r];
      if (code === 0) for (let c = 0; c < C; c++) o[base + c] = a[base + c] + v;
      else if (code === 1) for (let c = 0; c < C; c++) o[base + c] = a[base + c] - v;
      else if (code === 2) for (let c = 0; c < C; c++) o[base + c] = a[base + c] * v;
      else for (let c = 0; c < C; c++) o[base + c] = a[base + c] / v;
    } else {
      const bb = pattern === 'same' ? base : 0;
      if (code === 0) for (let c = 0; c < C; c++) o[base + c] = a[base + c] + b[bb + c];
      else if (code === 1) for (let c = 0; c < C; c++) o[base + c] = a[base + c] - b[bb + c];
      else if (code === 2) for (let c = 0; c < C; c++) o[base + c] = a[base + c] * b[bb + c];
      else for (let c = 0; c < C; c++) o[base + c] = a[base + c] / b[bb + c];
    }
  }
}

/** Gradients for the fast paths: ga[i] (overwritten) and gb[j] (accumulated into a zeroed buffer). */
function fastBackward(code: BinaryCode, pattern: 'same' | 'row' | 'col', C: number, a: FArr, b: FArr, g: FArr, ga: FArr | null, gb: FArr | null, n: number): void {
  const rows = n / C;
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    const bb = pattern === 'same' ? base : 0;
    for (let c = 0; c < C; c++) {
      const i = base + c;
      const j = pattern === 'row' ? r : bb + c;
      const gi = g[i];
      const bv = b[j];
      if (ga) ga[i] = code < 2 ? gi : code === 2 ? gi * bv : gi / bv;
      if (gb) gb[j] += code === 0 ? gi : code === 1 ? -gi : code === 2 ? gi * a[i] : (-gi * a[i]) / (bv * bv);
    }
  }
}

/** a * b where b holds one value per row of a (e.g. attention weights over fields): the row kernels both ways. */
function rowScaleOp(op: string, a: Tensor, b: Tensor, out: Tensor, cols: number): Tensor {
  const rows = a.size / cols;
  kernelsFor(a, b).rowScale(rows, cols, b.f, a.f, out.f);
  return record(op, [a, b], out, (g, needs) => {
    const k = kernelsFor(g, a, b);
    const ga = needs[0] ? emptyLike(a) : null;
    const gb = needs[1] ? emptyLike(b) : null;
    if (ga) k.rowScale(rows, cols, b.f, g.f, ga.f);
    if (gb) k.rowDot(rows, cols, g.f, a.f, gb.f);
    return [ga, gb];
  });
}

/** a + b, a - b, a * b of equal shapes through the kernels (native: vectorised, threaded): a copy and axpy, or mul. */
function sameShapeOp(op: string, code: 0 | 1 | 2, a: Tensor, b: Tensor, out: Tensor): Tensor {
  const n = out.size;
  const k = kernelsFor(a, b);
  if (code === 2) k.mul(n, a.f, b.f, out.f);
  else {
    out.f.set(a.f);
    k.axpy(n, code === 0 ? 1 : -1, b.f, out.f);
  }
  return record(op, [a, b], out, (g, needs) => {
    const kg = kernelsFor(g, a, b);
    const ga = needs[0] ? emptyLike(a) : null;
    const gb = needs[1] ? emptyLike(b, b.shape, code === 1) : null;
    if (code === 2) {
      if (ga) kg.mul(n, g.f, b.f, ga.f);
      if (gb) kg.mul(n, g.f, a.f, gb.f);
    } else {
      if (ga) ga.f.set(g.f);
      if (gb && code === 0) gb.f.set(g.f);
      else if (gb) kg.axpy(n, -1, g.f, gb.f);
    }
    return [ga, gb];
  });
}

function binary(op: string, code: BinaryCode, a: Tensor, b: Tensor): Tensor {
  requireFloat(op, 'a', a);
  requireFloat(op, 'b', b);
  requireSameDtype(op, a, b);
  const shape = broadcastShape(op, a.shape, b.shape);
  const out = emptyLike(a, shape);
  const [ad, bd, od] = [a.f, b.f, out.f];
  const pattern = fastPattern(a.shape, b.shape, shape);
  const cols = shape.length ? shape[shape.length - 1] : 1;
  if (pattern === 'row' && code === 2) return rowScaleOp(op, a, b, out, cols);
  if (pattern === 'same' && code !== 3) return sameShapeOp(op, code, a, b, out);
  if (pattern) {
    fastForward(code, pattern, cols, ad, bd, od, out.size);
    return record(op, [a, b], out, (g, needs) => {
      const ga = needs[0] ? emptyLike(a) : null;
      const gb = needs[1] ? emptyLike(b, b.shape, true) : null;
      if (code < 2 && pattern === 'col') {
        // a bias added or subtracted: d/da is g itself, d/db the column sums of ±g (the kernel: 4-9x the JS loop)
        if (ga) ga.f.set(g.f);
        if (gb) {
          kernelsFor(g, b).colSum(out.size / cols, cols, g.f, gb.f, false);
          if (code === 1) for (let c = 0; c < cols; c++) gb.f[c] = -gb.f[c];
        }
      } else fastBackward(code, pattern, cols, ad, bd, g.f, ga ? ga.f : null, gb ? gb.f : null, out.size);
      return [ga, gb];
    });
  }
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const last = shape.length - 1;
  const C = last >= 0 ? shape[last] : 1;
  const [xa, xb] = last >= 0 ? [sa[last], sb[last]] : [0, 0];
  forEachBroadcastRow(shape, sa, sb, (o, ia, ib) => {
    if (code === 0) for (let j = 0; j < C; j++) od[o + j] = ad[ia + j * xa] + bd[ib + j * xb];
    else if (code === 1) for (let j = 0; j < C; j++) od[o + j] = ad[ia + j * xa] - bd[ib + j * xb];
    else if (code === 2) for (let j = 0; j < C; j++) od[o + j] = ad[ia + j * xa] * bd[ib + j * xb];
    else for (let j = 0; j < C; j++) od[o + j] = ad[ia + j * xa] / bd[ib + j * xb];
  });
  return record(op, [a, b], out, (g, needs) => {
    const gd = g.f;
    const ga = needs[0] ? emptyLike(a, a.shape, true) : null;
    const gb = needs[1] ? emptyLike(b, b.shape, true) : null;
    const [gad, gbd] = [ga ? ga.f : null, gb ? gb.f : null];
    // Accumulated: broadcast axes sum their gradients.
    forEachBroadcastRow(shape, sa, sb, (o, ia, ib) => {
      for (let j = 0; j < C; j++) {
        const i = ia + j * xa, k = ib + j * xb, gv = gd[o + j];
        if (gad) gad[i] += code < 2 ? gv : code === 2 ? gv * bd[k] : gv / bd[k];
        if (gbd) gbd[k] += code === 0 ? gv : code === 1 ? -gv : code === 2 ? gv * ad[i] : (-gv * ad[i]) / (bd[k] * bd[k]);
      }
    });
    return [ga, gb];
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', 0, a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', 1, a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', 2, a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', 3, a, b);

/** Element-wise unary op: y = f(x), dy/dx = d(x, y). (Per-element closures: fine off the hot path.) */
function unary(op: string, x: Tensor, f: (x: number) => number, d: (x: number, y: number) => number): Tensor {
  requireFloat(op, 'x', x);
  const out = emptyLike(x);
  const [xd, yd] = [x.f, out.f];
  for (let i = 0; i < xd.length && i < out.size; i++) yd[i] = f(xd[i]);
  return record(op, [x], out, (g) => {
    const gx = emptyLike(x);
    const [gd, gxd] = [g.f, gx.f];
    for (let i = 0; i < gx.size; i++) gxd[i] = gd[i] * d(xd[i], yd[i]);
    return [gx];
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', x, (v) => -v, () => -1);
export const exp = (x: Tensor): Tensor => unary('exp', x, Math.exp, (_v, y) => y);
export const log = (x: Tensor): Tensor => unary('log', x, Math.log, (v) => 1 / v);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, Math.sqrt, (_v, y) => 0.5 / y);
export const abs = (x: Tensor): Tensor => unary('abs', x, Math.abs, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
export const pow = (x: Tensor, p: number): Tensor => unary(`pow(${p})`, x, (v) => v ** p, (v) => p * v ** (p - 1));
/** x * s, on the axpy kernel (scale appears on hot paths: temperatures, logit scales). */
export function scale(x: Tensor, s: number): Tensor {
  requireFloat('scale', 'x', x);
  const y = emptyLike(x, x.shape, true);
  kernelsFor(x).axpy(x.size, s, x.f, y.f);
  return record(`scale(${s})`, [x], y, (g) => {
    const gx = emptyLike(x, x.shape, true);
    kernelsFor(g).axpy(x.size, s, g.f, gx.f);
    return [gx];
  });
}
export const addScalar = (x: Tensor, s: number): Tensor => unary(`addScalar(${s})`, x, (v) => v + s, () => 1);

/** Clamps to [min, max]; the gradient passes only where the input was inside (PyTorch's convention at the edges). */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) fail('clamp', `min ${min} > max ${max}`);
  return unary('clamp', x, (v) => (v < min ? min : v > max ? max : v), (v) => (v >= min && v <= max ? 1 : 0));
}

/** Row-wise activation over the last axis, on the fused kernels (prelu takes a slope [cols] or [1]). */
export function activation(x: Tensor, act: ActName, slope: Tensor | null = null): Tensor {
  requireFloat(act, 'x', x);
  const code = ACT[act];
  if (code === undefined) fail('activation', `unknown activation '${act}'`);
  if (act === 'prelu' && (!slope || (slope.size !== 1 && slope.size !== x.cols))) fail('prelu', `slope must have 1 or ${x.cols} elements`);
  const [rows, cols] = [x.rows, x.cols];
  const y = emptyLike(x);
  kernelsFor(x, slope).actForward(code, rows, cols, x.f, y.f, slope ? slope.f : null);
  const inputs = slope ? [x, slope] : [x];
  return record(act, inputs, y, (g, needs) => {
    const dx = emptyLike(x);
    const dSlope = slope && needs[1] ? emptyLike(slope, slope.shape, true) : null;
    kernelsFor(g, x).actBackward(code, rows, cols, x.f, y.f, g.f, dx.f, slope ? slope.f : null, dSlope ? (dSlope.f as FArr) : null);
    return slope ? [dx, dSlope] : [dx];
  });
}

export const relu = (x: Tensor): Tensor => activation(x, 'relu');
export const sigmoid = (x: Tensor): Tensor => activation(x, 'sigmoid');
export const tanh = (x: Tensor): Tensor => activation(x, 'tanh');
export const silu = (x: Tensor): Tensor => activation(x, 'silu');
export const prelu = (x: Tensor, slope: Tensor): Tensor => activation(x, 'prelu', slope);
