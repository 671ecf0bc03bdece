// Export bundles: round trip against the training-time model, parts, quantization cost, single-tower models,
// refusal of tampered or mismatched bundles, and the saved ANN index.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { noGrad, scope } from '../src/core/index.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import { decodeAll, decodeRow, fromBf16, quantize, tableFromBytes, toBf16, toHalf } from '../src/export/item-table.js';
import { sha256, sha256Async } from '../src/export/manifest.js';
import { retrievalIndexOf } from '../src/export/retrieval-index.js';
import { addRows, annThreads, newUsearch, SERIAL_BUILD_ROWS, saveAnnIndex, ttyAnnProgress } from '../src/export/ann-index.js';
import { buildAnnIndex } from '../src/serve/ann.js';
import { Deployment } from '../src/serve/service.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import type { ScoreResponse } from '../src/serve/scorer.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { maxAbsDiff, pairBatch, tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let dssm: TinyRun;

before(async () => {
  root = tempDir('bundle');
  dssm = await tinyRun(root, 'dssm');
});
after(() => rmSync(root, { recursive: true, force: true }));

const forward = (r: TinyRun, b: Parameters<TinyRun['model']['forward']>[0]): Float32Array =>
  noGrad(() => scope(() => {
    r.model.eval();
    return (r.model.forward(b).data as Float32Array).slice(0, b.size);
  }));

test('a DSSM bundle scores what the training-time model scores (within 1e-5)', async () => {
  const out = join(root, 'b-dssm');
  const { manifest } = await exportBundle(dssm.runDir, out);
  assert.equal(manifest.format, 'prerank-bundle/3');
  assert.equal(manifest.model.kind, 'dssm');
  assert.ok(manifest.items.cached);
  assert.equal(manifest.items.count, dssm.data.itemCount);
  assert.ok(manifest.items.exportCheck.maxAbsError < 1e-5, `export check ${manifest.items.exportCheck.maxAbsError}`);
  assert.ok(manifest.items.retrieval, 'DSSM scores are affine in <u, v>');
  assert.ok(Math.abs(manifest.items.retrieval.scale - 5) < 1e-3, `temperature 0.2 -> scale ${manifest.items.retrieval.scale}`);
  assert.ok(manifest.training, 'summary.json recorded');
  assert.match(manifest.modelVersion, /^dssm-[0-9a-f]{12}$/);

  const bundle = await Bundle.load(out);
  const scorer = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
  const ids = dssm.data.itemKeys;
  for (const uid of ['u0', 'u7', 'u42']) {
    const user = { ...dssm.users.get(uid)!, device: 'ios' };
    const res = await scorer.scoreAll({ user, candidates: ids });
    assert.equal(res.items.length, ids.length);
    assert.deepEqual(res.unknown, []);
    const expected = forward(dssm, pairBatch(dssm.data, user, ids.map((_, i) => i)));
    const got = new Float32Array(ids.length);
    for (const it of res.items) got[ids.indexOf(String(it.id))] = it.score;
    assert.ok(maxAbsDiff(got, expected) < 1e-5, `user ${uid}: max diff ${maxAbsDiff(got, expected)}`);
    for (let i = 1; i < res.items.length; i++) assert.ok(res.items[i - 1].score >= res.items[i].score, 'sorted');
  }
});

test('concurrent requests keep their own users: an async store, scoring on and off the event loop', async () => {
  const out = join(root, 'b-dssm-concurrent');
  await exportBundle(dssm.runDir, out);
  const bundle = await Bundle.load(out);
  const memory = new MemoryItemStore(bundle.items!);
  // A store that answers after a random delay and cannot locate rows in place (like Redis): requests interleave.
  let tick = 0;
  const slow = {
    kind: 'slow', dim: memory.dim, size: memory.size, close: () => memory.close(),
    get: async (ids: readonly string[]) => {
      await new Promise((r) => setTimeout(r, (tick++ * 7) % 5));
      return memory.get(ids);
    },
  };
  const ids = dssm.data.itemKeys;
  const uids = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'];
  const sequential = createScorer(bundle, { store: memory });
  const want: ScoreResponse[] = [];
  for (const uid of uids) want.push(await sequential.prerank({ user: dssm.users.get(uid)!, candidates: ids, n: 10 }));
  for (const asyncAboveMacs of [0, Infinity]) {
    const scorer = createScorer(bundle, { store: slow, asyncAboveMacs });
    const got = await Promise.all(uids.map((uid) => scorer.prerank({ user: dssm.users.get(uid)!, candidates: ids, n: 10 })));
    got.forEach((g, i) => assert.deepEqual(g.items, want[i].items, `${uids[i]} (asyncAboveMacs ${asyncAboveMacs})`));
  }
  assert.notDeepEqual(want[0].items, want[1].items, 'different users rank differently');
});

test('RankTower and MF bundles serve what the training-time model scores (compiled plans, within 1e-4)', async () => {
  for (const kind of ['rank-tower', 'mf'] as const) {
    const run = await tinyRun(root, kind);
    const out = join(root, `b-${kind}`);
    const { manifest } = await exportBundle(run.runDir, out);
    assert.ok(manifest.items.cached, `${kind} caches item reps`);
    const bundle = await Bundle.load(out);
    const scorer = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    assert.equal(scorer.path, 'native-plan', `${kind} has a compiled serving plan`);
    const user = { ...run.users.get('u3')!, device: 'ios' };
    const ids = run.data.itemKeys;
    const res = await scorer.scoreAll({ user, candidates: ids });
    const expected = forward(run, pairBatch(run.data, user, ids.map((_, i) => i)));
    const got = new Float32Array(ids.length);
    for (const it of res.items) got[ids.indexOf(String(it.id))] = it.score;
    assert.ok(maxAbsDiff(got, expected) < 1e-4, `${kind}: max diff ${maxAbsDiff(got, expected)}`);
  }
});

test('parts: the user tower loads without the item table and the item table without the model', async () => {
  const out = join(root, 'b-dssm');
  const user = await Bundle.load(out, { parts: 'user' });
  assert.ok(user.model && user.encoders);
  assert.equal(user.items, null);
  const item = await Bundle.load(out, { parts: 'item' });
  assert.equal(item.model, null);
  assert.equal(item.items!.ids.size, dssm.data.itemCount);
  assert.equal(item.modelVersion, user.modelVersion);
});

test('bfloat16, float16 and int8 tables record their measured score error and stay close to float32', async () => {
  const f32 = await Bundle.load(join(root, 'b-dssm'));
  const user = { ...dssm.users.get('u3')!, device: 'web' };
  const ref = await createScorer(f32, { store: new MemoryItemStore(f32.items!) }).scoreAll({ user, candidates: dssm.data.itemKeys });
  const refById = new Map(ref.items.map((x) => [x.id, x.score]));
  for (const [dtype, tol] of [['bfloat16', 0.05], ['float16', 0.01], ['int8', 0.1]] as const) {
    const out = join(root, `b-dssm-${dtype}`);
    const { manifest } = await exportBundle(dssm.runDir, out, { itemDtype: dtype });
    assert.ok(manifest.items.cached && manifest.items.accuracy);
    const acc = manifest.items.accuracy;
    assert.equal(acc.dtype, dtype);
    assert.ok(acc.maxAbsScoreError > 0 && acc.maxAbsScoreError < tol, `${dtype}: ${acc.maxAbsScoreError}`);
    assert.equal(manifest.modelVersion, f32.modelVersion, 'same model, same version');
    const b = await Bundle.load(out);
    assert.equal(b.items!.dtype, dtype);
    const res = await createScorer(b, { store: new MemoryItemStore(b.items!) }).scoreAll({ user, candidates: dssm.data.itemKeys });
    const err = Math.max(...res.items.map((x) => Math.abs(x.score - refById.get(x.id)!)));
    assert.ok(err < tol, `${dtype} serving error ${err}`);
  }
});

test('bfloat16, float16 and int8 encoding', () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65504), 0x7bff);
  assert.equal(toHalf(1e6), 0x7c00);
  assert.equal(toHalf(2 ** -24), 1);
  // bfloat16: the top half of the float32 bits, rounded to nearest even.
  assert.equal(toBf16(1), 0x3f80);
  assert.equal(toBf16(-2), 0xc000);
  assert.equal(toBf16(1 + 2 ** -8), 0x3f80, 'a tie rounds to the even mantissa (down)');
  assert.equal(toBf16(1 + 3 * 2 ** -8), 0x3f82, 'a tie rounds to the even mantissa (up)');
  assert.equal(toBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81, 'above the tie rounds up');
  assert.equal(toBf16(Infinity), 0x7f80);
  assert.equal(toBf16(3.4e38), 0x7f80, 'the largest floats round to infinity');
  assert.ok(Number.isNaN(fromBf16(toBf16(NaN))));
  assert.equal(fromBf16(0x3fc0), 1.5);
  const reps = Float32Array.from([0.1, -0.5, 0.25, 1e-3, 0, 0, 0, 0, 3, -3, 1.5, 0.001]);
  for (const dtype of ['bfloat16', 'float16', 'int8'] as const) {
    const t = quantize(['a', 'b', 'c'], reps, 4, dtype);
    const out = new Float32Array(12);
    for (let r = 0; r < 3; r++) decodeRow(t, r, out, r * 4);
    // Relative 2^-9 (bf16) of the largest value, absolute 2^-11 near 1 (half), half a step of 3/127 (int8).
    const tol = dtype === 'bfloat16' ? 3 * 2 ** -9 : dtype === 'float16' ? 2e-3 : 3 / 127 / 2 + 1e-6;
    assert.ok(maxAbsDiff(out, reps) <= tol, `${dtype}: ${maxAbsDiff(out, reps)}`);
    assert.deepEqual(Array.from(out.subarray(4, 8)), [0, 0, 0, 0]);
  }
});

