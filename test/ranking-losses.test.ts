// Listwise ranking losses (src/train/ranking-losses.ts): each against a plain per-list computation written here from
// the equations, on hand-made lists with padding and scopes; float64 gradient checks; the cases the equations pin
// down (one-hot distillation = softmax CE of that slot, AM-Rankmax 0 once every margin holds, ApproxNDCG -> -NDCG
// as its temperature falls, hybrid = weighted parts); bad shapes and missing teacher scores refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, Rng, scope } from '../src/core/index.js';
import {
  amRankmaxLoss, approxNdcgLoss, distillationLoss, hybridLoss, pairwiseDistillationLoss, rankmaxLoss, rankNetLoss,
  softmaxLoss, sortingLoss, weightedLoglossDistillation, type ListBatch,
} from '../src/train/ranking-losses.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';

// Two lists of 5 slots. List 0: 5 samples; list 1: 4 samples + 1 pad. Labels: 3 > 2 > 1 > 0 (0 = not relevant).
const G = 2, L = 5;
const labels = [3, 0, 1, 2, 0, /**/ 0, 2, 0, 1, 0];
const teacher = [0.9, 0.2, 0.6, 0.7, 0.1, /**/ 0.3, 0.8, 0.05, 0.5, 0];
const all = [1, 1, 1, 1, 1, /**/ 1, 1, 1, 1, 0];
const impressions = [1, 0, 1, 1, 0, /**/ 0, 1, 0, 1, 0];
const candidates = [1, 1, 1, 1, 0, /**/ 1, 1, 0, 1, 0];
const batch: ListBatch = { groups: G, slots: L, labels, teacher };
const zs = [0.4, -1.1, 0.9, 0.2, -0.3, /**/ 1.3, -0.2, 0.05, 0.7, 9];

const f64 = (v: number[]): Tensor => Tensor.from(Float64Array.from(v), [G, L]);
const value = (f: (z: Tensor) => Tensor, v = zs): number => scope(() => f(f64(v)).item());
const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

/** In-scope [index, label, teacher, logit] per list. */
function lists(sc: number[], z = zs): { i: number; y: number; p: number; z: number }[][] {
  return Array.from({ length: G }, (_, g) =>
    Array.from({ length: L }, (__, i) => g * L + i).filter((k) => sc[k]).map((k) => ({ i: k, y: labels[k], p: teacher[k], z: z[k] })));
}
const logSumExp = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};
const meanOf = (xs: (number | null)[]): number => {
  const kept = xs.filter((x): x is number => x !== null);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
};

test('distillation (eq. 9) and the listwise softmax baseline', () => {
  const want = meanOf(lists(impressions).map((l) => {
    const lse = logSumExp(l.map((s) => s.z));
    return l.length ? -l.reduce((s, x) => s + x.p * (x.z - lse), 0) : null;
  }));
  close(value((z) => distillationLoss(z, batch, impressions)), want);
  // normalised teacher scores
  const wantN = meanOf(lists(impressions).map((l) => {
    const lse = logSumExp(l.map((s) => s.z));
    const tot = l.reduce((s, x) => s + x.p, 0);
    return -l.reduce((s, x) => s + (x.p / tot) * (x.z - lse), 0);
  }));
  close(value((z) => distillationLoss(z, batch, impressions, { normalize: true })), wantN);
  // one-hot teacher = softmax cross-entropy of that slot
  const oneHot: ListBatch = { ...batch, teacher: [0, 0, 1, 0, 0, /**/ 0, 0, 0, 1, 0] };
  const ce = meanOf(lists(impressions).map((l) => -(l.find((x) => x.i === 2 || x.i === 8)!.z - logSumExp(l.map((s) => s.z)))));
  close(value((z) => distillationLoss(z, oneHot, impressions)), ce);
  // softmax baseline: labels normalised as the target distribution over the scope
  const sm = meanOf(lists(candidates).map((l) => {
    const tot = l.reduce((s, x) => s + x.y, 0);
    const lse = logSumExp(l.map((s) => s.z));
    return tot > 0 ? -l.reduce((s, x) => s + (x.y / tot) * (x.z - lse), 0) : null;
  }));
  close(value((z) => softmaxLoss(z, batch, candidates)), sm);
});

