// Listwise ranking losses over user-level lists (RankTower, Pan et al. 2023, sec. 3.3). A batch holds G lists
// (one request each) padded to L slots: logits z [G, L] (a tensor), and per slot a label y (the aggregated ordered
// relevance: larger is better, 0 = not relevant), a teacher score p, and a mask saying which slots belong to the
// loss's sample scope (impressions, + candidates, + random samples). Each loss returns the mean over the lists that
// have at least one term; padded slots and lists without terms contribute nothing.
//   distillation   eq. 9:  -sum_{i in scope} p_i log softmax_scope(z)_i                     (teacher p on impressions)
//   sorting        eq. 10-11: SoftSort cross-entropy -sum_{r,i} P(y)_{ri} log P(z)_{ri},
//                  P(s) = row-softmax(-|sort_desc(s)_r - s_i|^pow / tau) over the scope
//   rankmax        eq. 12: sum_{j: y_j > 0} log sum_i (z_i - z_j + 1)_+
//   amRankmax      eq. 13-14: sum_{j: y_j > 0} log(1 + sum_{i: y_i < y_j} (z_i - z_j + m(i, j))_+),
//                  m(i, j) = alpha [y_i = 0] + delta(y_i, y_j), delta = 1 or beta |y_i - y_j|^p
//   hybrid         eq. 15: l1 distillation(impressions) + l2 sorting(impressions + candidates) + l3 amRankmax(all)
// Baselines: listwise softmax cross-entropy, ApproxNDCG (Qin et al. 2010), RankNet; distillation alternatives:
// weighted logloss (BCE against p) and pairwise logloss (RankNet on the teacher's order).
// Choices the paper leaves open: AM-Rankmax takes log(1 + sum): eq. 14 drops Rankmax's i = j term (which adds
// (0 + 1)_+ = 1 inside the log), so without the 1 a list whose margins all hold would give log 0; with it the loss is
// 0 there, as Rankmax's minimum is. Distillation uses p as given (option `normalize` divides by its sum per list).
// Sorting needs no tie-break: tied labels give identical rows of P(y). Shape letters: G lists, L slots.
import { Tensor } from '../core/tensor.js';
import * as ops from '../core/ops/index.js';

/** A large negative logit for masked slots (exp of it is 0 in float32 and float64). */
const MASKED = -1e9;

export interface ListBatch {
  /** G lists of L slots. */
  groups: number;
  slots: number;
  /** [G*L] ordered relevance labels (y). */
  labels: ArrayLike<number>;
  /** [G*L] teacher scores (p); needed by the distillation losses. */
  teacher?: ArrayLike<number>;
}

/** Which slots a loss sees: [G*L], 1 inside the scope, 0 outside or padded. */
export type Scope = ArrayLike<number>;

/** A constant tensor with z's dtype (float64 in gradient checks). */
function constant(z: Tensor, values: ArrayLike<number>, shape: readonly number[]): Tensor {
  return Tensor.from(z.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);
}

/** sum of per-list terms [G] / number of lists with a term. */
function meanOverLists(z: Tensor, perList: Tensor, has: boolean[]): Tensor {
  const n = has.filter(Boolean).length;
  return n === 0 ? ops.scale(ops.sumAll(perList), 0) : ops.scale(ops.sumAll(ops.mul(perList, constant(z, has.map(Number), [has.length]))), 1 / n);
}

function check(z: Tensor, b: ListBatch, scope: Scope): void {
  const { groups: G, slots: L } = b;
  if (z.shape.length !== 2 || z.shape[0] !== G || z.shape[1] !== L) throw new Error(`ranking loss: logits ${z.describe()} must be [${G}, ${L}]`);
  if (b.labels.length !== G * L || scope.length !== G * L) throw new Error(`ranking loss: labels and scope need ${G * L} values`);
}

/** log softmax of z over the scope of each list [G, L] (out-of-scope slots ~ -1e9). */
function scopedLogSoftmax(z: Tensor, scope: Scope): Tensor {
  const penalty = Array.from(scope, (m) => (m ? 0 : MASKED));
  return ops.logSoftmax(ops.add(z, constant(z, penalty, z.shape)), -1);
}

/** Eq. 9: -sum_{i in scope} w_i log softmax_scope(z)_i per list, w = p (or p / sum p). */
export function distillationLoss(z: Tensor, b: ListBatch, scope: Scope, opts: { normalize?: boolean } = {}): Tensor {
  check(z, b, scope);
  if (!b.teacher) throw new Error('distillationLoss: the batch has no teacher scores');
  const { groups: G, slots: L } = b;
  const w = new Float64Array(G * L);
  const has: boolean[] = [];
  for (let g = 0; g < G; g++) {
    let total = 0;
    for (let i = g * L; i < (g + 1) * L; i++) if (scope[i]) total += b.teacher[i];
    has.push(total > 0);
    for (let i = g * L; i < (g + 1) * L; i++) w[i] = scope[i] ? b.teacher[i] / (opts.normalize && total > 0 ? total : 1) : 0;
  }
  const perList = ops.neg(ops.sum(ops.mul(scopedLogSoftmax(z, scope), constant(z, w, [G, L])), 1));
  return meanOverLists(z, perList, has);
}