test('a tampered or mismatched bundle is refused, naming the file', async () => {
  const src = join(root, 'b-dssm');
  const mk = (name: string): string => {
    const d = join(root, name);
    rmSync(d, { recursive: true, force: true });
    cpSync(src, d, { recursive: true });
    return d;
  };
  const flip = (path: string, at = 100) => {
    const b = readFileSync(path);
    b[Math.min(at, b.length - 1)] ^= 0xff;
    writeFileSync(path, b);
  };

  let d = mk('t-items');
  flip(join(d, 'items/reps.bin'));
  await assert.rejects(Bundle.load(d), /items\/reps\.bin does not match the manifest/);
  await Bundle.load(d, { parts: 'user' }); // the user tower does not read the item table

  d = mk('t-weights');
  flip(join(d, 'weights/tensors.bin'));
  await assert.rejects(Bundle.load(d, { parts: 'user' }), /weights\/tensors\.bin does not match the manifest/);
  await Bundle.load(d, { parts: 'item' });

  d = mk('t-encoders');
  const enc = JSON.parse(readFileSync(join(d, 'encoders.json'), 'utf8'));
  enc.name = 'other';
  writeFileSync(join(d, 'encoders.json'), JSON.stringify(enc));
  await assert.rejects(Bundle.load(d), /encoders\.json does not match the manifest/);

  d = mk('t-spec');
  const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
  m.features[0].vocabSize += 1;
  writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(Bundle.load(d), /manifest\.json was edited/);

  d = mk('t-format');
  const m2 = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
  m2.format = 'prerank-bundle/99';
  writeFileSync(join(d, 'manifest.json'), JSON.stringify(m2));
  await assert.rejects(Bundle.load(d), /format 'prerank-bundle\/99'; this prerank reads 'prerank-bundle\/1', 'prerank-bundle\/2', 'prerank-bundle\/3'/);

  d = mk('t-truncated');
  writeFileSync(join(d, 'items/reps.bin'), readFileSync(join(d, 'items/reps.bin')).subarray(0, 64));
  await assert.rejects(Bundle.load(d), /items\/reps\.bin/);

  await assert.rejects(Bundle.load(join(root, 'nothing-here')), /no manifest\.json/);
});

