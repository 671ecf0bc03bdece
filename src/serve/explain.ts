// Why a two-tower model scored an item as it did, from the same user rep and cached item rep the scorer reads,
// by the score kind of the model's serving plan (src/models/common/serving.ts), the way the native kernels branch:
//   dot       logit = scale * <u, v> + bias                      -> the dot product and its term
//   maxsim    logit = scale * sum_r max_h <u_r, v_h> + bias      -> per user head: the winning item head and its term
//   rankTower logit = scale * sum_a max_b cos(u'_a, v'_b) + bias -> the same per user sub-space, after the per-pair
//             gated cross-attention, plus the GAU gates U = sigmoid(E W_U) of both sides (mean per sub-space)
// Every explanation's terms plus its bias give `total`, which equals the served score up to float rounding (the
// kernels accumulate in float32 SIMD lanes; this file in float64).
// Shape letters: U user rep width, I item rep width, R user heads, H item heads, P head size, d query/key width,
// v value width.
import type { GauWeights, PlanScore } from '../models/common/serving.js';

export interface HeadMatch {
  /** User head (maxsim: layer * H + head) or user sub-space (rankTower). */
  user: number;
  /** IntTower: the tapped layer and head of the user head. */
  layer?: number;
  head?: number;
  /** The item head (sub-space) with the largest similarity: the one that won the max. */
  item: number;
  /** That similarity (a dot product for maxsim, a cosine for rankTower). */
  sim: number;
  /** scale * sim: this head's part of the logit. */
  contribution: number;
}

export type Explanation =
  | { kind: 'dot'; dot: number; scale: number; contribution: number; bias: number; total: number }
  | { kind: 'maxsim'; scale: number; bias: number; heads: HeadMatch[]; total: number }
  | { kind: 'rankTower'; scale: number; bias: number; heads: HeadMatch[]; userGates: number[] | null; itemGates: number[] | null; total: number };

/** The explanation of one item rep [I] for a user rep [U] under a plan's score. */
export function explainItem(score: PlanScore, user: Float32Array, item: Float32Array): Explanation {
  switch (score.kind) {
    case 'dot': {
      const dot = dotAt(user, 0, item, 0, user.length);
      const contribution = score.scale * dot;
      return { kind: 'dot', dot, scale: score.scale, contribution, bias: score.bias, total: contribution + score.bias };
    }
    case 'maxsim':
      return explainMaxSim(score, user, item);
    case 'rankTower':
      return explainRankTower(score, user, item);
  }
}

function explainMaxSim(s: Extract<PlanScore, { kind: 'maxsim' }>, user: Float32Array, item: Float32Array): Explanation {
  const P = s.headSize, H = s.heads;
  const { heads, total } = maxSum(user, user.length / P, item, H, P, s.scale, s.bias);
  for (const m of heads) [m.layer, m.head] = [Math.floor(m.user / H), m.user % H];
  return { kind: 'maxsim', scale: s.scale, bias: s.bias, heads, total };
}

/** scale * sum_r max_h <u_r, v_h> + bias over R user vectors and H item vectors of P, with each r's winning h. */
function maxSum(u: Float32Array, R: number, v: Float32Array, H: number, P: number, scale: number, bias: number): { heads: HeadMatch[]; total: number } {
  const heads: HeadMatch[] = [];
  let total = bias;
  for (let r = 0; r < R; r++) {
    const { at, best } = argmax(H, (h) => dotAt(u, r * P, v, h * P, P));
    const contribution = scale * best;
    total += contribution;
    heads.push({ user: r, item: at, sim: best, contribution });
  }
  return { heads, total };
}

/** The index and value of the largest f(i), i < n; a NaN wins (the model's max keeps NaN). */
function argmax(n: number, f: (i: number) => number): { at: number; best: number } {
  let at = 0, best = f(0);
  for (let i = 1; i < n && !Number.isNaN(best); i++) {
    const x = f(i);
    if (x > best || Number.isNaN(x)) [at, best] = [i, x];
  }
  return { at, best };
}

