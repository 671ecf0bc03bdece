// The export measures its retrieval index's search settings on sampled users (src/export/search-calibration.ts):
// recall against exact search with a hand-made table, the depth chosen on a table whose users point away from the
// items (where the fixed default misses), and the manifest entry that records it; for max-sim indexes, the ladder,
// the choice over a generator of known recall, and the defaults an export of a max-sim table records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, Tensor } from '../src/core/index.js';
import { newUsearch } from '../src/export/ann-index.js';
import type { Bundle } from '../src/export/bundle.js';
import { unionSorted, type CandidateSource } from '../src/export/candidate-source.js';
import type { ItemsInfo } from '../src/export/manifest.js';
import { centroidDefaults, INNER_PRODUCT_DEFAULTS, multiVectorDefaults, retrievalSummary, writeRetrievalIndex } from '../src/export/retrieval-index.js';
import { CALIBRATION_QUERIES, CALIBRATION_TARGET, calibrateInnerProduct, calibrateMultiVector, calibrateWithShared, ExactTargets,
  MULTI_VECTOR_TARGET, multiVectorLadder, recallAgainstExact, SHARED_USERS, sharedRows, sharedUsers } from '../src/export/search-calibration.js';
import { innerProducts } from '../src/export/mips.js';
import { topK } from '../src/eval/top-k.js';
import type { RecModel } from '../src/models/types.js';
import { UsearchIndex } from '../src/serve/ann.js';
import { InnerProductSource, openCandidateSource } from '../src/serve/candidates.js';
import { tempDir } from './serve-fixture.js';

test('recall against exact search: ties with the k-th count, at most k per query, averaged over queries', () => {
  // rows . q = 5, 4, 4, 3, 1 for q = [1, 0]; the top-2 is row 0 and either of rows 1, 2
  const rows = Float32Array.from([5, 0, 4, 1, 4, -1, 3, 0, 1, 0]);
  const q = Float32Array.from([1, 0, 1, 0]); // the same query twice
  const [all, half, ties, none] = recallAgainstExact(rows, 2, q, 2, [
    () => [0, 1], () => [0, 3], () => [2, 1, 0], () => [3, 4],
  ]);
  assert.equal(all, 1);
  assert.equal(half, 0.5);
  assert.equal(ties, 1, 'three hits at or above the 2nd score count as 2');
  assert.equal(none, 0);
});

/** N unit rows leaning towards a direction m, and `users` unit queries pointing away from it (-m plus noise). */
function awayTable(n: number, dim: number, users: number, seed: number): { reps: Float32Array; users: Float32Array } {
  const rng = new Rng(seed);
  const unit = (v: Float32Array) => { const s = Math.hypot(...v); return v.map((x) => x / s); };
  const m = unit(Float32Array.from({ length: dim }, () => rng.normal()));
  const reps = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) reps.set(unit(Float32Array.from({ length: dim }, (_, j) => 2 * m[j] + rng.normal() / Math.sqrt(dim))), r * dim);
  const q = new Float32Array(users * dim);
  for (let u = 0; u < users; u++) q.set(unit(Float32Array.from({ length: dim }, (_, j) => -m[j] + 0.3 * rng.normal() / Math.sqrt(dim))), u * dim);
  return { reps, users: q };
}

