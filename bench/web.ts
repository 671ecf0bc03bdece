// `npm run bench -- web [--requests 300] [--k 100,1000,5000] [--where node,chromium]`: the WebAssembly scorer
// (prerank/web) against the native scorer and onnxruntime-web, all on one thread, per model (DSSM, IntTower 2 x 64
// and 32 x 64, RankTower; default configs, weights as initialised, 10,000 random item reps) and k; p50 / p99 of one
// request (user tower + k candidates scored + top-100). Prints the CPU, the date and the score differences.
//   node:     in Node's V8: wasm SIMD128, wasm portable, native portable and the native SIMD path this CPU runs,
//             requests interleaved (bench/web-node.ts).
//   chromium: in one headless Chromium page, prerank/web's WasmPlan (the SIMD128 build and, where the page validates
//             it, the relaxed-SIMD build: fused multiply-add) and onnxruntime-web (wasm backend)
//             on the model's ONNX export (user_tower.onnx + scorer.onnx; per model, the fastest graph optimisation
//             level on a short calibration), beside the native scorer (SIMD path) in
//             this Node process; blocks of 20 requests of each side in a row alternate (SIMD128, relaxed, onnxruntime-web, native). Before timing, every
//             candidate's score must agree: both wasm builds with native within 1e-5, onnxruntime-web with wasm within 1e-4
//             (relative to the largest score), or the bench stops. What each timed call includes: bench/web-page.ts.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, engineInfo, fmaPeakGflops, setIsa, setThreads } from '../src/core/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog } from '../src/data/index.js';
import { MODELS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { percentile } from '../src/util/stats.js';
import { WasmScorer, defaultWasmUrl } from '../src/web/index.js';
import { exportForOrt, relError, rowFeeds } from './ort.js';
import { ChromiumBench, type Feed, type OrtLevel, type SideScores } from './web-chromium.js';
import { nodeRows, type TimedModel } from './web-node.js';

const MODELS_TIMED: [string, ModelName, Record<string, unknown>][] = [
  ['DSSM 300-300-128', 'dssm', {}],
  ['IntTower 2 x 64', 'int-tower', { heads: 2 }],
  ['IntTower 32 x 64', 'int-tower', { heads: 32, headSize: 64 }],
  ['RankTower', 'rank-tower', {}],
];
const N_ITEMS = 10_000;
const TOP_N = 100;
const BLOCK = 20;
const ORT_LEVELS: OrtLevel[] = ['all', 'extended', 'basic', 'disabled'];
const CALIBRATION_REQUESTS = 20;
/**
 * Per model, both sides of the page alternate this long before anything is timed: Chromium runs wasm with its
 * baseline compiler until a function is hot (measured: DSSM at k = 1,000 took 90-185 us per wasm request for the
 * first few hundred requests, 60-65 us after, as with --js-flags=--no-liftoff from the start).
 */
const WARM_MS = 3000;
/** wasm against native, onnxruntime-web against wasm: largest |difference| over the largest |score|. */
export const WASM_TOLERANCE = 1e-5;
export const ORT_TOLERANCE = 1e-4;

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

const cell = (us: number[]): string => `${percentile(us, 0.5).toFixed(0)} / ${percentile(us, 0.99).toFixed(0)}`;
const ratio = (a: number[], b: number[]): string => `${(percentile(a, 0.5) / percentile(b, 0.5)).toFixed(2)}x`;

/**
 * The page's two sides against native for one request: throws naming the case and k when wasm's scores differ from
 * native's by more than WASM_TOLERANCE or onnxruntime-web's from wasm's by more than ORT_TOLERANCE (so the timings
 * compare the same work). Returns both differences.
 */
export function checkSameWork(what: string, native: Float32Array, page: { wasm: SideScores; relaxed?: SideScores | null; ort: SideScores }): { wasm: number; relaxed: number; ort: number } {
  const k = native.length;
  for (const [side, s] of Object.entries(page)) {
    if (s && s.scores.length !== k) throw new Error(`${what}: ${side} gave ${s.scores.length} scores for ${k} candidates`);
  }
  const wasm = relError(page.wasm.scores, native), ort = relError(page.ort.scores, Float32Array.from(page.wasm.scores));
  const relaxed = page.relaxed ? relError(page.relaxed.scores, native) : NaN;
  if (!(wasm <= WASM_TOLERANCE)) throw new Error(`${what}: the wasm scorer's scores differ from native's by ${wasm.toExponential(2)} (relative) > ${WASM_TOLERANCE}`);
  if (page.relaxed && !(relaxed <= WASM_TOLERANCE)) throw new Error(`${what}: the relaxed-SIMD wasm scorer's scores differ from native's by ${relaxed.toExponential(2)} (relative) > ${WASM_TOLERANCE}`);
  if (!(ort <= ORT_TOLERANCE)) throw new Error(`${what}: onnxruntime-web's scores differ from the wasm scorer's by ${ort.toExponential(2)} (relative) > ${ORT_TOLERANCE}: not the same work`);
  return { wasm, relaxed, ort };
}

/** GFLOP/s of the scoring alone (2 x multiply-adds per item x k over the p50 of the whole request, tower included). */
const gflops = (macsPerItem: number, k: number, us: number[]): string => (us.length ? (2 * macsPerItem * k / percentile(us, 0.5) / 1e3).toFixed(1) : 'n/a');
/** GB/s of candidate reps read (k x dim float32 over the p50 of the whole request). */
const gbps = (dim: number, k: number, us: number[]): string => (us.length ? (4 * dim * k / percentile(us, 0.5) / 1e3).toFixed(1) : 'n/a');

/** user_tower.onnx's feeds for batch row 0, named as inputs.json lists them. */
export function userFeeds(onnxDir: string, user: Parameters<typeof rowFeeds>[1]): Record<string, Feed> {
  const spec = JSON.parse(readFileSync(join(onnxDir, 'inputs.json'), 'utf8')) as { files: Record<string, { inputs: { name: string }[] }> };
  const feeds = rowFeeds(spec.files['user_tower.onnx'].inputs.map((x) => x.name), user, 0, 1);
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { type: t.type as Feed['type'], data: t.data as Feed['data'], dims: t.dims }]));
}