test('IntTower exports (max-sim: no retrieval) and single-tower models export item features and score full pairs', async () => {
  const it = await tinyRun(root, 'int-tower');
  const { manifest } = await exportBundle(it.runDir, join(root, 'b-int'));
  assert.ok(manifest.items.cached);
  assert.equal(manifest.items.retrieval, null);
  assert.equal(manifest.files['items/ann.usearch'], undefined, 'no ANN index for a max-sim score');
  assert.ok(manifest.items.exportCheck.maxAbsError < 1e-5, `int-tower export check ${manifest.items.exportCheck.maxAbsError}`);
  const ib = await Bundle.load(join(root, 'b-int'));
  const user = { ...it.users.get('u5')!, device: 'android' };
  const res = await createScorer(ib, { store: new MemoryItemStore(ib.items!) }).scoreAll({ user, candidates: it.data.itemKeys });
  const expected = forward(it, pairBatch(it.data, user, it.data.itemKeys.map((_, i) => i)));
  const got = new Float32Array(expected.length);
  for (const x of res.items) got[it.data.itemKeys.indexOf(String(x.id))] = x.score;
  assert.ok(maxAbsDiff(got, expected) < 1e-5, `int-tower serving diff ${maxAbsDiff(got, expected)}`);

  const dcn = await tinyRun(root, 'dcn');
  const r = await exportBundle(dcn.runDir, join(root, 'b-dcn'));
  assert.equal(r.manifest.items.cached, false);
  assert.match(r.manifest.items.cached ? '' : r.manifest.items.reason, /single-tower/);
  const b = await Bundle.load(join(root, 'b-dcn'));
  assert.equal(b.items, null);
  const scorer = createScorer(b, { store: null });
  const cands = ['i3', 'nope', 'i10', 'i0', 'i59'];
  const out = await scorer.scoreAll({ user: { ...dcn.users.get('u9')!, device: 'ios' }, candidates: cands });
  assert.deepEqual(out.unknown, ['nope']);
  const idx = ['i3', 'i10', 'i0', 'i59'].map((k) => dcn.data.itemKeys.indexOf(k));
  const exp = forward(dcn, pairBatch(dcn.data, { ...dcn.users.get('u9')!, device: 'ios' }, idx));
  for (const x of out.items) {
    const k = ['i3', 'i10', 'i0', 'i59'].indexOf(String(x.id));
    assert.ok(Math.abs(x.score - exp[k]) < 1e-5, `dcn ${x.id}: ${x.score} vs ${exp[k]}`);
  }
  await assert.rejects(scorer.retrieve({ user: {}, k: 3 }), /single-tower model: retrieval needs cached item reps/);
});

