// `npm run bench -- models`: train-step and eval-forward time of every registered model (default config, batch
// 2048) on a synthetic log, with a CPU profile-friendly loop. Prints the CPU and kernel path first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, backward, engineInfo, noGrad, scope } from '../src/core/index.js';
import { Dataset, syntheticConfig, type Batch } from '../src/data/index.js';
import { MODELS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Adam } from '../src/nn/index.js';
import { median } from '../src/util/stats.js';

function timeIt(reps: number, f: () => void): number {
  f();
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

export async function benchModels(args: string[]): Promise<void> {
  const only = args.filter((a) => !a.startsWith('--'));
  const info = engineInfo();
  console.log(`CPU: ${info.cpu}; kernels ${info.kernels}, ISA ${info.isa}, ${info.threads} threads`);
  const dir = mkdtempSync(join(tmpdir(), 'prerank-bench-models-'));
  try {
    const data = await Dataset.load(syntheticConfig(dir, { users: 2000, items: 1500, interactionsPerUser: 10 }));
    const batch = data.batches('train', { batchSize: 2048, seed: 1 }).epoch(0).next().value as Batch;
    console.log(`synthetic data: ${data.size} rows; batch ${batch.size}`);
    const rows: Record<string, unknown>[] = [];
    for (const [kind, create] of Object.entries(MODELS)) {
      if (only.length && !only.includes(kind)) continue;
      const model = (create as (ctx: unknown, c: object) => RecModel)({ features: data.features, rng: new Rng(1) }, {});
      const opt = new Adam(model.namedParameters(), { lr: 1e-3 });
      model.train();
      const step = timeIt(10, () => scope(() => {
        opt.zeroGrad();
        backward(model.loss(batch).loss);
        opt.step();
      }));
      model.eval();
      const fwd = timeIt(10, () => noGrad(() => scope(() => void model.forward(batch))));
      const row = { model: kind, step_ms: +step.toFixed(2), eval_ms: +fwd.toFixed(2), samples_per_s: Math.round((batch.size * 1000) / step) };
      rows.push(row);
      console.log(`${kind.padEnd(10)} train step ${step.toFixed(2).padStart(8)} ms   eval forward ${fwd.toFixed(2).padStart(7)} ms   ${row.samples_per_s} samples/s`);
    }
    console.log(JSON.stringify({ cpu: info.cpu, isa: info.isa, models: rows }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
