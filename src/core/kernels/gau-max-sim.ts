// Reference loops of `gauMaxSim` (RankTower's per-pair score, kernels/types.ts): one pair at a time, every
// intermediate kept for the backward, float32 or float64. The native kernel (native/gau_max_sim.inc) follows the same
// steps in the same order.
import type { FArr } from './types.js';

/** The sizes of one call: heads per side, sub-space size K, query/key width D, value width Vw, LayerNorm eps. */
interface Dims { Hu: number; Hi: number; K: number; D: number; Vw: number; eps: number }

const L2_EPS = 1e-12;

/** Where one branch reads its inputs: the query side's E, Q, U and the other side's keys and values. */
interface BranchIn { q: FArr; qAt: number; kv: FArr; kvAt: number; Hq: number; Hkv: number; e: number; qq: number; u: number; kk: number; vv: number; w: number }

/** The forward intermediates of one branch for one pair, per query head. */
class BranchState {
  readonly a: Float64Array; // softmax weights [Hq, Hkv]
  readonly m: Float64Array; // A V [Hq, Vw]
  readonly z: Float64Array; // U * m [Hq, Vw]
  readonly xhat: Float64Array; // [Hq, K]
  readonly istd: Float64Array; // [Hq]
  readonly norm: Float64Array; // |y| [Hq]
  readonly n: Float64Array; // y / max(|y|, eps) [Hq, K]
  constructor(Hq: number, Hkv: number, d: Dims) {
    this.a = new Float64Array(Hq * Hkv);
    this.m = new Float64Array(Hq * d.Vw);
    this.z = new Float64Array(Hq * d.Vw);
    this.xhat = new Float64Array(Hq * d.K);
    this.istd = new Float64Array(Hq);
    this.norm = new Float64Array(Hq);
    this.n = new Float64Array(Hq * d.K);
  }
}

function branchForward(d: Dims, b: BranchIn, W: FArr, s: BranchState): void {
  const { K, D, Vw, eps } = d;
  const { q, kv, Hq, Hkv } = b;
  const wo = b.w, bo = wo + Vw * K, gamma = bo + K, beta = gamma + K;
  const scale = 1 / Math.sqrt(D);
  const x = new Float64Array(K);
  for (let a = 0; a < Hq; a++) {
    const qa = b.qAt + b.qq + a * D;
    let mx = -Infinity;
    for (let h = 0; h < Hkv; h++) {
      let dot = 0;
      for (let j = 0; j < D; j++) dot += q[qa + j] * kv[b.kvAt + b.kk + h * D + j];
      s.a[a * Hkv + h] = dot * scale;
      mx = Math.max(mx, dot * scale);
    }
    let sum = 0;
    for (let h = 0; h < Hkv; h++) sum += (s.a[a * Hkv + h] = Math.exp(s.a[a * Hkv + h] - mx));
    for (let h = 0; h < Hkv; h++) s.a[a * Hkv + h] /= sum;
    for (let j = 0; j < Vw; j++) {
      let m = 0;
      for (let h = 0; h < Hkv; h++) m += s.a[a * Hkv + h] * kv[b.kvAt + b.vv + h * Vw + j];
      s.m[a * Vw + j] = m;
      s.z[a * Vw + j] = q[b.qAt + b.u + a * Vw + j] * m;
    }
    for (let c = 0; c < K; c++) {
      let o = W[bo + c];
      for (let j = 0; j < Vw; j++) o += s.z[a * Vw + j] * W[wo + j * K + c];
      x[c] = q[b.qAt + b.e + a * K + c] + o;
    }
    let mean = 0, v = 0, ss = 0;
    for (let c = 0; c < K; c++) mean += x[c];
    mean /= K;
    for (let c = 0; c < K; c++) v += (x[c] - mean) ** 2;
    const istd = 1 / Math.sqrt(v / K + eps);
    s.istd[a] = istd;
    for (let c = 0; c < K; c++) {
      const xh = (x[c] - mean) * istd;
      s.xhat[a * K + c] = xh;
      const y = xh * W[gamma + c] + W[beta + c];
      s.n[a * K + c] = y;
      ss += y * y;
    }
    s.norm[a] = Math.sqrt(ss);
    const div = Math.max(s.norm[a], L2_EPS);
    for (let c = 0; c < K; c++) s.n[a * K + c] /= div;
  }
}

