// bench web's Node rows: one request (tower + score + top-n of k candidates) on one thread in Node's V8 for wasm
// SIMD128, wasm portable, native portable and the native SIMD path this CPU runs, the four alternating request by
// request so a noisy neighbour slows each alike; every scorer's max relative score difference to native portable.
import { setIsa } from '../src/core/index.js';
import type { Batch } from '../src/data/index.js';
import type { RecModel } from '../src/models/types.js';
import type { CompiledUserSide } from '../src/serve/compiled.js';
import { percentile } from '../src/util/stats.js';
import type { WasmScorer } from '../src/web/index.js';

/** A model as both bench sections time it: its plan, a random item table [N, dim] and one user. */
export interface TimedModel {
  name: string;
  model: RecModel;
  compiled: CompiledUserSide;
  table: Float32Array;
  dim: number;
  /** Multiply-adds of the score per candidate (WasmPlan.macsPerItem). */
  macsPerItem: number;
  user: Batch;
  /** The user tower's input for `user`. */
  input: Float32Array;
  /** k random rows of the table. */
  rows(k: number): Int32Array;
}

export function nodeRows(models: TimedModel[], scorer: WasmScorer, ks: number[], requests: number, isa: string, n: number): void {
  console.log(`\nnode: ${requests} requests per cell (p50 / p99 us)`);
  console.log(`| model | k | wasm SIMD128 | wasm portable | native portable | native ${isa} | wasm SIMD128 / native ${isa} | max rel. diff |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const m of models) {
    const plan = scorer.compile(m.model.servingPlan!().spec);
    const items = scorer.items(m.table, { dim: m.dim });
    const x = m.input;
    for (const k of ks) {
      const rows = m.rows(k);
      const runs: Record<string, () => Float32Array> = {
        wasmSimd: () => ((scorer.simd = true), plan.score(x, items, rows, { n, reuse: true }).scores),
        wasmPortable: () => ((scorer.simd = false), plan.score(x, items, rows, { n, reuse: true }).scores),
        nativePortable: () => (setIsa('portable'), m.compiled.rank(x, m.table, rows, k, n).scores),
        nativeSimd: () => (setIsa(isa), m.compiled.rank(x, m.table, rows, k, n).scores),
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
      console.log(`| ${m.name} | ${k} | ${cell('wasmSimd')} | ${cell('wasmPortable')} | ${cell('nativePortable')} | ${cell('nativeSimd')} | ${ratio.toFixed(2)}x | ${diff.toExponential(1)} |`);
    }
    plan.dispose();
    items.dispose();
  }
  setIsa(isa);
  scorer.simd = true;
}