test('SoftSort sorting loss (eq. 10-11)', () => {
  for (const [tau, pow] of [[1, 1], [0.5, 2]]) {
    const softSort = (s: number[]): number[][] => {
      const sorted = [...s].sort((a, b) => b - a);
      return sorted.map((v) => {
        const row = s.map((x) => -(Math.abs(v - x) ** pow) / tau);
        const lse = logSumExp(row);
        return row.map((r) => Math.exp(r - lse));
      });
    };
    const want = meanOf(lists(candidates).map((l) => {
      const Py = softSort(l.map((x) => x.y));
      const Pz = softSort(l.map((x) => x.z));
      let s = 0;
      for (let r = 0; r < l.length; r++) for (let i = 0; i < l.length; i++) s -= Py[r][i] * Math.log(Pz[r][i]);
      return s;
    }));
    close(value((z) => sortingLoss(z, batch, candidates, { tau, pow })), want, 1e-8);
  }
  // Scores ordered like the labels score lower than reversed ones.
  const aligned = labels.map((y, i) => y + 0.01 * i);
  const reversed = aligned.map((v) => -v);
  assert.ok(value((z) => sortingLoss(z, batch, candidates), aligned) < value((z) => sortingLoss(z, batch, candidates), reversed));
});

test('Rankmax (eq. 12) and AM-Rankmax (eq. 13-14)', () => {
  const rankmax = meanOf(lists(all).map((l) => {
    const pos = l.filter((x) => x.y > 0);
    if (!pos.length) return null;
    return pos.reduce((s, j) => s + Math.log(l.reduce((t, i) => t + Math.max(0, i.z - j.z + 1), 0)), 0);
  }));
  close(value((z) => rankmaxLoss(z, batch, all)), rankmax);
  for (const opts of [{}, { alpha: 0.5, delta: 'one' as const }, { alpha: 2, beta: 0.3, p: 2 }]) {
    const { alpha = 1, delta = 'power', beta = 1, p = 1 } = opts as { alpha?: number; delta?: string; beta?: number; p?: number };
    const want = meanOf(lists(all).map((l) => {
      const pos = l.filter((x) => x.y > 0);
      if (!pos.length) return null;
      return pos.reduce((s, j) => {
        let inner = 0;
        for (const i of l) {
          if (!(i.y < j.y)) continue;
          const m = alpha * (i.y === 0 ? 1 : 0) + (delta === 'one' ? 1 : beta * Math.abs(i.y - j.y) ** p);
          inner += Math.max(0, i.z - j.z + m);
        }
        return s + Math.log(1 + inner);
      }, 0);
    }));
    close(value((z) => amRankmaxLoss(z, batch, all, opts)), want);
  }
  // Every margin satisfied (scores spaced by label, far apart): 0.
  close(value((z) => amRankmaxLoss(z, batch, all), labels.map((y) => 10 * y)), 0);
});

