// The centroid index for max-sim retrieval (src/export/head-centroids.ts, src/serve/centroid-source.ts): nearest
// centroids and inverted lists against brute force in float64, k-means on planted clusters, the file's round trip
// and its checks, the native centroid max-sim against its reference, and a bundle whose probes cover every list
// returning exactly the exact top-k.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/core/index.js';
import { exportBundle } from '../src/export/index.js';
import type { BundleManifest } from '../src/export/manifest.js';
import { buildHeadCentroids, invertedLists, kmeans, loadHeadCentroids, nearestCentroids, saveHeadCentroids } from '../src/export/head-centroids.js';
import { centroidMaxSimReference, probesOf, type CentroidSource } from '../src/export/centroid-source.js';
import { topK } from '../src/eval/top-k.js';
import { serveAddon } from '../src/serve/native.js';
import { Deployment } from '../src/serve/service.js';
import { createServer } from '../src/serve/server.js';
import type { UserFeatures } from '../src/serve/scorer.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

const randn = (rng: Rng, n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

test('nearestCentroids picks the centroid a float64 brute force finds nearest', () => {
  const rng = new Rng(3);
  const p = 12, m = 3000, c = 37;
  const x = randn(rng, m * p), cent = randn(rng, c * p);
  const got = new Int32Array(m);
  nearestCentroids(x, p, cent, got);
  for (let i = 0; i < m; i++) {
    const d = (j: number) => { let s = 0; for (let k = 0; k < p; k++) s += (x[i * p + k] - cent[j * p + k]) ** 2; return s; };
    let best = 0;
    for (let j = 1; j < c; j++) if (d(j) < d(best)) best = j;
    assert.ok(got[i] === best || Math.abs(d(got[i]) - d(best)) <= 1e-4 * d(best), `row ${i}: ${got[i]} (${d(got[i])}) vs ${best} (${d(best)})`);
  }
});

test('kmeans ends at a fixed point of Lloyd: each centroid the float64 mean of the rows nearest to it; lists hold the items with a head there', () => {
  const rng = new Rng(5);
  const p = 8, k = 6, per = 200;
  const centres = Array.from({ length: k }, () => randn(rng, p).map((v) => 20 * v));
  const x = new Float32Array(k * per * p);
  for (let i = 0; i < k * per; i++) for (let d = 0; d < p; d++) x[i * p + d] = centres[i % k][d] + 0.1 * rng.normal();
  const cent = kmeans(x, p, k, { seed: 2, iterations: 30, sample: k * per });
  const sums = new Float64Array(k * p), counts = new Float64Array(k);
  for (let i = 0; i < k * per; i++) {
    const d = (j: number) => { let s = 0; for (let e = 0; e < p; e++) s += (x[i * p + e] - cent[j * p + e]) ** 2; return s; };
    let best = 0;
    for (let j = 1; j < k; j++) if (d(j) < d(best)) best = j;
    counts[best]++;
    for (let e = 0; e < p; e++) sums[best * p + e] += x[i * p + e];
  }
  for (let j = 0; j < k; j++) {
    assert.ok(counts[j] > 0, `centroid ${j} is empty`);
    for (let e = 0; e < p; e++) assert.ok(Math.abs(cent[j * p + e] - sums[j * p + e] / counts[j]) <= 1e-3, `centroid ${j}[${e}]`);
  }
  const heads = 3;
  const ix = buildHeadCentroids(x, p, heads, k, { seed: 2 });
  assert.deepEqual(Array.from(ix.codes.subarray(0, 60)), Array.from(nearest(x.subarray(0, 60 * p), p, ix.centroids)));
  // codes where an item's heads often share a centroid: each list holds each item once
  const n = 300;
  const codes = Uint16Array.from({ length: n * heads }, (_, i) => (i % 5 === 0 ? rng.int(k) : Math.floor(i / heads) % k));
  const { offsets, lists } = invertedLists(codes, heads, k);
  for (let c = 0; c < k; c++) {
    const want = Array.from({ length: n }, (_, r) => r).filter((r) => [0, 1, 2].some((h) => codes[r * heads + h] === c));
    assert.deepEqual(Array.from(lists.subarray(offsets[c], offsets[c + 1])), want, `list ${c}`);
  }
});

const nearest = (x: Float32Array, p: number, cent: Float32Array): Int32Array => {
  const out = new Int32Array(x.length / p);
  nearestCentroids(x, p, cent, out);
  return out;
};

test('the saved index reads back whole; a damaged one is refused naming the file and what is wrong', async () => {
  const dir = tempDir('centroids');
  try {
    const rng = new Rng(9);
    const ix = buildHeadCentroids(randn(rng, 50 * 4 * 6), 6, 4, 7);
    const path = join(dir, 'heads.ivf');
    await saveHeadCentroids(ix, path);
    const back = await loadHeadCentroids(path, { items: 50, heads: 4, size: 6 });
    assert.deepEqual([back.centroids, back.codes, back.offsets, back.lists], [ix.centroids, ix.codes, ix.offsets, ix.lists]);
    await assert.rejects(loadHeadCentroids(path, { items: 51, heads: 4, size: 6 }), /heads\.ivf.*50 items x 4 heads of 6, the table 51/);
    const bytes = readFileSync(path);
    bytes.writeUInt16LE(7, bytes.length - 2); // the last code: one past the last centroid
    writeFileSync(path, bytes);
    await assert.rejects(loadHeadCentroids(path, { items: 50, heads: 4, size: 6 }), /heads\.ivf.*codes\[199\] = 7 is not below 7 centroids/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native centroidMaxSim equals its reference and checks rows and codes', () => {
  const addon = serveAddon() as unknown as { centroidMaxSim?: (...a: unknown[]) => void } | null;
  if (!addon?.centroidMaxSim) return; // no addon: the reference runs
  const rng = new Rng(11);
  for (const [c, rpad, heads] of [[40, 16, 3], [300, 32, 8], [17, 80, 2]]) {
    const st = randn(rng, c * rpad), n = 90;
    const codes = Uint16Array.from({ length: n * heads }, () => rng.int(c));
    const rows = Int32Array.from({ length: 60 }, () => rng.int(n));
    const got = new Float32Array(rows.length), want = new Float32Array(rows.length);
    addon.centroidMaxSim(st, rpad, codes, heads, rows, rows.length, got);
    centroidMaxSimReference(st, rpad, codes, heads, rows, want);
    got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `rpad ${rpad} #${i}: ${g} vs ${want[i]}`));
    codes[rows[5] * heads] = c;
    assert.throws(() => addon.centroidMaxSim!(st, rpad, codes, heads, rows, rows.length, got), /centroidMaxSim: codes\[\d+\] = \d+ is not below/);
    assert.throws(() => addon.centroidMaxSim!(st, rpad, codes, heads, Int32Array.of(n), 1, got), /rows\[0\] = 90 is outside/);
  }
});

let run: TinyRun;
let bundle: string;
let deployment: Deployment;
const root = tempDir('retrieve-centroids');
before(async () => {
  run = await tinyRun(root, 'int-tower');
  bundle = join(root, 'b');
  await exportBundle(run.runDir, bundle, { headIndex: 'centroids', centroids: 8 });
  deployment = await Deployment.open(bundle);
});
after(async () => {
  await deployment.close();
  rmSync(root, { recursive: true, force: true });
});
const userOf = (id: string): UserFeatures => ({ ...run.users.get(id)!, device: 'ios' });

test('probesOf picks, per query column, the centroids topK picks from that column: ties, NaN and every nprobe', () => {
  const rng = new Rng(11);
  for (const [c, q, rpad] of [[1, 1, 16], [7, 3, 16], [300, 24, 32], [64, 16, 16]]) {
    // few distinct values, so ties are common; some NaN, some whole NaN columns
    const st = Float32Array.from({ length: c * rpad }, () => (rng.uniform() < 0.05 ? NaN : Math.floor(rng.uniform() * 5)));
    if (q > 2) for (let j = 0; j < c; j++) st[j * rpad + 2] = NaN;
    for (const nprobe of [1, 2, 5, c]) {
      if (nprobe > c) continue;
      const got = probesOf(st, rpad, c, q, nprobe, new Float32Array(c * q));
      for (let a = 0; a < q; a++) {
        const column = Float32Array.from({ length: c }, (_, j) => st[j * rpad + a]);
        assert.deepEqual(Array.from(got.subarray(a * nprobe, (a + 1) * nprobe)), Array.from(topK(column, nprobe, undefined, 'last')), `c ${c} q ${q} nprobe ${nprobe} column ${a}`);
      }
    }
  }
});

test('a centroid bundle records its index; probing every list returns exactly the exact top-k', async () => {
  const m = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as BundleManifest;
  const info = m.items.cached ? m.items.retrievalIndex : undefined;
  assert.equal(info?.kind, 'multi-vector-centroids');
  assert.ok(info?.kind === 'multi-vector-centroids' && info.file === 'items/heads.ivf' && info.centroids === 8 && m.files['items/heads.ivf']);
  assert.equal(deployment.ann?.kind, 'centroids');
  const n = run.data.itemKeys.length;
  const all = deployment.ann!.candidates(new Float32Array(64).fill(0.1), 5, { perHead: 0, ef: 0, nprobe: 8, maxCandidates: n });
  assert.deepEqual(Array.from(all), Array.from({ length: n }, (_, i) => i));
  for (const u of ['u3', 'u17', 'u42', 'u77']) {
    const exact = await deployment.scorer.retrieve({ user: userOf(u), k: 20, mode: 'exact' });
    const all = await deployment.scorer.retrieve({ user: userOf(u), k: 20, nprobe: 8, maxCandidates: n });
    assert.deepEqual(all.items, exact.items, u);
    // fewer candidates than items: the centroid max-sim cut, then the exact scores of what is kept
    const cut = await deployment.scorer.retrieve({ user: userOf(u), k: 5, nprobe: 2, maxCandidates: 10 });
    const exactScore = new Map((await deployment.scorer.retrieve({ user: userOf(u), k: n, mode: 'exact' })).items.map((x) => [x.id, x.score]));
    assert.equal(cut.items.length, 5);
    for (const x of cut.items) assert.ok(Math.abs(x.score - exactScore.get(x.id)!) <= 1e-5, `${u} ${x.id}`);
  }
});

test('the native gather-and-cut keeps the same candidates as the TypeScript one', () => {
  const src = deployment.ann as unknown as { native: unknown; candidates: CentroidSource['candidates'] };
  if (!src.native) return; // no addon: only the TypeScript path exists
  const native = src.native;
  const rep = new Float32Array(64);
  const rng = new Rng(13);
  for (let t = 0; t < 5; t++) {
    rep.set(randn(rng, rep.length));
    for (const [nprobe, maxCandidates] of [[1, 5], [2, 10], [3, 1000]]) {
      const s = { perHead: 0, ef: 0, nprobe, maxCandidates };
      src.native = native;
      const a = src.candidates(rep, 5, s);
      src.native = null;
      const b = src.candidates(rep, 5, s);
      src.native = native;
      assert.deepEqual(a, b, `nprobe ${nprobe} cap ${maxCandidates}`);
    }
  }
});

test('a bad nprobe is a 400 naming the field', async () => {
  const srv = await createServer({ bundle, defaultMetrics: false, limits: { maxCandidates: 100, maxK: 50, bodyLimit: 1 << 20 } });
  try {
    for (const nprobe of [0, 1.5, 10_001, 'all']) {
      const res = await srv.app.inject({ method: 'POST', url: '/v1/retrieve', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ user: {}, k: 5, nprobe }) });
      assert.equal(res.statusCode, 400, res.body);
      assert.ok([res.json().path, ...(res.json().issues ?? []).map((i: { path: string }) => i.path)].includes('nprobe'), res.body);
    }
  } finally {
    await srv.app.close();
  }
});

