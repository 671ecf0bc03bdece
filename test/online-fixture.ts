// Shared by test/online.test.ts: a tiny offline run on synthetic data whose id features hash unseen values, and a
// synthetic time-ordered event stream (with users and items the offline data never saw).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/random.js';
import { Dataset, writeSyntheticLog } from '../src/data/index.js';
import { TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import { parseTrainConfig } from '../src/train/config.js';
import { runTraining } from '../src/train/run.js';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `prerank-online-${tag}-`));
}

export interface OfflineRun {
  runDir: string;
  dataCfgPath: string;
}

/** Synthetic data (user_id and item_id hash unseen values into 16 buckets) and a model trained for one epoch. */
export async function offlineRun(root: string, kind: ModelName = 'dssm'): Promise<OfflineRun> {
  const dataDir = join(root, 'data');
  const input = writeSyntheticLog(dataDir, { users: 40, items: 30, interactionsPerUser: 15 }) as { features: Record<string, unknown>[] };
  for (const f of input.features) if (f.name === 'user_id' || f.name === 'item_id') Object.assign(f, { hashBuckets: 16, maxSize: 100000 });
  const dataCfgPath = join(dataDir, 'config.json');
  writeFileSync(dataCfgPath, JSON.stringify(input));
  const runDir = join(root, 'run');
  const cfg = parseTrainConfig({ model: { kind, config: TINY_CONFIGS[kind] }, data: { config: dataCfgPath }, batchSize: 128, epochs: 1, seed: 5,
    optimizer: { kind: 'adam', lr: 0.01 }, outDir: runDir });
  await runTraining(cfg, { data: await Dataset.load(dataCfgPath), quiet: true });
  return { runDir, dataCfgPath };
}

const DEVICES = ['ios', 'android', 'web'];

/** n events as JSON objects in time order; users u0..u39 and items i0..i29 plus `fresh` new users and items. */
export function syntheticEvents(n: number, opts: { seed?: number; fresh?: number; start?: number } = {}): Record<string, unknown>[] {
  const rng = new Rng(opts.seed ?? 11);
  const fresh = opts.fresh ?? 0;
  let t = opts.start ?? 2_000_000;
  const out: Record<string, unknown>[] = [];
  for (let k = 0; k < n; k++) {
    const u = rng.int(40 + fresh);
    const i = rng.int(30 + fresh);
    t += rng.int(2000);
    const e: Record<string, unknown> = { user_id: u < 40 ? `u${u}` : `new_u${u - 40}`, item_id: i < 30 ? `i${i}` : `new_i${i - 30}`, ts: t,
      rating: 1 + rng.int(5), device: DEVICES[rng.int(3)] };
    if (i >= 30) Object.assign(e, { category: `c${i % 5}`, genres: 'drama|comedy', price: 10 });
    out.push(e);
  }
  return out;
}

export function writeJsonl(dir: string, name: string, events: Record<string, unknown>[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
}
