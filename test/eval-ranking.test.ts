import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/index.js';
import { RankingMetrics, topK, type RankingBatch } from '../src/eval/index.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Candidates by full sort: score descending, lower index first on ties. */
function fullRank(s: ArrayLike<number>, masked: Set<number>): number[] {
  return Array.from({ length: s.length }, (_, i) => i)
    .filter((i) => !masked.has(i))
    .sort((a, b) => s[b] - s[a] || a - b);
}

/** Straight from the definitions in docs/METRICS.md, one user; null when the user is skipped. */
function reference(s: ArrayLike<number>, masked: number[], rel: Map<number, number>, k: number) {
  const m = new Set(masked);
  const gains = new Map([...rel].filter(([i, r]) => !m.has(i) && r > 0).map(([i, r]) => [i, 2 ** r - 1]));
  if (gains.size === 0) return null;
  const list = fullRank(s, m).slice(0, k);
  const hits = list.filter((i) => gains.has(i)).length;
  const dcg = list.reduce((acc, i, p) => acc + (gains.get(i) ?? 0) / Math.log2(p + 2), 0);
  const ideal = [...gains.values()].sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((acc, g, p) => acc + g / Math.log2(p + 2), 0);
  return { recall: hits / gains.size, ndcg: dcg / idcg, precision: hits / k, hitrate: hits > 0 ? 1 : 0 };
}

test('topK equals a full sort (ties by lower index), with exclusions, K > N, K = 0', () => {
  const rng = new Rng(21);
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + rng.int(200);
    const s = Float32Array.from({ length: n }, () => Math.round(rng.normal() * 3));
    const ex = Uint8Array.from({ length: n }, () => (rng.uniform() < 0.2 ? 1 : 0));
    const masked = new Set([...ex.keys()].filter((i) => ex[i] === 1));
    const k = rng.int(n + 10);
    assert.deepEqual([...topK(s, k, ex)], fullRank(s, masked).slice(0, k));
    assert.deepEqual([...topK(s, k)], fullRank(s, new Set()).slice(0, k));
  }
  assert.deepEqual([...topK([1, 1, 1, 1], 2)], [0, 1]);
  assert.deepEqual([...topK([-Infinity, 0, Infinity], 5)], [2, 1, 0]);
  assert.equal(topK([1, 2], 0).length, 0);
  assert.equal(topK([1, 2], 2, [1, 1]).length, 0);
  assert.throws(() => topK([1, NaN], 1), /NaN/);
});

test("topK with nan 'last' ranks NaN scores below -Infinity, among themselves by index, and skips excluded ones", () => {
  const s = [NaN, 2, -Infinity, NaN, 2, NaN, 5];
  assert.deepEqual([...topK(s, 10, undefined, 'last')], [6, 1, 4, 2, 0, 3, 5]);
  assert.deepEqual([...topK(s, 5, undefined, 'last')], [6, 1, 4, 2, 0]);
  assert.deepEqual([...topK(s, 3, undefined, 'last')], [6, 1, 4]);
  assert.deepEqual([...topK(s, 10, [1, 0, 0, 0, 0, 1, 0], 'last')], [6, 1, 4, 2, 3]);
  assert.deepEqual([...topK([NaN, NaN], 1, undefined, 'last')], [0]);
  assert.throws(() => topK([1, NaN], 1, [0, 1]), /score 1 is NaN/, 'the default rule throws even on an excluded NaN');
});

test('hand-made case: masked item, tie broken by index, K larger than N, graded gains', () => {
  const scores = Float32Array.from([0.9, 0.1, 0.8, 0.8, 0.3, 0.7]);
  // candidates ranked: 2 (0.8), 3 (0.8, after 2 by index), 5, 4, 1; item 0 masked
  const m = new RankingMetrics({ ks: [2, 4, 10] });
  m.update({ scores, masked: [[0]], relevant: [[3, 4]] });
  const r = m.compute();
  const l3 = Math.log2(3);
  close(r['recall@2'], 0.5);
  close(r['precision@2'], 0.5);
  close(r['hitrate@2'], 1);
  close(r['ndcg@2'], 1 / l3 / (1 + 1 / l3));
  close(r['recall@4'], 1);
  close(r['ndcg@4'], (1 / l3 + 1 / Math.log2(5)) / (1 + 1 / l3));
  close(r['recall@10'], 1);
  close(r['precision@10'], 0.2);
  close(r['ndcg@10'], r['ndcg@4']);
  const g = new RankingMetrics({ ks: [2], families: ['ndcg'] });
  g.update({ scores, masked: [[0]], relevant: [[3, 4]], relevance: [[2, 1]] });
  assert.deepEqual(Object.keys(g.compute()), ['ndcg@2']);
  close(g.compute()['ndcg@2'], 3 / l3 / (3 + 1 / l3));
});

