// A run's parts from its config: the config file read, the dataset loaded, the model built from the registry. The
// training strategy is built in run.ts, beside the strategies' registry (a strategy may build models itself:
// cs3-cascade's teacher).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../core/index.js';
import { CachedDataset, Dataset, loadDataConfig, recipeConfig, type OpenOptions, type RecipeName, type TrainingData } from '../data/index.js';
import { MODELS } from '../models/registry.js';
import type { RecModel } from '../models/types.js';
import { hasCheckpoint, loadCheckpoint } from './checkpoint.js';
import { parseTrainConfig, resolveDataRef, type TrainConfig } from './config.js';
import { loadConfig } from '../util/config.js';
import { own } from '../util/own.js';

/** Reads a train config file (JSON or YAML); a relative data config path is taken relative to the file. */
export function loadTrainConfig(path: string): TrainConfig {
  return loadConfig(path, 'train config', (raw, dir) => {
    const cfg = parseTrainConfig(raw);
    cfg.data = resolveDataRef(cfg.data, dir);
    return cfg;
  });
}

/**
 * The run's data: out-of-core (CachedDataset, rows streamed from an on-disk cache) when the data config has `cache`,
 * else in memory (Dataset). `splitSeed` replaces the data config's seed: another split, encoders fitted on its train.
 */
export async function loadData(cfg: Pick<TrainConfig, 'data'> & { splitSeed?: number }, log: (line: string) => void = () => {},
  verify: OpenOptions['verify'] = true): Promise<TrainingData> {
  const read = 'recipe' in cfg.data ? recipeConfig(cfg.data.recipe as RecipeName) : loadDataConfig(cfg.data.config);
  const dataCfg = cfg.splitSeed === undefined ? read : { ...read, seed: cfg.splitSeed };
  const cached = dataCfg.cache && !('cache' in cfg.data && cfg.data.cache === false);
  return cached ? CachedDataset.open(dataCfg, { log, verify }) : Dataset.load(dataCfg);
}

/** The in-memory Dataset that `what` needs (per-row arrays): an error naming the remedy for a cached one. */
export function inMemory(data: TrainingData, what: string): Dataset {
  if (data instanceof Dataset) return data;
  throw new Error(`${what} needs the in-memory dataset (per-row arrays): set "data": {"config": ..., "cache": false}, or remove "cache" from the data config of '${data.name}'`);
}

/** The registry model of a config; `rng` draws its initial weights (default: the config's seed). */
export function buildModel(cfg: TrainConfig, data: TrainingData, rng: Rng = new Rng(cfg.seed)): RecModel {
  const factory = own(MODELS as Record<string, (ctx: { features: TrainingData['features']; rng: Rng }, c: Record<string, unknown>) => RecModel>, cfg.model.kind);
  if (!factory) throw new Error(`unknown model '${cfg.model.kind}' (registered: ${Object.keys(MODELS).join(', ')})`);
  return factory({ features: data.features, rng }, cfg.model.config);
}

function dataName(data: TrainConfig['data']): string {
  return 'recipe' in data ? recipeConfig(data.recipe as RecipeName).name : loadDataConfig(data.config).name;
}

/**
 * Another training run's model, built on this dataset with its best (else last) checkpoint loaded: what a strategy
 * reaches through `StrategyContext.loadRun` (cs3-cascade's teacher). `what` names the run in errors.
 */
export async function loadRunModel(dir: string, data: TrainingData, what = 'run'): Promise<RecModel> {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`${what} ${dir} is not a training run (no config.json)`);
  const cfg = loadTrainConfig(cfgPath);
  const name = dataName(cfg.data);
  if (name !== data.name) throw new Error(`${what} ${dir} was trained on data '${name}', this run uses '${data.name}'`);
  const ckpt = ['best', 'last'].map((d) => join(dir, d)).find(hasCheckpoint);
  if (!ckpt) throw new Error(`${what} ${dir} has no checkpoint (best/ or last/)`);
  const model = buildModel(cfg, data);
  try {
    await loadCheckpoint(ckpt, model, null);
  } catch (e) {
    throw new Error(`${what} checkpoint ${ckpt} ('${model.kind}') does not fit this dataset's features (different fields or vocabulary sizes): ${(e as Error).message}`);
  }
  return model;
}
