// What the fault scenarios share (test/fault-scenarios.ts): the result of a scenario and small helpers.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hasCheckpoint, loadCheckpoint } from '../src/train/checkpoint.js';
import type { ExportSource } from '../src/export/index.js';
import { Deployment } from '../src/serve/service.js';
import { buildModel, loadData, loadTrainConfig } from '../src/train/run.js';

export interface FaultResult {
  name: string;
  /** Faults injected. */
  faults: number;
  /** Of those, the ones the code survived (every check held). */
  survived: number;
  detail: string;
  /** One line per fault not survived. */
  failures: string[];
  /** Why the scenario did not run (faults = 0). */
  skipped?: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const CLI = join(process.cwd(), 'dist/src/cli/main.js');
export const WRITER = join(process.cwd(), 'dist/test/fault-writer.js');

/** A seeded uniform [0, 1) (the scenarios' kill moments and fill levels). */
export function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

/** The model of a training run (its best checkpoint), its dataset and config: an ExportSource. */
export async function loadRun(runDir: string): Promise<ExportSource & { cfg: ReturnType<typeof loadTrainConfig> }> {
  const cfg = loadTrainConfig(join(runDir, 'config.json'));
  const dataset = await loadData(cfg);
  const model = buildModel(cfg, dataset);
  await loadCheckpoint(['best', 'last'].map((d) => join(runDir, d)).find(hasCheckpoint)!, model, null);
  return { model, dataset, config: cfg.model, cfg };
}

/** Leftovers of interrupted writes beside `dir` (`.<name>.tmp-*`). */
export const leftoversBeside = (dir: string): string[] => (existsSync(dirname(dir)) ? readdirSync(dirname(dir)).filter((n) => n.startsWith(`.${basename(dir)}.tmp-`)) : []);
/** Temporary entries in a versioned root. */
export const rootTemps = (root: string): string[] => (existsSync(root) ? readdirSync(root).filter((n) => n.startsWith('.') && n.includes('.tmp-')) : []);

/** Opens (and closes) a serving deployment of the bundle in dir, as `prerank serve` would. */
export async function serveCheck(dir: string): Promise<void> {
  const d = await Deployment.open(dir, {});
  await d.close();
}