test('the export calibrates the inner-product index depth on its sampled users: deeper where the fixed default misses, and it holds for other users', async () => {
  const dim = 16, n = 20_000;
  const { reps, users } = awayTable(n, dim, CALIBRATION_QUERIES + 32, 5);
  const dir = tempDir('calibration');
  mkdirSync(join(dir, 'items'), { recursive: true });
  try {
    const items: Extract<ItemsInfo, { cached: true }> = {
      cached: true, count: n, dim, userDim: dim, dtype: 'float32', exportCheck: { maxAbsError: 0, pairs: 0 }, accuracy: null,
      retrieval: { metric: 'ip', scale: 1, offset: 0, maxResidual: 0 },
    };
    const model = { kind: 'dssm' } as RecModel; // an inner-product index reads no model
    const calibrated = users.subarray(0, CALIBRATION_QUERIES * dim), fresh = users.subarray(CALIBRATION_QUERIES * dim);
    const info = await writeRetrievalIndex(model, items, reps, dir, { annIndex: true, headQuantization: 'f16', users: calibrated });
    assert.equal(info.kind, 'inner-product');
    if (info.kind !== 'inner-product') return;
    const c = info.calibration!;
    assert.ok(c, 'the manifest entry records the calibration');
    assert.equal(c.queries, CALIBRATION_QUERIES);
    assert.equal(c.k, 100);
    const at = (ef: number) => c.curve.find((p) => p.ef === ef)!.recall;
    assert.ok(at(INNER_PRODUCT_DEFAULTS.ef) < CALIBRATION_TARGET, `the fixed default finds ${at(INNER_PRODUCT_DEFAULTS.ef)} here`);
    assert.ok(info.defaults.ef > INNER_PRODUCT_DEFAULTS.ef && at(info.defaults.ef) >= CALIBRATION_TARGET, JSON.stringify(c.curve));
    assert.ok(c.curve.every((p) => p.ef! >= info.defaults.ef || p.recall < CALIBRATION_TARGET), 'the shallowest depth that reaches the target');
    assert.deepEqual({ ...info.defaults, ef: INNER_PRODUCT_DEFAULTS.ef }, INNER_PRODUCT_DEFAULTS, 'only ef changes');
    // what `prerank export` prints of it
    assert.match(retrievalSummary(info), new RegExp(`^retrieval: HNSW inner product, ef ${info.defaults.ef} \\(recall@100 on 32 sampled users: 512 0\\.\\d{3}, 1024 0\\.\\d{3}, `));

    // other users of the same kind, through the serving candidate source at the recorded defaults and at the old one
    const index = await newUsearch(dim + 1);
    index.view(join(dir, info.file!));
    const source = new InnerProductSource(new UsearchIndex(index, info.vectors), info.defaults);
    const [now, before] = recallAgainstExact(reps, dim, fresh, 100, [
      (q) => source.candidates(q, 100, info.defaults),
      (q) => source.candidates(q, 100, INNER_PRODUCT_DEFAULTS),
    ]);
    assert.ok(now >= 0.98, `recall@100 of other users at the calibrated ef ${info.defaults.ef}: ${now}`);
    assert.ok(before < now, `at the fixed ef ${INNER_PRODUCT_DEFAULTS.ef}: ${before}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('calibration keeps the deepest depth tried when none reaches the target, and does not run on tables the ladder covers', async () => {
  const dim = 4, n = 3000;
  const rng = new Rng(2);
  const reps = Float32Array.from({ length: n * dim }, () => rng.normal());
  const users = Float32Array.from({ length: 4 * dim }, () => rng.normal());
  // an index that returns the same wrong rows at every depth
  const wrong = { search: (_q: Float32Array, k: number) => ({ keys: BigUint64Array.from({ length: k }, () => 0n), distances: new Float32Array(k) }) };
  const targets = (rows: Float32Array, of: Float32Array) => ExactTargets.ofUsers(of, dim, (q) => innerProducts(rows, dim, q, new Float64Array(rows.length / dim)));
  const c = calibrateInnerProduct(wrong as never, n, targets(reps, users));
  assert.deepEqual(c?.calibration.curve.map((p) => p.ef), [512, 1024, 2048]);
  assert.equal(c?.ef, 2048);
  assert.ok(c!.calibration.curve.every((p) => p.recall <= 0.01));
  assert.equal(calibrateInnerProduct(wrong as never, 512, targets(reps.subarray(0, 512 * dim), users)), null, '512 rows: every search covers the table');
  assert.equal(calibrateInnerProduct(wrong as never, n, targets(reps, new Float32Array(0))), null, 'no users');
});

test('the export line names every retrieval index kind with its default search settings', () => {
  const layout = { heads: 8, size: 64, offset: 0, queries: 24, userOffset: 0, normalize: false, fidelity: 'exact' as const };
  const d = { perHead: 256, sumDepth: 1024, ef: 256, maxCandidates: 8192 };
  assert.equal(retrievalSummary({ kind: 'multi-vector', file: 'items/heads.usearch', layout, quantization: 'f16', defaults: d }),
    "retrieval: HNSW over 8 item vectors of 64 per item, 24 per user, k' 256, ef 256, cap 8192");
  assert.equal(retrievalSummary({ kind: 'multi-vector-centroids', file: null, layout: { ...layout, anchors: { user: '', item: '' } }, centroids: 4096, defaults: { ...d, nprobe: 1 } }),
    'retrieval: 4096 centroids over 8 item vectors of 64 per item, 24 per user, anchored, built when loaded, nprobe 1, cap 8192');
  assert.equal(retrievalSummary({ kind: 'inner-product', file: 'items/ann.usearch', defaults: INNER_PRODUCT_DEFAULTS }), 'retrieval: HNSW inner product, ef 1024');
  assert.equal(retrievalSummary({ kind: 'inner-product', file: 'items/ann.usearch', defaults: { ...INNER_PRODUCT_DEFAULTS, ef: 512 }, shared: { rows: [1, 5, 9], users: 64, k: 100 },
    calibration: { queries: 32, k: 100, target: 0.99, curve: [{ ef: 512, recall: 0.996 }] } }),
  'retrieval: HNSW inner product, ef 512 (recall@100 on 32 sampled users, with 3 shared rows: 512 0.996)');
  assert.equal(retrievalSummary({ kind: 'none', reason: "'lr' scores no inner product" }), "retrieval: exact mode only ('lr' scores no inner product)");
  assert.equal(retrievalSummary(undefined), 'retrieval: exact mode only (written before retrieval indexes)');
});

test('multi-vector ladders go by cap, then by search depth, within [1,024, 16,384]', () => {
  const base = { perHead: 256, sumDepth: 1024, ef: 256, maxCandidates: 8192, nprobe: 1 };
  assert.deepEqual(multiVectorLadder('multi-vector-centroids', base).slice(0, 4),
    [{ nprobe: 1, maxCandidates: 4096 }, { nprobe: 2, maxCandidates: 4096 }, { nprobe: 4, maxCandidates: 4096 }, { nprobe: 1, maxCandidates: 8192 }]);
  assert.deepEqual([...new Set(multiVectorLadder('multi-vector', base).map((s) => s.maxCandidates))], [4096, 8192, 16384]);
  assert.deepEqual(multiVectorLadder('multi-vector', base).slice(0, 4).map((s) => s.perHead), [128, 256, 512, 1024]);
  assert.deepEqual([...new Set(multiVectorLadder('multi-vector', { ...base, maxCandidates: 1024 }).map((s) => s.maxCandidates))], [1024, 2048, 4096]);
});

test('a multi-vector calibration keeps the first setting that reaches the target, else the best, measured against exact scores', () => {
  // 1,000 items whose exact score for every user is -row: the exact top-100 is rows 0-99. The fake generator returns
  // the first floor(cap / 20) + 11 nprobe rows of the top-100 (rows from 100 up pad it): recall grows with both.
  const exact = () => Float32Array.from({ length: 1000 }, (_, r) => -r);
  const source = {
    kind: 'centroids', index: 'multi-vector-centroids', defaults: { perHead: 0, ef: 0, maxCandidates: 1024, nprobe: 1 }, close() {},
    candidates: (_rep: Float32Array, _k: number, s: { maxCandidates: number; nprobe?: number }) => {
      const top = Math.min(100, Math.floor(s.maxCandidates / 20) + (s.nprobe ?? 1) * 11);
      return Int32Array.from({ length: 300 }, (_, j) => (j < top ? j : 100 + j));
    },
  } as unknown as CandidateSource;
  const users = new Float32Array(40 * 3);
  const ladder = [{ nprobe: 1, maxCandidates: 1024 }, { nprobe: 2, maxCandidates: 1024 }, { nprobe: 4, maxCandidates: 1024 }, { nprobe: 1, maxCandidates: 2048 }];
  const c = calibrateMultiVector(source, ExactTargets.ofUsers(users, 3, exact), source.defaults, ladder)!;
  // recall: (51 + 11) / 100, (51 + 22) / 100, (51 + 44) / 100, then all at cap 2,048 (102 + 11)
  assert.deepEqual(c.calibration.curve.map((p) => p.recall), [0.62, 0.73, 0.95, 1]);
  assert.equal(c.calibration.queries, CALIBRATION_QUERIES, 'at most CALIBRATION_QUERIES users');
  assert.deepEqual(c.defaults, { perHead: 0, ef: 0, nprobe: 4, maxCandidates: 1024 }, 'the first setting at the target, not the best');
  const short = calibrateMultiVector(source, ExactTargets.ofUsers(users, 3, exact), source.defaults, ladder.slice(0, 2))!;
  assert.deepEqual(short.defaults, { ...source.defaults, nprobe: 2 }, 'none reaches it: the best one');
  assert.equal(short.calibration.target, MULTI_VECTOR_TARGET);
  assert.equal(calibrateMultiVector(source, ExactTargets.ofUsers(new Float32Array(0), 3, exact), source.defaults, ladder), null, 'no users');
});

/**
 * A max-sim model over plain tables for the export: Q query vectors and H item heads of size P, score = sum over
 * queries of the max over heads of the dot product (IntTower's FE-Block form).
 */
function maxSimModel(q: number, h: number, p: number): RecModel {
  return {
    kind: 'int-tower',
    servingPlan: () => ({ spec: { repLength: q * p, score: { kind: 'maxsim', scale: 1, heads: h, headSize: p } } }),
    training: false, eval() {}, train() {},
    score(u: Tensor, items: Tensor): Tensor {
      const uf = u.data as Float32Array, vf = items.data as Float32Array, m = items.shape[0], out = new Float32Array(m);
      for (let r = 0; r < m; r++) {
        for (let a = 0; a < q; a++) {
          let best = -Infinity;
          for (let b = 0; b < h; b++) {
            let d = 0;
            for (let j = 0; j < p; j++) d += uf[a * p + j] * vf[r * h * p + b * p + j];
            best = Math.max(best, d);
          }
          out[r] += best;
        }
      }
      return Tensor.from(out, [m]);
    },
  } as unknown as RecModel;
}

for (const headIndex of ['centroids', 'hnsw'] as const) {
  test(`the export measures its max-sim ${headIndex} index's defaults on its sampled users, and they hold for other users`, async () => {
    const [q, h, p, n] = [4, 4, 8, 20_000];
    const rng = new Rng(9);
    const reps = Float32Array.from({ length: n * h * p }, () => rng.normal());
    const users = Float32Array.from({ length: (CALIBRATION_QUERIES + 32) * q * p }, () => rng.normal());
    const dir = tempDir(`calibration-${headIndex}`);
    mkdirSync(join(dir, 'items'), { recursive: true });
    try {
      const items: Extract<ItemsInfo, { cached: true }> = {
        cached: true, count: n, dim: h * p, userDim: q * p, dtype: 'float32', exportCheck: { maxAbsError: 0, pairs: 0 }, accuracy: null, retrieval: null,
      };
      const model = maxSimModel(q, h, p);
      const calibrated = users.subarray(0, CALIBRATION_QUERIES * q * p), fresh = users.subarray(CALIBRATION_QUERIES * q * p);
      const info = await writeRetrievalIndex(model, items, reps, dir, { annIndex: true, headQuantization: 'f32', headIndex, users: calibrated });
      assert.ok(info.kind === 'multi-vector' || info.kind === 'multi-vector-centroids');
      if (info.kind !== 'multi-vector' && info.kind !== 'multi-vector-centroids') return;
      const c = info.calibration!;
      assert.equal(c.curve.length, multiVectorLadder(info.kind, info.kind === 'multi-vector' ? multiVectorDefaults(info.layout) : centroidDefaults(info.layout)).length);
      const chosen = c.curve.find((s) => Object.entries(s).every(([k, v]) => k === 'recall' || info.defaults[k as keyof typeof info.defaults] === v))!;
      assert.ok(chosen, 'the defaults are a setting of the curve');
      const first = c.curve.find((s) => s.recall >= c.target);
      assert.equal(chosen, first ?? c.curve.reduce((b, s) => (s.recall > b.recall ? s : b)), JSON.stringify(c.curve));
      assert.match(retrievalSummary(info), /\(recall@100 on 32 sampled users: /);

      // other users through the serving generator at the recorded defaults: about what the calibration measured
      const bundle = { items: { ids: { size: n }, dim: h * p, dtype: 'float32', data: reps }, model, manifest: { items: { ...items, retrievalIndex: info }, files: {} },
        annIndexPath: async (f: string) => join(dir, f) } as unknown as Bundle;
      const { source } = await openCandidateSource(bundle, 'usearch');
      const exact = (rep: Float32Array) => model.score!(Tensor.from(rep, [1, q * p]), Tensor.from(reps, [n, h * p])).data as Float32Array;
      let hits = 0;
      for (let u = 0; u < 32; u++) {
        const rep = fresh.slice(u * q * p, (u + 1) * q * p);
        const s = exact(rep);
        const kth = [...s].sort((a, b) => b - a)[99];
        hits += Math.min(100, [...source!.candidates(rep, 100, info.defaults)].filter((r) => s[r] >= kth).length);
      }
      assert.ok(Math.abs(hits / 3200 - chosen.recall) < 0.05, `other users: ${hits / 3200}, calibration: ${chosen.recall}`);
      source!.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('shared rows: the rows in the most exact top-k lists, at most max, returned ascending; unions of sorted rows stay distinct', () => {
  // three users over 6 rows; their top-2 lists: {5, 4}, {5, 3}, {5, 4}
  const scores = [[0, 1, 2, 3, 9, 10], [0, 1, 2, 8, 3, 10], [0, 1, 2, 3, 9, 10]];
  let u = 0;
  const exact = () => scores[u++];
  assert.deepEqual(Array.from(sharedRows(exact, new Float32Array(3), 1, 2)), [3, 4, 5]);
  u = 0;
  assert.deepEqual(Array.from(sharedRows(exact, new Float32Array(3), 1, 2, 2)), [4, 5], 'the two in the most lists');
  assert.deepEqual(Array.from(unionSorted(Int32Array.from([1, 4, 7]), Int32Array.from([0, 4, 9]))), [0, 1, 4, 7, 9]);
  assert.deepEqual(Array.from(unionSorted(new Int32Array(0), Int32Array.from([2]))), [2]);
});

test('calibration adds shared rows only where the index alone misses the target, and keeps them when they find what it misses', () => {
  // rows 0-99 score highest for every user (a large first coordinate; users point along it): the case of a model
  // whose top items are nearly everyone's, which an index that never reaches them (here: always row 2,999) misses
  const dim = 4, n = 3000;
  const rng = new Rng(4);
  const reps = Float32Array.from({ length: n * dim }, (_, i) => (i % dim === 0 && i < 100 * dim ? 10 : 0) + 0.1 * rng.normal());
  const users = Float32Array.from({ length: (CALIBRATION_QUERIES + SHARED_USERS) * dim }, (_, i) => (i % dim === 0 ? 1 : 0.1 * rng.normal()));
  const never = { search: (_q: Float32Array, k: number) => ({ keys: BigUint64Array.from({ length: k }, () => 2999n), distances: new Float32Array(k) }) };
  const scores = new Float64Array(n);
  let scans = 0;
  const exact = (q: Float32Array) => (scans++, innerProducts(reps, dim, q, scores));
  const rows = () => sharedRows(exact, sharedUsers(users, dim), dim);
  let targets = ExactTargets.ofUsers(users, dim, exact);
  const missed = calibrateWithShared((shared) => calibrateInnerProduct(never as never, n, targets, undefined, shared), rows)!;
  assert.deepEqual(Array.from(missed.shared!), Array.from({ length: 100 }, (_, r) => r), 'every user\'s top-100');
  assert.equal(scans, CALIBRATION_QUERIES + SHARED_USERS, 'one exact scan per calibration user (both runs share it) and per shared-rows user');
  assert.ok(missed.result.calibration.curve.every((p) => p.recall === 1), JSON.stringify(missed.result.calibration.curve));
  // an index that finds the exact top-100 carries none, and the shared rows are not even computed
  const exactIndex = { search: (q: Float32Array, k: number) => ({ keys: BigUint64Array.from(topK(innerProducts(reps, dim, q, new Float64Array(n)), k), BigInt), distances: new Float32Array(k) }) };
  scans = 0;
  targets = ExactTargets.ofUsers(users, dim, exact);
  const found = calibrateWithShared((shared) => calibrateInnerProduct(exactIndex as never, n, targets, undefined, shared), rows)!;
  assert.equal(found.shared, null);
  assert.equal(scans, CALIBRATION_QUERIES, 'the calibration users only');
});

test('a bundle\'s shared rows join every index answer; rows that are not ascending rows of the table are refused by name', async () => {
  const dim = 8, n = 2000;
  const rng = new Rng(6);
  const reps = Float32Array.from({ length: n * dim }, () => rng.normal());
  const bundleWith = (rows: unknown) => ({
    items: { ids: { size: n }, dim, dtype: 'float32', data: reps }, model: null,
    manifest: { items: { cached: true, count: n, dim, userDim: dim, retrieval: { metric: 'ip' },
      retrievalIndex: { kind: 'inner-product', file: null, defaults: INNER_PRODUCT_DEFAULTS, shared: { rows, users: 64, k: 100 } } }, files: {} },
    annIndexPath: async () => null,
  }) as unknown as Bundle;
  const { source } = await openCandidateSource(bundleWith([5, 17, 1999]), 'usearch');
  const got = source!.candidates(reps.subarray(0, dim), 10, { ...INNER_PRODUCT_DEFAULTS, maxCandidates: 10 });
  for (const r of [5, 17, 1999]) assert.ok(got.includes(r), `row ${r} in ${got}`);
  assert.ok(got.length >= 10 && got.length <= 13 && got.every((r, i) => i === 0 || r > got[i - 1]), `ascending distinct: ${got}`);
  source!.close();
  const exact = await openCandidateSource(bundleWith([5, 17, 1999]), 'brute-force');
  assert.equal(exact.source!.candidates(reps.subarray(0, dim), 10, { ...INNER_PRODUCT_DEFAULTS, maxCandidates: 10 }).length, 10, 'the exact scan finds the top itself: no shared rows');
  await assert.rejects(openCandidateSource(bundleWith([5, 5]), 'usearch'), /items\.retrievalIndex\.shared\.rows entry 1 \(5\) is not a row of the 2000-row table above the one before it/);
  await assert.rejects(openCandidateSource(bundleWith([2000]), 'usearch'), /entry 0 \(2000\)/);
  await assert.rejects(openCandidateSource(bundleWith('x'), 'usearch'), /shared\.rows is not a list/);
});
