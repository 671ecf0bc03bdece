// Where a model that keeps training (online, src/online) starts: a finished training run's best (else last)
// checkpoint, or a model trained here offline on a time prefix of a train config's data (the remaining rows
// optionally written as a replay stream, src/data/replay.ts). Either way the dataset returned is the one whose
// encoders and entities the continued training uses.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset, ingest, loadDataConfig, recipeConfig, subsetRaw, timeSplit, writeReplay, type DataConfig, type RecipeName } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import { buildModel, inMemory, loadData, loadTrainConfig } from './build.js';
import { hasCheckpoint, loadCheckpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { runTraining } from './run.js';

/** A training run directory, or a train config whose data's time prefix trains the model. */
export type StartingPoint =
  | { run: string }
  | { train: string; fraction: number; writeRestTo?: string; filesOf: number; offlineDir?: string };

export interface Started {
  trainCfg: TrainConfig;
  data: Dataset;
  model: RecModel;
}

export interface StartOptions {
  /** The caller restores its own checkpoint: build the model, load or train no weights. */
  resuming: boolean;
  /** Where the prefix model trains when the starting point names no offlineDir. */
  offlineDir: string;
  quiet?: boolean;
  log: (m: string) => void;
}

function dataConfigOf(cfg: TrainConfig): DataConfig {
  return 'recipe' in cfg.data ? recipeConfig(cfg.data.recipe as RecipeName) : loadDataConfig(cfg.data.config);
}

/** The model to continue from and its dataset. */
export async function startingModel(from: StartingPoint, o: StartOptions): Promise<Started> {
  if ('run' in from) {
    const trainCfg = loadTrainConfig(join(from.run, 'config.json'));
    const data = inMemory(await loadData(trainCfg), 'online training');
    const model = buildModel(trainCfg, data);
    if (!o.resuming) {
      const ck = ['best', 'last'].map((d) => join(from.run, d)).find(hasCheckpoint);
      if (!ck) throw new Error(`initial run ${from.run} has no checkpoint (best/ or last/)`);
      await loadCheckpoint(ck, model, null);
      o.log(`initial model: ${ck}`);
    }
    return { trainCfg, data, model };
  }
  const trainCfg = loadTrainConfig(from.train);
  const dataCfg = dataConfigOf(trainCfg);
  const raw = await ingest(dataCfg);
  const { cut, prefix, rest } = timeSplit(raw, from.fraction, `the time prefix of ${from.train}`);
  const data = Dataset.fromRaw(dataCfg, subsetRaw(raw, Int32Array.from(prefix).sort()));
  o.log(`time prefix: ${prefix.length} rows before ${cut} (${new Date(cut * 1000).toISOString()}), ${rest.length} after`);
  if (from.writeRestTo) {
    const dir = from.writeRestTo;
    const written = existsSync(dir) && readdirSync(dir).some((n) => /\.(jsonl|csv|tsv)$/.test(n) && !n.startsWith('.'));
    if (!written) {
      await writeReplay(raw, dataCfg, rest, dir, from.filesOf);
      o.log(`replay stream: ${rest.length} events written to ${dir}`);
    }
  }
  const offDir = from.offlineDir ?? o.offlineDir;
  let model = buildModel(trainCfg, data);
  if (o.resuming) return { trainCfg, data, model };
  if (hasCheckpoint(join(offDir, 'best'))) {
    await loadCheckpoint(join(offDir, 'best'), model, null);
    o.log(`initial model: ${join(offDir, 'best')} (already trained)`);
  } else {
    o.log(`training the initial model offline on the prefix into ${offDir}`);
    const r = await runTraining({ ...trainCfg, outDir: offDir }, { data, quiet: o.quiet });
    model = r.model;
    o.log(`offline: best epoch ${r.fit.bestEpoch}, prefix test AUC ${r.test.auc.toFixed(5)}`);
  }
  return { trainCfg, data, model };
}