test('items scored -Infinity were not retrieved: they never enter a top-K, even when K is longer than what was retrieved', () => {
  // retrieved: 2 (0.8), 5 (0.7); relevant: 5 and 4, and 4 was not retrieved; item 0 masked
  const scores = Float32Array.from([0.9, -Infinity, 0.8, -Infinity, -Infinity, 0.7]);
  const m = new RankingMetrics({ ks: [1, 2, 5] });
  m.update({ scores, masked: [[0]], relevant: [[5, 4]] });
  const r = m.compute();
  const l3 = Math.log2(3);
  close(r['recall@1'], 0);
  close(r['recall@2'], 0.5);
  close(r['ndcg@2'], 1 / l3 / (1 + 1 / l3));
  close(r['recall@5'], 0.5, 1e-12);
  close(r['precision@5'], 0.2);
  close(r['ndcg@5'], r['ndcg@2']);
});

test('random users: batch [U, N], per-user [N] and the explicit formulas agree', () => {
  const rng = new Rng(22);
  const ks = [1, 3, 10, 50];
  const n = 40;
  const u = 30;
  const scores = Float64Array.from({ length: u * n }, () => Math.round(rng.normal() * 4) / 4);
  const masked: number[][] = [];
  const relevant: number[][] = [];
  const relevance: number[][] = [];
  for (let i = 0; i < u; i++) {
    const perm = rng.shuffle(Array.from({ length: n }, (_, j) => j));
    masked.push(perm.slice(0, rng.int(n)));
    relevant.push(perm.slice(n - 1 - rng.int(6)).concat(rng.uniform() < 0.3 ? [perm[0]] : [])); // may overlap masked
    relevance.push(relevant[i].map(() => rng.int(4)));
  }
  for (const graded of [false, true]) {
    const batch: RankingBatch = { scores, masked, relevant, relevance: graded ? relevance : undefined };
    const whole = new RankingMetrics({ ks });
    whole.update(batch);
    const streamed = new RankingMetrics({ ks });
    const sums: Record<string, number> = {};
    let users = 0;
    for (let i = 0; i < u; i++) {
      const row = new Float32Array(scores.subarray(i * n, (i + 1) * n)); // quarter steps are exact in float32
      streamed.update({ scores: row, masked: [masked[i]], relevant: [relevant[i]], relevance: graded ? [relevance[i]] : undefined });
      const rel = new Map(relevant[i].map((item, j) => [item, graded ? relevance[i][j] : 1]));
      let counted = false;
      for (const k of ks) {
        const ref = reference(row, masked[i], rel, k);
        if (ref === null) continue;
        counted = true;
        for (const [f, v] of Object.entries(ref)) sums[`${f}@${k}`] = (sums[`${f}@${k}`] ?? 0) + v;
      }
      if (counted) users++;
    }
    assert.equal(whole.users, users);
    assert.equal(whole.users + whole.skippedUsers, u);
    const a = whole.compute();
    const b = streamed.compute();
    for (const key of Object.keys(a)) {
      close(a[key], sums[key] / users);
      assert.equal(a[key], b[key]);
    }
  }
});

test('edge cases: all items masked, relevant item masked, no users, bad input', () => {
  const m = new RankingMetrics({ ks: [5] });
  m.update({ scores: new Float32Array([1, 2, 3]), masked: [[0, 1, 2]], relevant: [[1]] });
  assert.equal(m.users, 0);
  assert.equal(m.skippedUsers, 1);
  assert.ok(Number.isNaN(m.compute()['recall@5']));
  m.update({ scores: new Float32Array([1, 2, 3]), masked: [[2]], relevant: [[2, 0]] });
  assert.equal(m.compute()['recall@5'], 1); // item 2 dropped from the ground truth
  m.reset();
  assert.equal(m.users, 0);
  m.update({ scores: new Float32Array(0), relevant: [] });
  assert.ok(Number.isNaN(m.compute()['ndcg@5']));
  const bad = (b: RankingBatch, re: RegExp): void => assert.throws(() => m.update(b), re);
  bad({ scores: new Float32Array(5), relevant: [[0], [1]] }, /split/);
  bad({ scores: new Float32Array(3), relevant: [[3]] }, /outside/);
  bad({ scores: new Float32Array(3), masked: [[-1]], relevant: [[0]] }, /outside/);
  bad({ scores: new Float32Array(3), relevant: [[1, 1]] }, /twice/);
  bad({ scores: new Float32Array([0, NaN, 1]), relevant: [[1]] }, /NaN/);
  bad({ scores: new Float32Array(3), relevant: [[1]], relevance: [[1, 2]] }, /relevance values/);
  m.update({ scores: new Float32Array([0, 1, 2]), relevant: [[2]] }); // buffers were cleared after each error
  assert.equal(m.compute()['hitrate@5'], 1);
  assert.equal(m.users, 1);
  assert.throws(() => new RankingMetrics({ ks: [0] }), /positive/);
});