/** Descending order of each list's in-scope values (out-of-scope slots after them), as flat indices g*L + i. */
function sortedIndices(values: ArrayLike<number>, scope: Scope, G: number, L: number): Int32Array {
  const out = new Int32Array(G * L);
  for (let g = 0; g < G; g++) {
    const idx = Array.from({ length: L }, (_, i) => i);
    idx.sort((a, c) => {
      const [ia, ic] = [g * L + a, g * L + c];
      if (!scope[ia] || !scope[ic]) return (scope[ia] ? 0 : 1) - (scope[ic] ? 0 : 1);
      return values[ic] - values[ia] || a - c;
    });
    idx.forEach((i, r) => (out[g * L + r] = g * L + i));
  }
  return out;
}

/** SoftSort row-softmax of plain numbers (the labels' side: no gradient), [G*L*L]; rows/columns outside the scope are 0. */
function softSortOf(values: ArrayLike<number>, scope: Scope, G: number, L: number, tau: number, pow: number): Float64Array {
  const order = sortedIndices(values, scope, G, L);
  const P = new Float64Array(G * L * L);
  for (let g = 0; g < G; g++) {
    const n = Array.from({ length: L }, (_, i) => scope[g * L + i]).filter(Boolean).length;
    for (let r = 0; r < n; r++) {
      const s = values[order[g * L + r]];
      let top = -Infinity;
      const row = g * L * L + r * L;
      for (let i = 0; i < L; i++) if (scope[g * L + i]) top = Math.max(top, -(Math.abs(s - values[g * L + i]) ** pow) / tau);
      let total = 0;
      for (let i = 0; i < L; i++) {
        if (!scope[g * L + i]) continue;
        P[row + i] = Math.exp(-(Math.abs(s - values[g * L + i]) ** pow) / tau - top);
        total += P[row + i];
      }
      for (let i = 0; i < L; i++) P[row + i] /= total;
    }
  }
  return P;
}

/** Eq. 10-11: SoftSort cross-entropy between the permutation matrices of y and z over the scope. */
export function sortingLoss(z: Tensor, b: ListBatch, scope: Scope, opts: { tau?: number; pow?: number } = {}): Tensor {
  check(z, b, scope);
  const { groups: G, slots: L } = b;
  const tau = opts.tau ?? 1;
  const pow = opts.pow ?? 1;
  const Py = softSortOf(b.labels, scope, G, L, tau, pow);
  // sort_desc(z) as a gather of z's own elements, so the gradient flows through the sorted values too.
  const order = sortedIndices(z.data, scope, G, L);
  const sorted = ops.reshape(ops.gather(ops.reshape(z, [G * L, 1]), Tensor.from(order, [G * L])), [G, L, 1]);
  const dist = ops.abs(ops.sub(sorted, ops.reshape(z, [G, 1, L]))); // [G, L, L]
  const logits = ops.add(ops.scale(pow === 1 ? dist : ops.pow(dist, pow), -1 / tau), constant(z, Array.from(scope, (m) => (m ? 0 : MASKED)), [G, 1, L]));
  const logP = ops.logSoftmax(logits, -1); // [G, L, L]; rows past the list's length are ignored (Py is 0 there)
  const perList = ops.neg(ops.sum(ops.reshape(ops.mul(logP, constant(z, Py, [G, L, L])), [G, L * L]), 1));
  const has = Array.from({ length: G }, (_, g) => Array.from({ length: L }, (__, i) => scope[g * L + i]).some(Boolean));
  return meanOverLists(z, perList, has);
}

/**
 * Shared by Rankmax and AM-Rankmax: per list, sum over anchors j (in scope, y_j > 0) of
 * log(base + sum_{i in scope, pair(y_i, y_j, i = j)} (z_i - z_j + margin(y_i, y_j))_+).
 */