function dotAt(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

/** A rep's consecutive parts of the given widths, as views. */
function parts(rep: Float32Array, widths: number[]): Float32Array[] {
  let at = 0;
  return widths.map((w) => rep.subarray(at, (at += w)));
}

type RankTowerScore = Extract<PlanScore, { kind: 'rankTower' }>;

function explainRankTower(s: RankTowerScore, user: Float32Array, item: Float32Array): Explanation {
  const { userHeads: Hu, itemHeads: Hi, headSize: k, attnDim: d, valueDim: v } = s;
  const cross = s.crossAttention && s.userToItem && s.itemToUser;
  const widths = (h: number) => (cross ? [h * k, h * d, h * v, h * d, h * v] : [h * k]);
  const [eu, qu, uu, ku, vu] = parts(user, widths(Hu)); // user: [E, Q, U, K', V']
  const [ei, ki, vi, qi, ui] = parts(item, widths(Hi)); // item: [E, K, V, Q', U']
  const au = cross ? attend(s, s.userToItem!, eu, qu, uu, ki, vi, Hu, Hi) : eu.slice(); // normalised in place below
  const ai = cross ? attend(s, s.itemToUser!, ei, qi, ui, ku, vu, Hi, Hu) : ei.slice();
  normalizeRows(au, Hu, k);
  normalizeRows(ai, Hi, k);
  const { heads, total } = maxSum(au, Hu, ai, Hi, k, s.scale, s.bias);
  return { kind: 'rankTower', scale: s.scale, bias: s.bias, heads, userGates: cross ? rowMeans(uu, Hu, v) : null,
    itemGates: cross ? rowMeans(ui, Hi, v) : null, total };
}

/**
 * One GAU direction for one pair: for each of the Hq query sub-spaces, LN(E + (U * softmax(Q K^T / sqrt d) V) W_o + b_o)
 * over the Hkv key/value sub-spaces of the other side: [Hq, k] (a fresh array).
 */
function attend(s: RankTowerScore, w: GauWeights, e: Float32Array, q: Float32Array, u: Float32Array, kk: Float32Array, vv: Float32Array,
  Hq: number, Hkv: number): Float32Array {
  const { headSize: k, attnDim: d, valueDim: v } = s;
  const out = new Float32Array(Hq * k);
  const att = new Float64Array(Hkv), g = new Float64Array(v), x = new Float64Array(k);
  for (let a = 0; a < Hq; a++) {
    let top = -Infinity;
    for (let b = 0; b < Hkv; b++) top = Math.max(top, (att[b] = dotAt(q, a * d, kk, b * d, d) / Math.sqrt(d)));
    let sum = 0;
    for (let b = 0; b < Hkv; b++) sum += (att[b] = Math.exp(att[b] - top));
    for (let j = 0; j < v; j++) {
      let acc = 0;
      for (let b = 0; b < Hkv; b++) acc += (att[b] / sum) * vv[b * v + j];
      g[j] = u[a * v + j] * acc;
    }
    for (let c = 0; c < k; c++) {
      let o = w.bo[c];
      for (let j = 0; j < v; j++) o += g[j] * w.wo[j * k + c];
      x[c] = e[a * k + c] + o;
    }
    let mean = 0, sq = 0;
    for (let c = 0; c < k; c++) mean += x[c] / k;
    for (let c = 0; c < k; c++) sq += (x[c] - mean) ** 2 / k;
    const inv = 1 / Math.sqrt(sq + s.lnEps);
    for (let c = 0; c < k; c++) out[a * k + c] = (x[c] - mean) * inv * w.gamma[c] + w.beta[c];
  }
  return out;
}

/** Each of `rows` rows of `cols` divided by its L2 norm (at least 1e-12), in place. */
function normalizeRows(x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const n = Math.max(Math.sqrt(dotAt(x, r * cols, x, r * cols, cols)), 1e-12);
    for (let c = 0; c < cols; c++) x[r * cols + c] /= n;
  }
}

function rowMeans(x: Float32Array, rows: number, cols: number): number[] {
  const ones = new Float32Array(cols).fill(1);
  return Array.from({ length: rows }, (_, r) => dotAt(x, r * cols, ones, 0, cols) / cols);
}