/** Backward of one branch from dn [Hq, K] (the gradient on its normalised vectors), accumulated into dq, dkv, dW. */
function branchBackward(d: Dims, b: BranchIn, W: FArr, s: BranchState, dn: Float64Array, dq: FArr, dkv: FArr, dW: FArr): void {
  const { K, D, Vw } = d;
  const { q, kv, Hq, Hkv } = b;
  const wo = b.w, bo = wo + Vw * K, gamma = bo + K, beta = gamma + K;
  const scale = 1 / Math.sqrt(D);
  const dy = new Float64Array(K), dx = new Float64Array(K), dz = new Float64Array(Vw), dm = new Float64Array(Vw), da = new Float64Array(Hkv);
  for (let a = 0; a < Hq; a++) {
    // l2 normalisation: dy = (dn - n <dn, n>) / |y| (below eps the divisor is constant: dn / eps)
    let dot = 0;
    for (let c = 0; c < K; c++) dot += dn[a * K + c] * s.n[a * K + c];
    const clamped = s.norm[a] < L2_EPS, div = Math.max(s.norm[a], L2_EPS);
    for (let c = 0; c < K; c++) dy[c] = (clamped ? dn[a * K + c] : dn[a * K + c] - s.n[a * K + c] * dot) / div;
    // LayerNorm
    let sumG = 0, sumGH = 0;
    for (let c = 0; c < K; c++) {
      const gh = dy[c] * W[gamma + c], xh = s.xhat[a * K + c];
      sumG += gh;
      sumGH += gh * xh;
      dW[gamma + c] += dy[c] * xh;
      dW[beta + c] += dy[c];
    }
    for (let c = 0; c < K; c++) dx[c] = s.istd[a] * (dy[c] * W[gamma + c] - sumG / K - (s.xhat[a * K + c] * sumGH) / K);
    // residual and output projection
    for (let c = 0; c < K; c++) {
      dq[b.qAt + b.e + a * K + c] += dx[c];
      dW[bo + c] += dx[c];
    }
    for (let j = 0; j < Vw; j++) {
      let g = 0;
      for (let c = 0; c < K; c++) {
        dW[wo + j * K + c] += s.z[a * Vw + j] * dx[c];
        g += W[wo + j * K + c] * dx[c];
      }
      dz[j] = g;
      dq[b.qAt + b.u + a * Vw + j] += g * s.m[a * Vw + j];
      dm[j] = g * q[b.qAt + b.u + a * Vw + j];
    }
    // attention: values, then the softmax and the scaled dot products
    let sa = 0;
    for (let h = 0; h < Hkv; h++) {
      let g = 0;
      for (let j = 0; j < Vw; j++) {
        g += dm[j] * kv[b.kvAt + b.vv + h * Vw + j];
        dkv[b.kvAt + b.vv + h * Vw + j] += s.a[a * Hkv + h] * dm[j];
      }
      da[h] = g;
      sa += s.a[a * Hkv + h] * g;
    }
    for (let h = 0; h < Hkv; h++) {
      const ds = s.a[a * Hkv + h] * (da[h] - sa) * scale;
      for (let j = 0; j < D; j++) {
        dq[b.qAt + b.qq + a * D + j] += ds * kv[b.kvAt + b.kk + h * D + j];
        dkv[b.kvAt + b.kk + h * D + j] += ds * q[b.qAt + b.qq + a * D + j];
      }
    }
  }
}