function hingeLogSum(z: Tensor, b: ListBatch, scope: Scope, base: number, pair: (yi: number, yj: number, self: boolean) => boolean, margin: (yi: number, yj: number) => number): Tensor {
  const { groups: G, slots: L, labels: y } = b;
  const m = new Float64Array(G * L * L);
  const on = new Float64Array(G * L * L);
  const anchor = new Float64Array(G * L);
  const has: boolean[] = [];
  for (let g = 0; g < G; g++) {
    let any = false;
    for (let j = 0; j < L; j++) {
      const J = g * L + j;
      if (!scope[J] || !(y[J] > 0)) continue;
      anchor[J] = 1;
      any = true;
      for (let i = 0; i < L; i++) {
        const I = g * L + i;
        if (!scope[I] || !pair(y[I], y[J], i === j)) continue;
        on[g * L * L + j * L + i] = 1;
        m[g * L * L + j * L + i] = margin(y[I], y[J]);
      }
    }
    has.push(any);
  }
  // [G, L(j), L(i)]: z_i - z_j + m(i, j), hinge, only the pairs that count.
  const diff = ops.add(ops.sub(ops.reshape(z, [G, 1, L]), ops.reshape(z, [G, L, 1])), constant(z, m, [G, L, L]));
  const inner = ops.sum(ops.mul(ops.relu(diff), constant(z, on, [G, L, L])), 2); // [G, L]
  // Non-anchor rows get log(1) = 0 whatever their inner sum (which may be 0).
  const shift = Array.from(anchor, (a) => (a ? base : 1));
  const perList = ops.sum(ops.mul(ops.log(ops.add(inner, constant(z, shift, [G, L]))), constant(z, anchor, [G, L])), 1);
  return meanOverLists(z, perList, has);
}

/** Eq. 12 (binary relevance: y > 0 is positive): sum_{j: y_j > 0} log sum_{i in scope} (z_i - z_j + 1)_+. */
export function rankmaxLoss(z: Tensor, b: ListBatch, scope: Scope): Tensor {
  check(z, b, scope);
  // The i = j term is (0 + 1)_+ = 1: it is the base, and the pair rule leaves j itself out.
  return hingeLogSum(z, b, scope, 1, (_yi, _yj, self) => !self, () => 1);
}

export interface AmRankmaxOptions {
  /** alpha: extra margin when i is a negative (y_i = 0). */
  alpha?: number;
  /** delta(y_i, y_j): 'one' = 1, 'power' = beta |y_i - y_j|^p. */
  delta?: 'one' | 'power';
  beta?: number;
  p?: number;
}

/** Eq. 13-14: sum_{j: y_j > 0} log(1 + sum_{i: y_i < y_j} (z_i - z_j + alpha [y_i = 0] + delta(y_i, y_j))_+). */
export function amRankmaxLoss(z: Tensor, b: ListBatch, scope: Scope, opts: AmRankmaxOptions = {}): Tensor {
  check(z, b, scope);
  const { alpha = 1, delta = 'power', beta = 1, p = 1 } = opts;
  const d = delta === 'one' ? () => 1 : (yi: number, yj: number) => beta * Math.abs(yi - yj) ** p;
  return hingeLogSum(z, b, scope, 1, (yi, yj) => yi < yj, (yi, yj) => alpha * (yi === 0 ? 1 : 0) + d(yi, yj));
}

export interface HybridWeights {
  distillation: number;
  sorting: number;
  amRankmax: number;
}

export interface HybridScopes {
  impressions: Scope;
  /** Impressions + ranking candidates (the serving scope of pre-ranking). */
  candidates: Scope;
  /** Every sample: impressions, candidates and random items. */
  all: Scope;
}

/** Eq. 15: weighted sum of distillation (impressions), sorting (impressions + candidates) and AM-Rankmax (all). */
export function hybridLoss(z: Tensor, b: ListBatch, scopes: HybridScopes, w: HybridWeights,
  opts: { sorting?: { tau?: number; pow?: number }; amRankmax?: AmRankmaxOptions } = {}): { loss: Tensor; parts: Record<string, number> } {
  const terms: [string, number, () => Tensor][] = [
    ['distillation', w.distillation, () => distillationLoss(z, b, scopes.impressions)],
    ['sorting', w.sorting, () => sortingLoss(z, b, scopes.candidates, opts.sorting)],
    ['amRankmax', w.amRankmax, () => amRankmaxLoss(z, b, scopes.all, opts.amRankmax)],
  ];
  let loss: Tensor | null = null;
  const parts: Record<string, number> = {};
  for (const [name, weight, f] of terms) {
    if (!(weight > 0)) continue;
    const t = f();
    parts[name] = t.item();
    const weighted = ops.scale(t, weight);
    loss = loss ? ops.add(loss, weighted) : weighted;
  }
  if (!loss) throw new Error('hybridLoss: every weight is 0');
  return { loss, parts };
}

// ---- baselines ----

/** Listwise softmax cross-entropy: -sum_i (y_i / sum y) log softmax_scope(z)_i (lists with sum y > 0). */
export function softmaxLoss(z: Tensor, b: ListBatch, scope: Scope): Tensor {
  check(z, b, scope);
  return distillationLoss(z, { ...b, teacher: b.labels }, scope, { normalize: true });
}

