import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/index.js';
import {
  Accuracy, Auc, auc, evaluate, Gauc, gauc, LogLoss, METRICS, relaImpr, relaImprVs, results,
  type Metric, type PointBatch,
} from '../src/eval/index.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** P(score_pos > score_neg) + 0.5 P(tie), over all pairs. */
function pairwiseAuc(s: ArrayLike<number>, y: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) {
    if (y[i] === 1 && y[j] === 0) {
      den++;
      num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return den === 0 ? NaN : num / den;
}

/** Per-user pairwise AUC, weighted by the user's sample count, users with one class left out. */
function bruteGauc(s: number[], y: number[], u: number[]): number {
  const byUser = new Map<number, number[]>();
  u.forEach((id, i) => byUser.set(id, [...(byUser.get(id) ?? []), i]));
  let num = 0;
  let den = 0;
  for (const idx of byUser.values()) {
    const a = pairwiseAuc(idx.map((i) => s[i]), idx.map((i) => y[i]));
    if (Number.isNaN(a)) continue;
    num += idx.length * a;
    den += idx.length;
  }
  return num / den;
}

function randomData(rng: Rng, n: number) {
  const logits = Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 4); // coarse: many ties
  const labels = logits.map((z) => (rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0));
  const users = logits.map(() => rng.int(Math.max(1, n >> 3)));
  return { logits, labels, users };
}

/** Split one batch into random consecutive chunks (some empty). */
function chunks(b: { logits: number[]; labels: number[]; users: number[] }, rng: Rng): PointBatch[] {
  const out: PointBatch[] = [];
  for (let i = 0; i < b.logits.length; ) {
    const j = Math.min(b.logits.length, i + rng.int(20));
    out.push({ logits: b.logits.slice(i, j), labels: b.labels.slice(i, j), users: b.users.slice(i, j) });
    i = j;
  }
  return out;
}

test('AUC: sklearn-style hand values, ties, single class, Infinity', () => {
  assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(auc([0.5, 0.5, 0.2, 0.9], [0, 1, 0, 1]), 0.875);
  assert.equal(auc([3, 3, 3], [1, 0, 1]), 0.5);
  assert.equal(auc([-Infinity, Infinity, Infinity], [0, 1, 0]), 0.75);
  assert.ok(Number.isNaN(auc([1, 2], [0, 0])));
  assert.ok(Number.isNaN(new Auc().compute()));
  assert.throws(() => auc([1, NaN], [0, 1]), /NaN/);
});

test('AUC equals brute-force pairwise; streaming equals one-shot', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 20; trial++) {
    const d = randomData(rng, 2 + rng.int(300));
    const m = new Auc();
    for (const b of chunks(d, rng)) m.update(b);
    const ref = pairwiseAuc(d.logits, d.labels);
    if (Number.isNaN(ref)) assert.ok(Number.isNaN(m.compute()));
    else {
      close(auc(d.logits, d.labels), ref);
      assert.equal(m.compute(), auc(d.logits, d.labels));
    }
    m.reset();
    m.update({ probs: [0.2, 0.7], labels: [0, 1] });
    assert.equal(m.compute(), 1);
  }
});

test('GAUC: hand case, brute force, single-class users excluded', () => {
  const s = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.4];
  const y = [1, 0, 0, 1, 0, 1, 1];
  const u = [1, 1, 1, 2, 2, 3, 3];
  close(gauc(s, y, u), (3 * 1 + 2 * 0) / 5); // user 3 has positives only
  assert.ok(Number.isNaN(gauc([0.1, 0.2], [1, 0], [1, 2])));
  const rng = new Rng(12);
  for (let trial = 0; trial < 20; trial++) {
    const d = randomData(rng, 20 + rng.int(300));
    const m = new Gauc();
    for (const b of chunks(d, rng)) m.update(b);
    close(m.compute(), bruteGauc(d.logits, d.labels, d.users));
    assert.equal(m.compute(), gauc(d.logits, d.labels, d.users));
  }
  assert.throws(() => new Gauc().update({ logits: [1], labels: [1] }), /user id/);
});

