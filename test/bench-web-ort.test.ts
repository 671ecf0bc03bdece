// bench web's Chromium page (bench/web-chromium.ts, bench/web-page.ts) on tiny models: onnxruntime-web running the
// ONNX export (user_tower.onnx + scorer.onnx, item reps as input) and prerank/web's WasmPlan score the same
// candidates alike in headless Chromium, and both equal the native scorer, so the bench's timings compare the same
// work. checkSameWork, the bench's guard, refuses sides that differ.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset, parseDataConfig, writeSyntheticLog } from '../src/data/index.js';
import type { ModelName } from '../src/models/registry.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { exportForOrt } from '../bench/ort.js';
import { checkSameWork, ORT_TOLERANCE, userFeeds } from '../bench/web.js';
import { ChromiumBench } from '../bench/web-chromium.js';
import { itemTable } from './helpers/item-table.js';
import { perturbedModel } from './helpers/perturbed-model.js';
import { skipWasm } from './helpers/wasm-scorer.js';

const missing = ChromiumBench.missing();
if (missing && process.env.CI) throw new Error(missing);
const skip = skipWasm || missing || false;

const dir = mkdtempSync(join(tmpdir(), 'prerank-bench-web-ort-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CASES: [ModelName, Record<string, unknown>][] = [
  ['dssm', {}],
  ['int-tower', { heads: 3, headSize: 8 }],
  ['rank-tower', {}],
];

test('in headless chromium, onnxruntime-web on the ONNX export scores the bench\'s candidates as the wasm scorer and native do', { skip, timeout: 300_000 }, async () => {
  const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 60, items: 40, interactionsPerUser: 8, seed: 3 })));
  const user = ds.batches('test', { batchSize: 1, shuffle: false }).epoch(0).next().value!;
  const page = await ChromiumBench.open();
  try {
    assert.equal(page.info.crossOriginIsolated, true, 'the page is cross-origin isolated (5 us timer)');
    assert.deepEqual([page.info.simd128, page.info.relaxed], ['simd128', 'relaxed-simd'], 'both builds in the page');
    const fused = await page.peak(true), unfused = await page.peak(false);
    assert.ok(fused! > 0 && unfused! > 0, `multiply-add peaks ${fused}, ${unfused} GFLOP/s`);
    for (const [i, [kind, extra]] of CASES.entries()) {
      const model = perturbedModel(ds, kind, extra);
      const compiled = compileUserSide(model)!;
      const { table, dim, n } = itemTable(ds, model);
      const onnxDir = join(dir, kind);
      assert.equal(await exportForOrt(model, ds, onnxDir), null, `${kind} has an ONNX export`);
      const input = compiled.input(user, 0);
      await page.load(i, { spec: model.servingPlan!().spec, table, dim, input, feeds: userFeeds(onnxDir, user), onnxDir });
      const rows = Int32Array.from({ length: 57 }, (_, j) => (j * 13 + 5) % n);
      await page.setRows(i, rows);
      const native = Float32Array.from(compiled.rank(input, table, rows, rows.length, 0).scores);
      const got = await page.check(i, 10);
      const diff = checkSameWork(kind, native, got);
      assert.ok(diff.ort <= ORT_TOLERANCE && diff.wasm <= 1e-5 && diff.relaxed <= 1e-5, `${kind}: ${JSON.stringify(diff)}`);
      assert.ok(new Set(got.wasm.scores).size > rows.length / 4, `${kind}: scores vary across candidates`);
      assert.deepEqual(got.ort.top, got.wasm.top, `${kind}: the same top 10`);
      const t = await page.time(i, 3, 10);
      assert.ok(t.wasm.length === 3 && t.relaxed.length === 3 && t.ort.length === 3 && [...t.wasm, ...t.relaxed, ...t.ort].every((us) => us >= 0), `${kind}: timings ${JSON.stringify(t)}`);
      await page.dispose(i);
    }
    assert.deepEqual(page.pageErrors(), [], 'console errors on the page');
  } finally {
    await page.close();
  }
});

test('the bench refuses to time onnxruntime-web when its scores are not the wasm scorer\'s', () => {
  const native = Float32Array.of(1, -2, 3);
  const same = { scores: [1, -2, 3], top: [2, 0, 1] };
  assert.deepEqual(checkSameWork('t', native, { wasm: same, ort: same }), { wasm: 0, relaxed: NaN, ort: 0 });
  assert.deepEqual(checkSameWork('t', native, { wasm: same, relaxed: same, ort: same }), { wasm: 0, relaxed: 0, ort: 0 });
  assert.throws(() => checkSameWork('t', native, { wasm: same, relaxed: { scores: [1, -2, 2.9], top: [] }, ort: same }), /the relaxed-SIMD wasm scorer's scores differ from native's/);
  assert.throws(() => checkSameWork('t', native, { wasm: same, ort: { scores: [1, -2, 3.01], top: [2, 0, 1] } }), /onnxruntime-web's scores differ .* not the same work/);
  assert.throws(() => checkSameWork('t', native, { wasm: same, ort: { scores: [1, -2], top: [] } }), /ort gave 2 scores for 3 candidates/);
  assert.throws(() => checkSameWork('t', native, { wasm: { scores: [1, -2, 2.9], top: [] }, ort: same }), /wasm scorer's scores differ from native's/);
});