/** One pair's two branches: where each reads, and their states. */
function pairBranches(d: Dims, UR: FArr, IR: FArr, u: number, i: number): [BranchIn, BranchIn] {
  const { Hu, Hi, K, D, Vw } = d;
  const Ru = Hu * (K + 2 * D + 2 * Vw), Ri = Hi * (K + 2 * D + 2 * Vw), branchW = Vw * K + 3 * K;
  // user rows [E | Q | U | K' | V'], item rows [E | K | V | Q' | U']
  const u2i: BranchIn = { q: UR, qAt: u * Ru, kv: IR, kvAt: i * Ri, Hq: Hu, Hkv: Hi, e: 0, qq: Hu * K, u: Hu * (K + D), kk: Hi * K, vv: Hi * (K + D), w: 0 };
  const i2u: BranchIn = { q: IR, qAt: i * Ri, kv: UR, kvAt: u * Ru, Hq: Hi, Hkv: Hu, e: 0, qq: Hi * (K + D + Vw), u: Hi * (K + 2 * D + Vw), kk: Hu * (K + D + Vw), vv: Hu * (K + 2 * D + Vw), w: branchW };
  return [u2i, i2u];
}

/** sum over user heads of the max over item heads of <nu_a, ni_g>; arg[a] = the first winning g. */
function maxSim(d: Dims, nu: Float64Array, ni: Float64Array, arg: Int32Array): number {
  let total = 0;
  for (let a = 0; a < d.Hu; a++) {
    let best = 0, bv = -Infinity;
    for (let g = 0; g < d.Hi; g++) {
      let dot = 0;
      for (let c = 0; c < d.K; c++) dot += nu[a * d.K + c] * ni[g * d.K + c];
      if (g === 0 || dot > bv) (bv = dot), (best = g);
    }
    arg[a] = best;
    total += bv;
  }
  return total;
}

export function gauMaxSimReference(Hu: number, Hi: number, K: number, D: number, Vw: number, eps: number, N: number, users: Int32Array, items: Int32Array, UR: FArr, IR: FArr, W: FArr, out: FArr): void {
  const d: Dims = { Hu, Hi, K, D, Vw, eps };
  const su = new BranchState(Hu, Hi, d), si = new BranchState(Hi, Hu, d), arg = new Int32Array(Hu);
  for (let n = 0; n < N; n++) {
    const [u2i, i2u] = pairBranches(d, UR, IR, users[n], items[n]);
    branchForward(d, u2i, W, su);
    branchForward(d, i2u, W, si);
    out[n] = maxSim(d, su.n, si.n, arg);
  }
}

export function gauMaxSimBackwardReference(Hu: number, Hi: number, K: number, D: number, Vw: number, eps: number, N: number, users: Int32Array, items: Int32Array, UR: FArr, IR: FArr, W: FArr, gOut: FArr, dUR: FArr, dIR: FArr, dW: FArr): void {
  const d: Dims = { Hu, Hi, K, D, Vw, eps };
  dUR.fill(0);
  dIR.fill(0);
  dW.fill(0);
  const su = new BranchState(Hu, Hi, d), si = new BranchState(Hi, Hu, d), arg = new Int32Array(Hu);
  const dnu = new Float64Array(Hu * K), dni = new Float64Array(Hi * K);
  for (let n = 0; n < N; n++) {
    const [u2i, i2u] = pairBranches(d, UR, IR, users[n], items[n]);
    branchForward(d, u2i, W, su);
    branchForward(d, i2u, W, si);
    maxSim(d, su.n, si.n, arg);
    dnu.fill(0);
    dni.fill(0);
    for (let a = 0; a < Hu; a++) {
      for (let c = 0; c < K; c++) {
        dnu[a * K + c] += gOut[n] * si.n[arg[a] * K + c];
        dni[arg[a] * K + c] += gOut[n] * su.n[a * K + c];
      }
    }
    branchBackward(d, u2i, W, su, dnu, dUR, dIR, dW);
    branchBackward(d, i2u, W, si, dni, dIR, dUR, dW);
  }
}