test('an in-memory model and dataset export the same bundle content as the run directory', async () => {
  const cfg = JSON.parse(readFileSync(join(dssm.runDir, 'config.json'), 'utf8'));
  const { manifest } = await exportBundle({ model: dssm.model, dataset: dssm.data, config: cfg.model }, join(root, 'b-mem'));
  const fromRun = JSON.parse(readFileSync(join(root, 'b-dssm', 'manifest.json'), 'utf8'));
  assert.equal(manifest.hash, fromRun.hash);
  assert.equal(manifest.files['items/reps.bin'], fromRun.files['items/reps.bin']);
});

test('retrieval bundles carry their HNSW index: loaded, not rebuilt, same answers; a changed index file is refused', async () => {
  const src = join(root, 'b-dssm'); // written by the first test
  const b = await Bundle.load(src);
  assert.ok(b.manifest.files['items/ann.usearch'], 'DSSM (inner-product score) exports items/ann.usearch');
  const saved = await b.annIndexPath();
  assert.equal(saved, join(src, 'items/ann.usearch'));
  const reps = decodeAll(b.items!);
  const info = retrievalIndexOf(b.manifest.items, true);
  const vectors = info.kind === 'inner-product' ? info.vectors : undefined;
  assert.equal(vectors?.kind, 'augmented', 'new bundles hold augmented vectors');
  const loaded = await buildAnnIndex(reps, b.items!.dim, 'usearch', saved, vectors);
  const built = await buildAnnIndex(reps, b.items!.dim, 'usearch', null, vectors);
  assert.equal(loaded.note, undefined, loaded.note);
  // a reader that does not know the augmented vectors finds the saved index one column too wide and rebuilds it
  const unaware = await buildAnnIndex(reps, b.items!.dim, 'usearch', saved);
  assert.match(unaware.note ?? '', new RegExp(`holds \\d+ x ${b.items!.dim + 1}, the item table \\d+ x ${b.items!.dim}: rebuilt`));
  assert.equal(loaded.index.size, b.items!.ids.size);
  // The same answers: a table this small is exported on one thread, so the saved graph is the one a fresh build makes,
  // and every query gets the same rows in the same order from both. Their top-10 holds the exact top-10 (compared by
  // score: equal reps tie in either order), as an approximate search of 60 items should.
  const dim = b.items!.dim;
  const n = loaded.index.size;
  const dot = (q: Float32Array, r: number) => q.reduce((s, x, i) => s + x * reps[r * dim + i], 0);
  let hits = 0;
  for (let u = 0; u < 8; u++) {
    const q = reps.slice(u * dim, (u + 1) * dim);
    const rows = loaded.index.search(q, 10);
    assert.deepEqual(Array.from(rows), Array.from(built.index.search(q, 10)), `query ${u}: the saved index answers as a fresh build`);
    const exact = Array.from({ length: n }, (_, r) => dot(q, r)).sort((a, b) => b - a);
    hits += Array.from(rows).filter((r) => dot(q, r) >= exact[9] - 1e-6).length;
  }
  assert.ok(hits >= 0.9 * 80, `recall@10 of the saved index ${hits / 80}`);

  // A saved index of another shape is rebuilt with a note; a changed file is refused like any other bundle file.
  const other = await buildAnnIndex(reps.subarray(0, 5 * b.items!.dim), b.items!.dim, 'usearch', saved, vectors);
  assert.match(other.note ?? '', /holds \d+ x \d+, the item table 5 x \d+: rebuilt/);
  assert.equal(other.index.size, 5);
  const d = join(root, 't-ann');
  rmSync(d, { recursive: true, force: true });
  cpSync(src, d, { recursive: true });
  const bytes = readFileSync(join(d, 'items/ann.usearch'));
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(join(d, 'items/ann.usearch'), bytes);
  await assert.rejects((await Bundle.load(d)).annIndexPath(), /items\/ann\.usearch does not match the manifest/);
  await assert.rejects(Deployment.open(d), /items\/ann\.usearch does not match the manifest/);
  // the error says what to do; the deployment that failed to open releases the bundle it had loaded
  const dispose = Bundle.prototype.dispose;
  let disposed = 0;
  Bundle.prototype.dispose = function (this: Bundle) {
    disposed++;
    dispose.call(this);
  };
  try {
    await assert.rejects(Deployment.open(d), /re-export the bundle, or serve it without the saved index \(--ann brute-force\)/);
  } finally {
    Bundle.prototype.dispose = dispose;
  }
  assert.equal(disposed, 1, 'the bundle of a deployment that failed to open is disposed');
});