test('logloss: hand values, logits equal probabilities, clipping at 1e-7', () => {
  const m = new LogLoss();
  m.update({ probs: [0.1, 0.8, 0.6], labels: [0, 1, 1] });
  close(m.compute(), 0.2797765635793423); // -(ln 0.9 + ln 0.8 + ln 0.6) / 3
  m.reset();
  m.update({ logits: [0.1, 0.8, 0.6].map((p) => Math.log(p / (1 - p))), labels: [0, 1, 1] });
  close(m.compute(), 0.2797765635793423);
  const clipped = -Math.log(1e-7);
  for (const [b, want] of [
    [{ logits: [50], labels: [0] }, clipped],
    [{ logits: [-1e6], labels: [1] }, clipped],
    [{ probs: [1], labels: [0] }, clipped],
    [{ probs: [0], labels: [1] }, clipped],
    [{ logits: [1e6], labels: [1] }, -Math.log(1 - 1e-7)],
    [{ logits: [0], labels: [0.5] }, Math.LN2],
  ] as [PointBatch, number][]) {
    m.reset();
    m.update(b);
    close(m.compute(), want, 1e-9);
  }
  const rng = new Rng(13);
  const d = randomData(rng, 500);
  const ref = d.logits.reduce((acc, z, i) => {
    const p = Math.min(Math.max(1 / (1 + Math.exp(-z)), 1e-7), 1 - 1e-7);
    return acc - (d.labels[i] * Math.log(p) + (1 - d.labels[i]) * Math.log(1 - p));
  }, 0) / d.logits.length;
  m.reset();
  for (const b of chunks(d, rng)) m.update(b);
  close(m.compute(), ref, 1e-12);
  assert.ok(Number.isNaN(new LogLoss().compute()));
});

test('accuracy: threshold 0.5 on probability (strict), logit 0 is the same cut', () => {
  const m = new Accuracy();
  m.update({ probs: [0.2, 0.6, 0.5, 0.9], labels: [0, 1, 1, 0] });
  assert.equal(m.compute(), 0.5);
  m.update({ logits: [-1, 0, 2], labels: [0, 0, 1] });
  assert.equal(m.compute(), 5 / 7);
  m.reset();
  assert.ok(Number.isNaN(m.compute()));
});

test('RelaImpr: DIN formula against a named base', () => {
  close(relaImpr(0.75, 0.7), 25);
  close(relaImpr(0.7, 0.7), 0);
  close(relaImpr(0.6, 0.7), -50);
  assert.ok(Number.isNaN(relaImpr(0.7, 0.5)));
  const t = relaImprVs({ dssm: 0.7, inttower: 0.76, lr: 0.65 }, 'dssm');
  assert.deepEqual(Object.keys(t), ['dssm', 'inttower', 'lr']);
  close(t.dssm, 0);
  close(t.inttower, 30);
  close(t.lr, -25);
  assert.throws(() => relaImprVs({ lr: 0.6 }, 'dssm'), /dssm/);
});

test('registry and evaluate: every pointwise metric streams like one-shot, results flatten', () => {
  const rng = new Rng(14);
  const d = randomData(rng, 400);
  const pointwise: Metric<PointBatch>[] = [METRICS.auc(), METRICS.gauc(), METRICS.logloss(), METRICS.accuracy()];
  const streamed = evaluate(pointwise, chunks(d, rng));
  const once = evaluate(pointwise, [d]);
  assert.deepEqual(Object.keys(streamed), ['auc', 'gauc', 'logloss', 'accuracy']);
  for (const k of ['auc', 'gauc', 'accuracy']) assert.equal(streamed[k], once[k]);
  close(streamed.logloss, once.logloss);
  close(streamed.auc, pairwiseAuc(d.logits, d.labels));
  const ranking = METRICS.ranking({ ks: [5, 1] });
  assert.deepEqual(Object.keys(results([ranking])), [
    'recall@1', 'recall@5', 'ndcg@1', 'ndcg@5', 'precision@1', 'precision@5', 'hitrate@1', 'hitrate@5',
  ]);
  assert.throws(() => results([METRICS.auc(), METRICS.auc()]), /two metrics/);
  for (const [name, make] of Object.entries(METRICS)) {
    const m = (make as (o: { ks: number[] }) => Metric<never>)({ ks: [1] });
    assert.equal(m.name, name);
  }
});