test('ApproxNDCG tends to -NDCG as its temperature falls; RankNet and the distillation alternatives', () => {
  const ndcg = meanOf(lists(all).map((l) => {
    const order = [...l].sort((a, b) => b.z - a.z);
    const dcg = order.reduce((s, x, r) => s + (2 ** x.y - 1) / Math.log2(r + 2), 0);
    const ideal = [...l].sort((a, b) => b.y - a.y).reduce((s, x, r) => s + (2 ** x.y - 1) / Math.log2(r + 2), 0);
    return ideal > 0 ? dcg / ideal : null;
  }));
  close(value((z) => approxNdcgLoss(z, batch, all, { temperature: 1e-4 })), -ndcg, 1e-6);
  const T = 0.7;
  const approx = meanOf(lists(all).map((l) => {
    const ideal = [...l].sort((a, b) => b.y - a.y).reduce((s, x, r) => s + (2 ** x.y - 1) / Math.log2(r + 2), 0);
    if (!(ideal > 0)) return null;
    return -l.reduce((s, i) => {
      const rank = 1 + l.filter((j) => j !== i).reduce((t, j) => t + 1 / (1 + Math.exp(-(j.z - i.z) / T)), 0);
      return s + (2 ** i.y - 1) / Math.log2(1 + rank);
    }, 0) / ideal;
  }));
  close(value((z) => approxNdcgLoss(z, batch, all, { temperature: T })), approx);

  const pairwise = (key: 'y' | 'p', sc: number[]): number => meanOf(lists(sc).map((l) => {
    let s = 0, n = 0;
    for (const i of l) for (const j of l) if (i[key] > j[key]) { s += Math.log(1 + Math.exp(-(i.z - j.z))); n++; }
    return n ? s / n : null;
  }));
  close(value((z) => rankNetLoss(z, batch, all)), pairwise('y', all));
  close(value((z) => pairwiseDistillationLoss(z, batch, impressions)), pairwise('p', impressions));
  const inScope = lists(impressions).flat();
  const bce = inScope.reduce((s, x) => s - (x.p * Math.log(1 / (1 + Math.exp(-x.z))) + (1 - x.p) * Math.log(1 - 1 / (1 + Math.exp(-x.z)))), 0) / inScope.length;
  close(value((z) => weightedLoglossDistillation(z, batch, impressions)), bce);
});

test('hybrid (eq. 15) is the weighted sum of its parts over their scopes; zero weights drop a part', () => {
  const w = { distillation: 0.5, sorting: 2, amRankmax: 0.25 };
  const scopes = { impressions, candidates, all };
  const { loss, parts } = scope(() => {
    const r = hybridLoss(f64(zs), batch, scopes, w);
    return { loss: r.loss.item(), parts: r.parts };
  });
  close(parts.distillation, value((z) => distillationLoss(z, batch, impressions)));
  close(parts.sorting, value((z) => sortingLoss(z, batch, candidates)));
  close(parts.amRankmax, value((z) => amRankmaxLoss(z, batch, all)));
  close(loss, 0.5 * parts.distillation + 2 * parts.sorting + 0.25 * parts.amRankmax);
  const only = scope(() => hybridLoss(f64(zs), batch, scopes, { distillation: 0, sorting: 0, amRankmax: 1 }).parts);
  assert.deepEqual(Object.keys(only), ['amRankmax']);
  assert.throws(() => hybridLoss(f64(zs), batch, scopes, { distillation: 0, sorting: 0, amRankmax: 0 }), /every weight is 0/);
});

test('gradient checks (float64) for every ranking loss', () => {
  const rng = new Rng(4);
  const z = randTensor(rng, [G, L]); // random logits: no ties, so |.| and hinges are differentiable here
  const cases: [string, (x: Tensor) => Tensor][] = [
    ['distillation', (x) => distillationLoss(x, batch, impressions)],
    ['sorting', (x) => sortingLoss(x, batch, candidates)],
    ['sorting pow 2', (x) => sortingLoss(x, batch, candidates, { tau: 0.5, pow: 2 })],
    ['rankmax', (x) => rankmaxLoss(x, batch, all)],
    ['amRankmax', (x) => amRankmaxLoss(x, batch, all, { alpha: 0.5, beta: 0.3 })],
    ['softmax', (x) => softmaxLoss(x, batch, candidates)],
    ['approxNdcg', (x) => approxNdcgLoss(x, batch, all, { temperature: 0.8 })],
    ['rankNet', (x) => rankNetLoss(x, batch, all)],
    ['pairwise distillation', (x) => pairwiseDistillationLoss(x, batch, impressions)],
    ['weighted logloss', (x) => weightedLoglossDistillation(x, batch, impressions)],
  ];
  for (const [name, f] of cases) gradCheck(name, f, [z]);
});

test('bad input: wrong logits shape, scope length, missing teacher scores', () => {
  assert.throws(() => value((z) => rankmaxLoss(z, batch, all.slice(1))), /labels and scope need 10 values/);
  assert.throws(() => scope(() => rankmaxLoss(Tensor.from(new Float64Array(10), [10]), batch, all)), /must be \[2, 5\]/);
  assert.throws(() => value((z) => distillationLoss(z, { ...batch, teacher: undefined }, impressions)), /no teacher scores/);
});
