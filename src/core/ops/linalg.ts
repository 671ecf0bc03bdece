// Matrix products: matmul (with transposes), linear (matmul + bias + activation, fused), batched matmul, and the
// per-pair max-sim of multi-head two-tower scores.
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { ACT, type ActName } from '../kernels/types.js';
import { emptyLike, fail, requireFloat, requireRank, requireSameDtype } from './util.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

function dims(op: string, a: Tensor, b: Tensor, tA: boolean, tB: boolean): [number, number, number] {
  const [ar, ac] = [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [br, bc] = [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  const [M, K] = tA ? [ac, ar] : [ar, ac];
  const [K2, N] = tB ? [bc, br] : [br, bc];
  if (K !== K2) fail(op, `inner dimensions differ: ${a.describe()}${tA ? 'ᵀ' : ''} x ${b.describe()}${tB ? 'ᵀ' : ''}`);
  return [M, N, K];
}

/** [M, K] x [K, N] -> [M, N], with optional transposes of either side. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  requireRank('matmul', 'a', a, 2);
  requireRank('matmul', 'b', b, 2);
  requireFloat('matmul', 'a', a);
  requireSameDtype('matmul', a, b);
  const [M, N, K] = dims('matmul', a, b, tA, tB);
  const out = emptyLike(a, [M, N]);
  kernelsFor(a, b).gemm(tA, tB, M, N, K, 1, a.f, a.shape[1], b.f, b.shape[1], 0, out.f, N, null, false);
  return record('matmul', [a, b], out, (g, needs) => {
    const k = kernelsFor(g, a, b);
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      // dA = g B^T (or B g^T when A was transposed)
      ga = emptyLike(a);
      if (tA) k.gemm(tB, true, K, M, N, 1, b.f, b.shape[1], g.f, N, 0, ga.f, a.shape[1], null, false);
      else k.gemm(false, !tB, M, K, N, 1, g.f, N, b.f, b.shape[1], 0, ga.f, a.shape[1], null, false);
    }
    if (needs[1]) {
      // dB = A^T g (or g^T A when B was transposed)
      gb = emptyLike(b);
      if (tB) k.gemm(true, tA, N, K, M, 1, g.f, N, a.f, a.shape[1], 0, gb.f, b.shape[1], null, false);
      else k.gemm(!tA, false, K, N, M, 1, a.f, a.shape[1], g.f, N, 0, gb.f, b.shape[1], null, false);
    }
    return [ga, gb];
  });
}

export interface LinearOptions {
  act?: ActName;
  /** PReLU slope tensor [N] or [1] (required for act 'prelu'). */
  slope?: Tensor;
}

/**
 * y = act(x W + b): x [B, I], W [I, O] (stored input-major), b [O] or null. One GEMM with the bias (and ReLU) fused
 * into its store; backward is one activation pass, two GEMMs and a column sum.
 */
export function linear(x: Tensor, w: Tensor, b: Tensor | null, opts: LinearOptions = {}): Tensor {
  const act = opts.act ?? 'none';
  const code = ACT[act];
  if (code === undefined) fail('linear', `unknown activation '${act}'`);
  requireRank('linear', 'x', x, 2);
  requireRank('linear', 'w', w, 2);
  requireFloat('linear', 'x', x);
  requireSameDtype('linear', x, w, ...(b ? [b] : []));
  const [B, I] = x.shape;
  const O = w.shape[1];
  if (w.shape[0] !== I) fail('linear', `x ${x.describe()} does not fit weight ${w.describe()} (expected [${I}, O])`);
  if (b && b.size !== O) fail('linear', `bias ${b.describe()} should have ${O} elements`);
  const slope = opts.slope ?? null;
  if (act === 'prelu' && (!slope || (slope.size !== 1 && slope.size !== O))) fail('linear', `prelu needs a slope of size 1 or ${O}`);
  const k = kernelsFor(x, w, b);
  const fusedRelu = act === 'relu';
  const simple = act === 'none' || fusedRelu;
  // z: pre-activation (kept for non-fused activations); y: output.
  const z = emptyLike(x, [B, O]);
  k.gemm(false, false, B, O, I, 1, x.f, I, w.f, O, 0, z.f, O, b ? b.f : null, fusedRelu);
  let y = z;
  if (!simple) {
    y = emptyLike(x, [B, O]);
    k.actForward(code, B, O, z.f, y.f, slope ? slope.f : null);
  }
  const inputs = slope ? [x, w, ...(b ? [b] : []), slope] : [x, w, ...(b ? [b] : [])];
  return record(`linear(${act})`, inputs, y, (g, needs) => {
    const kk = kernelsFor(g, x, w);
    let dz = g;
    let dSlope: Tensor | null = null;
    if (act !== 'none') {
      dz = emptyLike(g);
      if (slope && needs[needs.length - 1]) dSlope = emptyLike(slope, slope.shape, true);
      // For ReLU y == z where positive, so y serves as the pre-activation.
      kk.actBackward(code, B, O, z.f, y.f, g.f, dz.f, slope ? slope.f : null, dSlope ? dSlope.f : null);
    }
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      dx = emptyLike(x);
      kk.gemm(false, true, B, I, O, 1, dz.f, O, w.f, O, 0, dx.f, I, null, false);
    }
    if (needs[1]) {
      dw = emptyLike(w);
      kk.gemm(true, false, I, O, B, 1, x.f, I, dz.f, O, 0, dw.f, O, null, false);
    }
    if (b && needs[2]) {
      db = emptyLike(b);
      kk.colSum(B, O, dz.f, db.f, false);
    }
    if (dz !== g) dz.release();
    const grads = [dx, dw, ...(b ? [db] : [])];
    if (slope) grads.push(dSlope);
    return grads;
  });
}