test('building an index without a saved one yields to the event loop between slices', async () => {
  const dim = 8, n = 1000;
  const reps = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i));
  let turns = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const index = await newUsearch(dim);
  await addRows(index, reps, dim, 100);
  done = true;
  assert.equal(index.size(), n);
  assert.ok(turns >= 9, `the event loop turned ${turns} times during 10 slices`);
});

test('item tables are read in place when aligned and copied when not; the sliced sha256 equals the one-shot one', async () => {
  const values = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2);
  const bytes = new Uint8Array(values.buffer);
  const inPlace = tableFromBytes(['a', 'b', 'c'], 4, 'float32', bytes);
  assert.equal(inPlace.data.buffer, values.buffer, 'an aligned table is a view, not a copy');
  assert.deepEqual(Array.from(inPlace.data), Array.from(values));
  const shifted = new Uint8Array(bytes.byteLength + 1);
  shifted.set(bytes, 1);
  const copied = tableFromBytes(['a', 'b', 'c'], 4, 'float32', shifted.subarray(1));
  assert.notEqual(copied.data.buffer, shifted.buffer);
  assert.deepEqual(Array.from(copied.data), Array.from(values));
  for (const n of [0, 5, (1 << 20) - 1, 1 << 20, (5 << 19) + 3]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    assert.equal(await sha256Async(data), sha256(data), `${n} bytes`);
  }
});

test('an index of fewer than 16k rows is built on one thread by default: two exports of one table are the same file', async () => {
  const dim = 16, n = 3000;
  const reps = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i * 7.31) * 0.5);
  const digest = async (name: string) => {
    const path = join(root, name);
    assert.notEqual(await saveAnnIndex(reps, dim, path, { progress: undefined }), null);
    return sha256(readFileSync(path));
  };
  assert.equal(await digest('same-a.usearch'), await digest('same-b.usearch'));
  assert.equal(annThreads(SERIAL_BUILD_ROWS - 1), 1);
  assert.equal(annThreads(SERIAL_BUILD_ROWS), availableParallelism());
});

test('the export builds its ANN index on several threads, reports progress, and the saved index finds what brute force finds', async () => {
  const dim = 16, n = 3000;
  const rng = (i: number) => Math.sin(i * 12.9898) * 43758.5453 % 1;
  const reps = Float32Array.from({ length: n * dim }, (_, i) => rng(i));
  const path = join(root, 'threads.usearch');
  const calls: [number, number][] = [];
  assert.notEqual(await saveAnnIndex(reps, dim, path, { threads: 2, progress: (done, total) => calls.push([done, total]) }), null);
  assert.ok(calls.length >= 2, `${calls.length} progress calls`);
  assert.deepEqual(calls.at(-1), [n, n]);
  assert.ok(calls.every(([d], i) => i === 0 || d > calls[i - 1][0]), 'progress only grows');
  assert.equal(ttyAnnProgress(), undefined, 'no progress line when stderr is not a terminal');
  const { index } = await buildAnnIndex(reps, dim, 'usearch', path);
  const exact = await buildAnnIndex(reps, dim, 'brute-force');
  let hits = 0;
  for (let q = 0; q < 20; q++) {
    const query = reps.subarray(q * 97 * dim, (q * 97 + 1) * dim);
    const want = new Set(exact.index.search(query, 10));
    hits += Array.from(index.search(query, 10)).filter((r) => want.has(r)).length;
  }
  assert.ok(hits / 200 >= 0.9, `recall@10 ${hits / 200}`);
});