test('a RankTower centroid bundle clusters its anchored item vectors; probing every list returns exactly the exact top-k', async () => {
  const rank = await tinyRun(root, 'rank-tower');
  const dir = join(root, 'b-rank');
  await exportBundle(rank.runDir, dir, { headIndex: 'centroids', centroids: 8 });
  const d = await Deployment.open(dir);
  try {
    const m = d.bundle.manifest;
    const info = m.items.cached ? m.items.retrievalIndex : undefined;
    assert.ok(info?.kind === 'multi-vector-centroids' && info.layout.anchors, 'anchored centroid index');
    // 16 lists probed in all by default: tiny RankTower has 3 query vectors, tiny IntTower 4
    const intInfo = deployment.bundle.manifest.items.cached ? deployment.bundle.manifest.items.retrievalIndex : undefined;
    assert.deepEqual([info.layout.queries, info.defaults.nprobe], [3, 6]);
    assert.ok(intInfo?.kind === 'multi-vector-centroids');
    assert.deepEqual([intInfo.layout.queries, intInfo.defaults.nprobe], [4, 4]);
    const n = rank.data.itemKeys.length;
    for (const u of ['u3', 'u17', 'u42']) {
      const user = { ...rank.users.get(u)!, device: 'ios' };
      const exact = await d.scorer.retrieve({ user, k: 20, mode: 'exact' });
      assert.deepEqual((await d.scorer.retrieve({ user, k: 20, nprobe: 8, maxCandidates: n })).items, exact.items, u);
    }
  } finally {
    await d.close();
  }
});