/** Batched product over the leading axis: [S, M, K] x [S, K, N] -> [S, M, N] (transposes apply per matrix). */
export function bmm(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  requireRank('bmm', 'a', a, 3);
  requireRank('bmm', 'b', b, 3);
  requireFloat('bmm', 'a', a);
  requireSameDtype('bmm', a, b);
  const S = a.shape[0];
  if (b.shape[0] !== S) fail('bmm', `batch sizes differ: ${a.describe()} and ${b.describe()}`);
  const [M, N, K] = dims('bmm', a, b, tA, tB);
  const [ar, ac] = [a.shape[1], a.shape[2]];
  const [br, bc] = [b.shape[1], b.shape[2]];
  const out = emptyLike(a, [S, M, N]);
  kernelsFor(a, b).gemmBatched(tA, tB, S, M, N, K, 1, a.f, ac, ar * ac, b.f, bc, br * bc, 0, out.f, N, M * N);
  return record('bmm', [a, b], out, (g, needs) => {
    const k = kernelsFor(g, a, b);
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      ga = emptyLike(a);
      if (tA) k.gemmBatched(tB, true, S, K, M, N, 1, b.f, bc, br * bc, g.f, N, M * N, 0, ga.f, ac, ar * ac);
      else k.gemmBatched(false, !tB, S, M, K, N, 1, g.f, N, M * N, b.f, bc, br * bc, 0, ga.f, ac, ar * ac);
    }
    if (needs[1]) {
      gb = emptyLike(b);
      if (tB) k.gemmBatched(true, tA, S, N, K, M, 1, g.f, N, M * N, a.f, ac, ar * ac, 0, gb.f, bc, br * bc);
      else k.gemmBatched(!tA, false, S, K, N, M, 1, a.f, ac, ar * ac, g.f, N, M * N, 0, gb.f, bc, br * bc);
    }
    return [ga, gb];
  });
}

/**
 * Max-sim of every user against every item: heads [B*A, P] (user b's heads in rows b*A .. b*A + A - 1) and items
 * [C*G, P] (item c's heads in rows c*G .. c*G + G - 1) -> [B, C], out[b, c] = sum over a of max over g of
 * <heads[b*A + a], items[c*G + g]> (IntTower's score of a batch's users against shared candidates). The forward
 * reduces each cache-sized tile of similarities to its maxima before computing the next, never holding the [B*A, C*G]
 * block; the backward reads only each (head, item) pair's winning item head, 1/G of the two dense GEMMs' work, and
 * writes no [B*A, C*G] gradient.
 */
export function maxSimCross(heads: Tensor, items: Tensor, A: number, G: number): Tensor {
  requireRank('maxSimCross', 'heads', heads, 2);
  requireRank('maxSimCross', 'items', items, 2);
  requireFloat('maxSimCross', 'heads', heads);
  requireSameDtype('maxSimCross', heads, items);
  const [rows, P] = heads.shape;
  if (rows % A !== 0) fail('maxSimCross', `heads ${heads.describe()} must be [B*A, P]: ${rows} rows do not split into A = ${A} heads a user`);
  if (items.shape[0] % G !== 0) fail('maxSimCross', `items ${items.describe()} must be [C*G, P]: ${items.shape[0]} rows do not split into G = ${G} heads an item`);
  if (items.shape[1] !== P) fail('maxSimCross', `heads ${heads.describe()} and items ${items.describe()} differ in head size`);
  const B = rows / A, C = items.shape[0] / G;
  const out = emptyLike(heads, [B, C]);
  const arg = new Int32Array(A * B * C);
  kernelsFor(heads, items).maxSimCross(A, B, C, G, P, heads.f, items.f, out.f, arg);
  return record('maxSimCross', [heads, items], out, (g) => {
    const dh = emptyLike(heads), di = emptyLike(items);
    kernelsFor(g, heads, items).maxSimCrossBackward(A, B, C, G, P, heads.f, items.f, arg, g.f, dh.f, di.f);
    return [dh, di];
  });
}

/**
 * Per-pair max-sim: u [N, A, P], v [N, G, P] -> [N], out[n] = sum over a of max over g of <u[n, a], v[n, g]>
 * (IntTower's FE-Block score of N user/item pairs: A = L*H user heads, G = H item heads). The same value as
 * sum(max(bmm(u, vᵀ), 2), 1) in one kernel each way, without the [N, A, G] products; gradient to the first arg-max.
 */
export function pairMaxSim(u: Tensor, v: Tensor): Tensor {
  requireRank('pairMaxSim', 'u', u, 3);
  requireRank('pairMaxSim', 'v', v, 3);
  requireFloat('pairMaxSim', 'u', u);
  requireSameDtype('pairMaxSim', u, v);
  const [N, A, P] = u.shape;
  const G = v.shape[1];
  if (v.shape[0] !== N || v.shape[2] !== P || G === 0) fail('pairMaxSim', `u ${u.describe()} and v ${v.describe()} must be [N, A, P] and [N, G >= 1, P]`);
  const out = emptyLike(u, [N]);
  const arg = new Int32Array(N * A);
  kernelsFor(u, v).pairMaxSim(N, A, G, P, u.f, v.f, out.f, arg);
  return record('pairMaxSim', [u, v], out, (g, needs) => {
    const du = needs[0] ? emptyLike(u) : null;
    const dv = needs[1] ? emptyLike(v) : null;
    kernelsFor(g, u, v).pairMaxSimBackward(N, A, G, P, u.f, v.f, arg, g.f, du ? du.f : null, dv ? dv.f : null);
    return [du, dv];
  });
}
