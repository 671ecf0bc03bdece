// `npm run bench -- web [--requests 300] [--k 100,1000,5000]`: the WebAssembly scorer (prerank/web) in Node's V8
// against the native scorer, both on one thread: per model (DSSM, IntTower 2 x 64 and 32 x 64, RankTower; default
// configs, weights as initialised, item reps random) and k, the p50 / p99 of one request (tower + score + top-100)
// for wasm SIMD128, wasm portable, native portable and the native SIMD path this CPU runs. Requests of the four
// scorers take turns, so a noisy neighbour slows each alike. Prints the CPU, the date and every scorer's max
// relative score difference to native portable.
import { readFileSync } from 'node:fs';
import { Rng, engineInfo, setIsa, setThreads } from '../src/core/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog } from '../src/data/index.js';
import { MODELS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { percentile } from '../src/util/stats.js';
import { WasmScorer, defaultWasmUrl } from '../src/web/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODELS_TIMED: [string, ModelName, Record<string, unknown>][] = [
  ['DSSM 300-300-128', 'dssm', {}],
  ['IntTower 2 x 64', 'int-tower', { heads: 2 }],
  ['IntTower 32 x 64', 'int-tower', { heads: 32, headSize: 64 }],
  ['RankTower', 'rank-tower', {}],
];

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

export async function benchWeb(args: string[]): Promise<void> {
  const requests = Number(arg(args, 'requests', '300'));
  const ks = arg(args, 'k', '100,1000,5000').split(',').map(Number);
  const info = engineInfo();
  if (info.kernels !== 'native') throw new Error('bench web: the native addon is not loaded');
  setThreads(1);
  const scorer = await WasmScorer.load(readFileSync(fileURLToPath(defaultWasmUrl)));
  const dir = mkdtempSync(join(tmpdir(), 'prerank-bench-web-'));
  const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 200, items: 100, interactionsPerUser: 10, seed: 1 })));
  const user = ds.batches('test', { batchSize: 1, shuffle: false }).epoch(0).next().value!;
  console.log(`bench web: ${new Date().toISOString().slice(0, 10)}, ${info.cpu}, Node ${process.version}, 1 thread, native SIMD path ${info.detectedIsa}, ${requests} requests per cell (p50 / p99 us)`);
  console.log('| model | k | wasm SIMD128 | wasm portable | native portable | native ' + info.detectedIsa + ' | wasm SIMD128 / native ' + info.detectedIsa + ' | max rel. diff |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, kind, config] of MODELS_TIMED) {
    const model = MODELS[kind]({ features: ds.features, rng: new Rng(7) }, config as never) as RecModel;
    model.eval();
    const compiled = compileUserSide(model)!;
    const plan = scorer.compile(model.servingPlan!().spec);
    const N = 10_000, dim = plan.itemDim;
    const rng = new Rng(5);
    const table = Float32Array.from({ length: N * dim }, () => rng.normal() * 0.1);
    const items = scorer.items(table, { dim });
    const x = compiled.input(user, 0);
    for (const k of ks) {
      const rows = Int32Array.from({ length: k }, () => Math.floor(rng.uniform() * N));
      const runs: Record<string, () => Float32Array> = {
        wasmSimd: () => ((scorer.simd = true), plan.score(x, items, rows, { n: 100 }).scores),
        wasmPortable: () => ((scorer.simd = false), plan.score(x, items, rows, { n: 100 }).scores),
        nativePortable: () => (setIsa('portable'), compiled.rank(x, table, rows, k, 100).scores),
        nativeSimd: () => (setIsa(info.detectedIsa), compiled.rank(x, table, rows, k, 100).scores),
      };
      const ref = Float32Array.from(runs.nativePortable());
      let diff = 0;
      for (const run of Object.values(runs)) {
        const s = run();
        for (let i = 0; i < k; i++) diff = Math.max(diff, Math.abs(s[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
      }
      const ms: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((r) => [r, []]));
      for (let i = 0; i < requests + 20; i++) {
        for (const [r, run] of Object.entries(runs)) {
          const t0 = performance.now();
          run();
          if (i >= 20) ms[r].push((performance.now() - t0) * 1000);
        }
      }
      const cell = (r: string) => `${percentile(ms[r], 0.5).toFixed(0)} / ${percentile(ms[r], 0.99).toFixed(0)}`;
      const ratio = percentile(ms.wasmSimd, 0.5) / percentile(ms.nativeSimd, 0.5);
      console.log(`| ${name} | ${k} | ${cell('wasmSimd')} | ${cell('wasmPortable')} | ${cell('nativePortable')} | ${cell('nativeSimd')} | ${ratio.toFixed(2)}x | ${diff.toExponential(1)} |`);
    }
    plan.dispose();
    items.dispose();
  }
  setIsa(info.detectedIsa);
  scorer.simd = true;
  rmSync(dir, { recursive: true, force: true });
}