async function chromiumRows(models: TimedModel[], ds: Dataset, dir: string, ks: number[], requests: number, isa: string): Promise<void> {
  const page = await ChromiumBench.open();
  try {
    const kCal = ks.includes(1000) ? 1000 : ks[0];
    console.log(`\nchromium: ${page.info.userAgent}; onnxruntime-web ${page.info.ort} (wasm backend, 1 thread, the fastest graph optimisation level ` +
      `per model at k = ${kCal}, below); crossOriginIsolated ${page.info.crossOriginIsolated}; native in this Node process; ${requests} requests per cell (p50 / p99 us)`);
    console.log('timed: native = compiled.rank(tower input, table, rows, k, 100) in Node; wasm = WasmPlan.score(tower input, table in module memory, rows, { n: 100, reuse: true }) in the page; ' +
      'onnxruntime-web = the k rows copied from the page\'s Float32Array table into one [k, I] tensor + user_tower.onnx.run(feature ids) + scorer.onnx.run({ user_rep, item_rep }) + top-100 in JS, in the page');
    const peaks = { fused: await page.peak(true), unfused: await page.peak(false), native: fmaPeakGflops(isa, 1, 0.3) };
    console.log(`multiply-add peak, 1 thread, 12 register-resident chains: native ${isa} ${peaks.native.toFixed(1)} GFLOP/s (Node); ` +
      `wasm 4-float f32x4.relaxed_madd ${peaks.fused?.toFixed(1) ?? 'n/a'}, f32x4.mul + f32x4.add ${peaks.unfused!.toFixed(1)} GFLOP/s (Chromium)`);
    const calibrations: string[] = [];
    console.log(`wasm builds in the page: ${page.info.simd128}, ${page.info.relaxed ?? 'relaxed-simd (not validated by this browser)'}`);
    console.log(`| model | k | native ${isa} (Node) | wasm SIMD128 (Chromium) | wasm relaxed SIMD (Chromium) | onnxruntime-web (Chromium) | SIMD128 / native | relaxed / native | onnxruntime-web / SIMD128 | onnxruntime-web / relaxed | ` +
      'scoring GFLOP/s native, SIMD128, relaxed, ort | reps GB/s native, relaxed | max rel. diff SIMD128-native, relaxed-native, ort-SIMD128 |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [i, m] of models.entries()) {
      const onnxDir = join(dir, `onnx-${i}`);
      const skipped = await exportForOrt(m.model, ds, onnxDir);
      if (skipped) throw new Error(`bench web: ${m.name} has no ONNX export: ${skipped.skipped}`);
      await page.load(i, { spec: m.model.servingPlan!().spec, table: m.table, dim: m.dim, input: m.input, feeds: userFeeds(onnxDir, m.user), onnxDir }, ORT_LEVELS);
      await page.setRows(i, m.rows(kCal));
      const warmed = await page.warm(i, WARM_MS, TOP_N);
      const cal = await page.calibrate(i, CALIBRATION_REQUESTS, TOP_N);
      calibrations.push(`${m.name}: ${warmed} warm-up requests, then '${cal.level}' (p50 us at k = ${kCal}: ${Object.entries(cal.p50).map(([l, us]) => `${l} ${us.toFixed(0)}`).join(', ')})`);
      for (const k of ks) {
        const rows = m.rows(k);
        await page.setRows(i, rows);
        const native = () => m.compiled.rank(m.input, m.table, rows, k, TOP_N);
        const diff = checkSameWork(`${m.name}, k = ${k}`, Float32Array.from(native().scores), await page.check(i, TOP_N));
        const us = { native: [] as number[], wasm: [] as number[], relaxed: [] as number[], ort: [] as number[] };
        await page.time(i, BLOCK, TOP_N);
        for (let b = 0; b < Math.ceil(requests / BLOCK); b++) {
          const t = await page.time(i, BLOCK, TOP_N);
          us.wasm.push(...t.wasm);
          us.relaxed.push(...t.relaxed);
          us.ort.push(...t.ort);
          for (let r = 0; r < BLOCK; r++) {
            const t0 = performance.now();
            native();
            us.native.push((performance.now() - t0) * 1000);
          }
        }
        const has = us.relaxed.length > 0;
        const fl = [us.native, us.wasm, us.relaxed, us.ort].map((x) => gflops(m.macsPerItem, k, x)).join(', ');
        console.log(`| ${m.name} | ${k} | ${cell(us.native)} | ${cell(us.wasm)} | ${has ? cell(us.relaxed) : 'n/a'} | ${cell(us.ort)} | ${ratio(us.wasm, us.native)} | ` +
          `${has ? ratio(us.relaxed, us.native) : 'n/a'} | ${ratio(us.ort, us.wasm)} | ${has ? ratio(us.ort, us.relaxed) : 'n/a'} | ${fl} | ` +
          `${gbps(m.dim, k, us.native)}, ${gbps(m.dim, k, us.relaxed)} | ${diff.wasm.toExponential(1)}, ${has ? diff.relaxed.toExponential(1) : 'n/a'}, ${diff.ort.toExponential(1)} |`);
      }
      await page.dispose(i);
    }
    console.log(`per model: ${WARM_MS / 1000} s of warm-up requests at k = ${kCal} (both sides alternating), then onnxruntime-web's graph optimisation level, ${CALIBRATION_REQUESTS} requests each, levels alternating:\n  ${calibrations.join('\n  ')}`);
    const errors = page.pageErrors();
    if (errors.length) throw new Error(`bench web: the page logged errors: ${errors.join('; ')}`);
  } finally {
    await page.close();
  }
}

