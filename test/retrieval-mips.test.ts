// Inner-product search as a search by angle: index vectors are stored as [v, sqrt(M^2 - |v|^2)] / M and searched with
// [q, 0]. An HNSW graph built on raw inner products links every vector to long ones, so when the best answers are
// short vectors (a query whose inner products are all negative, say) the search does not reach them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/index.js';
import { newUsearch } from '../src/export/ann-index.js';
import { augmentedVectors, augmentQuery, augmentRows, innerProducts, maxNorm } from '../src/export/mips.js';
import { buildAnnIndex, openUsearch } from '../src/serve/ann.js';
import { usearchHeads } from '../src/export/multi-vector-source.js';

const N = 2000, P = 8, K = 10;

/** Rows along axis 0 plus noise, norm ~10, except every 10th row, ~0.1: the best answers for queries along -axis 0. */
function corpus(): Float32Array {
  const rng = new Rng(5);
  const reps = new Float32Array(N * P);
  for (let r = 0; r < N; r++) {
    const f = r % 10 === 0 ? 0.1 : 10;
    for (let j = 0; j < P; j++) reps[r * P + j] = ((j === 0 ? 1 : 0) + 0.3 * rng.normal()) * f;
  }
  return reps;
}

test('augmented rows are unit vectors whose inner product with [q, 0] is <q, v> / M', () => {
  const x = Float32Array.of(3, 4, 0, 1, 0, 0);
  const m = maxNorm(x, 3);
  assert.equal(m, 5);
  const a = augmentRows(x, 3, m);
  for (let r = 0; r < 2; r++) assert.ok(Math.abs(Math.hypot(...a.subarray(r * 4, r * 4 + 4)) - 1) < 1e-6);
  const q = augmentQuery(Float32Array.of(1, 2, 3));
  assert.deepEqual([...innerProducts(a, 4, q)].map((d) => Math.round(d * 1e6) / 1e6), [11 / 5, 1 / 5]);
});

test('the index finds short vectors that are the best inner products, which a raw inner-product graph misses', async () => {
  const reps = corpus();
  const qr = new Rng(9);
  const recall = { raw: 0, augmented: 0 };
  const raw = (await buildAnnIndex(reps, P, 'usearch', null)).index;
  const aug = (await buildAnnIndex(reps, P, 'usearch', null, augmentedVectors(reps, P))).index;
  for (let i = 0; i < 20; i++) {
    const q = Float32Array.from({ length: P }, (_, j) => (j === 0 ? -1 : 0.3 * qr.normal()));
    const dots = innerProducts(reps, P, q);
    const top = new Set([...dots.keys()].sort((a, b) => dots[b] - dots[a]).slice(0, K));
    recall.raw += [...raw.search(q, K)].filter((r) => top.has(r)).length / (20 * K);
    recall.augmented += [...aug.search(q, K)].filter((r) => top.has(r)).length / (20 * K);
  }
  assert.ok(recall.augmented >= 0.95, `augmented index recall@${K} ${recall.augmented}`);
  assert.ok(recall.raw < recall.augmented, `the raw inner-product graph (${recall.raw}) is the failure this guards against`);
});

test('head searches through an augmented index report the inner products <q, v>', async () => {
  const reps = corpus().subarray(0, 200 * P);
  const vectors = augmentedVectors(reps, P);
  const { index } = await openUsearch(await newUsearch(P + 1), { rows: 200, get: () => reps }, null, { vectors });
  const search = usearchHeads(index, 1, vectors);
  const q = Float32Array.of(-1, 0.5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0); // two query vectors
  const r = search(q, 5);
  for (let a = 0; a < 2; a++) {
    const dots = innerProducts(reps, P, q.subarray(a * P, (a + 1) * P));
    for (let j = 0; j < 5; j++) {
      const key = Number(r.keys[a * r.stride + j]);
      assert.ok(Math.abs(r.sims[a * r.stride + j] - dots[key]) < 1e-3 * Math.max(1, Math.abs(dots[key])), `query ${a} hit ${j}`);
    }
  }
});
