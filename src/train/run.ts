// One training run from a config: load the data, build the model from the registry, fit, restore the best
// checkpoint, evaluate on test. Shared by `prerank train`, `prerank demo` and `prerank experiment`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Rng } from '../core/index.js';
import { Dataset, recipeConfig, type RecipeName } from '../data/index.js';
import { MODELS } from '../models/registry.js';
import type { RecModel } from '../models/types.js';
import { STRATEGIES } from './strategies/registry.js';
import type { StrategyFactory, TrainingStrategy } from './strategies/types.js';
import { parseTrainConfig, type TrainConfig } from './config.js';
import type { BinaryMetrics } from './predict.js';
import { Trainer, type FitResult, type TrainerOptions } from './trainer.js';
import { own } from '../util/own.js';
import { loadConfig } from '../util/config.js';

export interface RunResult {
  config: TrainConfig;
  model: RecModel;
  /** The training strategy, when the config named one (its state, e.g. OneBP's user encodings, is the best epoch's). */
  strategy?: TrainingStrategy;
  fit: FitResult;
  test: BinaryMetrics;
  /** Mean training throughput over the epochs run. */
  samplesPerSec: number;
}

/** Reads a train config file (JSON or YAML); a relative data config path is taken relative to the file. */
export function loadTrainConfig(path: string): TrainConfig {
  return loadConfig(path, 'train config', (raw, dir) => {
    const cfg = parseTrainConfig(raw);
    if ('config' in cfg.data && !isAbsolute(cfg.data.config)) cfg.data = { config: resolve(dir, cfg.data.config) };
    return cfg;
  });
}

export async function loadData(cfg: Pick<TrainConfig, 'data'>): Promise<Dataset> {
  if ('recipe' in cfg.data) return Dataset.load(recipeConfig(cfg.data.recipe as RecipeName));
  return Dataset.load(cfg.data.config);
}

export function buildModel(cfg: TrainConfig, data: Dataset): RecModel {
  const factory = own(MODELS as Record<string, (ctx: { features: Dataset['features']; rng: Rng }, c: Record<string, unknown>) => RecModel>, cfg.model.kind);
  if (!factory) throw new Error(`unknown model '${cfg.model.kind}' (registered: ${Object.keys(MODELS).join(', ')})`);
  return factory({ features: data.features, rng: new Rng(cfg.seed) }, cfg.model.config);
}

/** The config's training strategy; `trained`: the model already holds trained weights (StrategyContext.trained). */
export async function buildStrategy(cfg: TrainConfig, model: RecModel, data: Dataset, trained = false): Promise<TrainingStrategy | undefined> {
  if (!cfg.strategy) return undefined;
  const factory = own(STRATEGIES as Record<string, StrategyFactory<Record<string, unknown>>>, cfg.strategy.kind);
  if (!factory) throw new Error(`unknown training strategy '${cfg.strategy.kind}' (registered: ${Object.keys(STRATEGIES).join(', ')})`);
  return await factory({ model, data, rng: new Rng(cfg.seed + 1), trained }, cfg.strategy.config);
}

export async function runTraining(cfg: TrainConfig, opts: TrainerOptions & { data?: Dataset } = {}): Promise<RunResult> {
  const data = opts.data ?? (await loadData(cfg));
  const model = buildModel(cfg, data);
  mkdirSync(cfg.outDir, { recursive: true });
  writeFileSync(join(cfg.outDir, 'config.json'), JSON.stringify(cfg, null, 2));
  const strategy = opts.strategy ?? (await buildStrategy(cfg, model, data));
  const trainer = new Trainer(model, data, cfg, { ...opts, strategy });
  const fit = await trainer.fit();
  await trainer.restoreBest();
  const test = trainer.evaluate('test');
  const samplesPerSec = fit.epochs.reduce((s, e) => s + e.samplesPerSec, 0) / Math.max(1, fit.epochs.length);
  const summary = { model: cfg.model.kind, data: data.name, bestEpoch: fit.bestEpoch, val: fit.best, test, samplesPerSec, epochs: fit.epochs.length };
  writeFileSync(join(cfg.outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  trainer.log.write({ event: 'summary', ...summary });
  return { config: cfg, model, strategy, fit, test, samplesPerSec };
}