export async function benchWeb(args: string[]): Promise<void> {
  const requests = Number(arg(args, 'requests', '300'));
  const ks = arg(args, 'k', '100,1000,5000').split(',').map(Number);
  const where = arg(args, 'where', 'node,chromium').split(',');
  const info = engineInfo();
  if (info.kernels !== 'native') throw new Error('bench web: the native addon is not loaded');
  setThreads(1);
  setIsa(info.detectedIsa);
  const scorer = await WasmScorer.load(readFileSync(fileURLToPath(defaultWasmUrl)));
  const dir = mkdtempSync(join(tmpdir(), 'prerank-bench-web-'));
  try {
    const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 200, items: 100, interactionsPerUser: 10, seed: 1 })));
    const user = ds.batches('test', { batchSize: 1, shuffle: false }).epoch(0).next().value!;
    const models: TimedModel[] = MODELS_TIMED.map(([name, kind, config]) => {
      const model = MODELS[kind]({ features: ds.features, rng: new Rng(7) }, config as never) as RecModel;
      model.eval();
      const compiled = compileUserSide(model)!;
      const probe = scorer.compile(model.servingPlan!().spec);
      const dim = probe.itemDim, macsPerItem = probe.macsPerItem;
      probe.dispose();
      const rng = new Rng(5);
      const table = Float32Array.from({ length: N_ITEMS * dim }, () => rng.normal() * 0.1);
      const rows = (k: number) => Int32Array.from({ length: k }, () => Math.floor(rng.uniform() * N_ITEMS));
      return { name, model, compiled, table, dim, macsPerItem, user, input: compiled.input(user, 0), rows };
    });
    console.log(`bench web: ${new Date().toISOString().slice(0, 10)}, ${info.cpu}, Node ${process.version}, 1 thread, native SIMD path ${info.detectedIsa}, ${requests} requests per cell (p50 / p99 us)`);
    if (where.includes('node')) nodeRows(models, scorer, ks, requests, info.detectedIsa, TOP_N);
    if (where.includes('chromium')) await chromiumRows(models, ds, dir, ks, requests, info.detectedIsa);
  } finally {
    setIsa(info.detectedIsa);
    rmSync(dir, { recursive: true, force: true });
  }
}
