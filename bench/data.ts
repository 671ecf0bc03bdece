// `npm run bench -- data [--epochs N] [--batch B]`: raw files -> ready batches for ML-100K and the ML-1M partial
// set (IntTower config: rating 3 dropped; and every row kept, so an epoch covers all 487,650 ratings).
// Prints the CPU; the last line is one JSON object. A dataset whose files are absent is skipped with a message.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Dataset } from '../src/data/dataset.js';
import { recipeConfig, recipeMissing, type RecipeName } from '../src/data/recipes.js';
import type { DataConfig } from '../src/data/spec.js';
import { median } from '../src/util/stats.js';

interface Result {
  dataset: string;
  rows: number;
  epochRows: number;
  loadSeconds: number;
  ingestSeconds: number;
  firstEpochSeconds: number;
  epochSecondsMedian: number;
  rawToBatchesRowsPerSec: number;
  epochRowsPerSec: number;
}

async function run(label: string, cfg: DataConfig, epochs: number, batchSize: number): Promise<Result> {
  const t0 = performance.now();
  const ds = await Dataset.load(cfg);
  const loadSeconds = (performance.now() - t0) / 1000;
  const all = Int32Array.from({ length: ds.size }, (_, i) => i);
  const stream = ds.batches(all, { batchSize });
  const times: number[] = [];
  let checksum = 0;
  for (let e = 0; e < epochs; e++) {
    const t = performance.now();
    for (const b of stream.epoch(e)) checksum += b.label[0] + b.size;
    times.push((performance.now() - t) / 1000);
  }
  if (!Number.isFinite(checksum)) throw new Error('bad batches');
  const steady = median(times.slice(1).length ? times.slice(1) : times);
  const r: Result = { dataset: label, rows: ds.report.rowsRead, epochRows: ds.size, loadSeconds,
    ingestSeconds: ds.timings.ingest, firstEpochSeconds: times[0], epochSecondsMedian: steady,
    rawToBatchesRowsPerSec: ds.report.rowsRead / (loadSeconds + times[0]), epochRowsPerSec: ds.size / steady };
  console.log(`${label.padEnd(44)} ${String(r.rows).padStart(7)} rows read, ${String(r.epochRows).padStart(7)} per epoch | ` +
    `load ${loadSeconds.toFixed(2)} s (DuckDB ${r.ingestSeconds.toFixed(2)} s) | epoch first ${(times[0] * 1e3).toFixed(0)} ms, ` +
    `median ${(steady * 1e3).toFixed(0)} ms | raw->batches ${(r.rawToBatchesRowsPerSec / 1e3).toFixed(0)}k rows/s, ` +
    `epoch ${(r.epochRowsPerSec / 1e6).toFixed(1)}M rows/s`);
  return r;
}

export async function benchData(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { epochs: { type: 'string', default: '5' }, batch: { type: 'string', default: '2048' } } });
  const epochs = Math.max(2, Number(values.epochs));
  const batchSize = Number(values.batch);
  console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical cores), Node ${process.version}`);
  console.log(`batch ${batchSize}, ${epochs} shuffled epochs over all kept rows, all features of the shipped configs`);
  const results: Result[] = [];
  const cases: [RecipeName, string, (c: DataConfig) => DataConfig][] = [
    ['ml-100k', 'ML-100K (IntTower: rating 3 dropped)', (c) => c],
    ['ml-1m', '(IntTower: rating 3 dropped)', (c) => c],
    ['ml-1m', '(every row kept)', (c) => ({ ...c, label: { ...c.label, drop: [] } })],
  ];
  for (const [recipe, suffix, adapt] of cases) {
    const missing = recipeMissing(recipe);
    if (missing) {
      console.log(`skip ${recipe}: ${missing} (put the MovieLens files in ../shared/data or set PRERANK_SHARED_DATA)`);
      continue;
    }
    const cfg = adapt(recipeConfig(recipe));
    results.push(await run(recipe === 'ml-1m' ? `${cfg.name} ${suffix}` : suffix, cfg, epochs, batchSize));
  }
  console.log(JSON.stringify({ bench: 'data', cpu: cpus()[0]?.model, batchSize, epochs, results }));
}