/**
 * ApproxNDCG (Qin, Liu & Li 2010): rank_i ~ 1 + sum_{j != i} sigmoid((z_j - z_i) / T); loss = -(sum_i (2^y_i - 1) /
 * log2(1 + rank_i)) / IDCG per list (lists with IDCG > 0).
 */
export function approxNdcgLoss(z: Tensor, b: ListBatch, scope: Scope, opts: { temperature?: number } = {}): Tensor {
  check(z, b, scope);
  const { groups: G, slots: L, labels: y } = b;
  const T = opts.temperature ?? 1;
  const on = new Float64Array(G * L * L); // [g, i, j]: j in scope and j != i
  const gain = new Float64Array(G * L);
  const has: boolean[] = [];
  for (let g = 0; g < G; g++) {
    const ys: number[] = [];
    for (let i = 0; i < L; i++) {
      const I = g * L + i;
      if (!scope[I]) continue;
      ys.push(y[I]);
      for (let j = 0; j < L; j++) if (j !== i && scope[g * L + j]) on[g * L * L + i * L + j] = 1;
    }
    ys.sort((a, c) => c - a);
    const idcg = ys.reduce((s, v, r) => s + (2 ** v - 1) / Math.log2(r + 2), 0);
    has.push(idcg > 0);
    for (let i = 0; i < L; i++) if (scope[g * L + i] && idcg > 0) gain[g * L + i] = (2 ** y[g * L + i] - 1) / idcg;
  }
  const pairs = ops.sigmoid(ops.scale(ops.sub(ops.reshape(z, [G, 1, L]), ops.reshape(z, [G, L, 1])), 1 / T)); // [g, i, j]: sigma((z_j - z_i)/T)
  const rank = ops.addScalar(ops.sum(ops.mul(pairs, constant(z, on, [G, L, L])), 2), 1); // [G, L]
  const discount = ops.scale(ops.log(ops.addScalar(rank, 1)), 1 / Math.LN2);
  const perList = ops.neg(ops.sum(ops.div(constant(z, gain, [G, L]), discount), 1));
  return meanOverLists(z, perList, has);
}

/** log(1 + exp(x)), stable for large |x|. */
function softplus(x: Tensor): Tensor {
  return ops.add(ops.relu(x), ops.log(ops.addScalar(ops.exp(ops.neg(ops.abs(x))), 1)));
}

/** Mean over ordered pairs (s_i > s_j, both in scope) of log(1 + exp(-(z_i - z_j))) per list. */
function pairwiseLogistic(z: Tensor, b: ListBatch, scope: Scope, s: ArrayLike<number>): Tensor {
  const { groups: G, slots: L } = b;
  const on = new Float64Array(G * L * L); // [g, i, j]: s_i > s_j
  const perPair = new Float64Array(G);
  const has: boolean[] = [];
  for (let g = 0; g < G; g++) {
    let n = 0;
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        const [I, J] = [g * L + i, g * L + j];
        if (scope[I] && scope[J] && s[I] > s[J]) {
          on[g * L * L + i * L + j] = 1;
          n++;
        }
      }
    }
    has.push(n > 0);
    perPair[g] = n > 0 ? 1 / n : 0;
  }
  const margin = ops.sub(ops.reshape(z, [G, 1, L]), ops.reshape(z, [G, L, 1])); // [g, i, j]: z_j - z_i = -(z_i - z_j)
  const total = ops.sum(ops.reshape(ops.mul(softplus(margin), constant(z, on, [G, L, L])), [G, L * L]), 1);
  return meanOverLists(z, ops.mul(total, constant(z, perPair, [G])), has);
}

/** RankNet: logistic loss on every pair with y_i > y_j, averaged per list. */
export function rankNetLoss(z: Tensor, b: ListBatch, scope: Scope): Tensor {
  check(z, b, scope);
  return pairwiseLogistic(z, b, scope, b.labels);
}

/** Distillation alternative: pairwise logloss on the teacher's order (p_i > p_j). */
export function pairwiseDistillationLoss(z: Tensor, b: ListBatch, scope: Scope): Tensor {
  check(z, b, scope);
  if (!b.teacher) throw new Error('pairwiseDistillationLoss: the batch has no teacher scores');
  return pairwiseLogistic(z, b, scope, b.teacher);
}

/** Distillation alternative: BCE of sigmoid(z) against the teacher's probability p, mean over in-scope slots. */
export function weightedLoglossDistillation(z: Tensor, b: ListBatch, scope: Scope): Tensor {
  check(z, b, scope);
  if (!b.teacher) throw new Error('weightedLoglossDistillation: the batch has no teacher scores');
  const n = Array.from(scope).filter(Boolean).length;
  const flat = ops.reshape(z, [z.size]);
  const bce = ops.bceWithLogits(flat, constant(z, b.teacher, [z.size]), { weights: constant(z, scope, [z.size]), reduction: 'sum' });
  return ops.scale(bce, n > 0 ? 1 / n : 0);
}
