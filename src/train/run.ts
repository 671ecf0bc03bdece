// One training run from a config: load the data, build the model from the registry, fit, restore the best
// checkpoint, evaluate on test. Shared by `prerank train`, `prerank demo` and `prerank experiment`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../core/index.js';
import type { TrainingData } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import { STRATEGIES } from './strategies/registry.js';
import type { StrategyFactory, TrainingStrategy } from './strategies/types.js';
import { resolveTrainConfig, runConfigJson, type ResolvedTrainConfig, type TrainConfig } from './config.js';
import { buildModel, inMemory, loadData, loadRunModel } from './build.js';
import type { BinaryMetrics } from './predict.js';
import { Trainer, type FitResult, type TrainerOptions } from './trainer.js';
import { own } from '../util/own.js';

export { loadTrainConfig, loadData, buildModel, inMemory } from './build.js';

export interface RunResult {
  /** The config the run trained with ('auto' batch size and the model's default lr resolved). */
  config: ResolvedTrainConfig;
  model: RecModel;
  /** The training strategy, when the config named one (its state, e.g. OneBP's user encodings, is the best epoch's). */
  strategy?: TrainingStrategy;
  fit: FitResult;
  test: BinaryMetrics;
  /** Mean training throughput over the epochs run. */
  samplesPerSec: number;
}

/** The config's training strategy; `trained`: the model already holds trained weights (StrategyContext.trained). */
export async function buildStrategy(cfg: TrainConfig, model: RecModel, data: TrainingData, trained = false): Promise<TrainingStrategy | undefined> {
  if (!cfg.strategy) return undefined;
  const factory = own(STRATEGIES as Record<string, StrategyFactory<Record<string, unknown>>>, cfg.strategy.kind);
  if (!factory) throw new Error(`unknown training strategy '${cfg.strategy.kind}' (registered: ${Object.keys(STRATEGIES).join(', ')})`);
  return await factory({ model, data: inMemory(data, `strategy '${cfg.strategy.kind}'`), rng: new Rng(cfg.seed + 1), trained, loadRun: loadRunModel }, cfg.strategy.config);
}

/**
 * Trains `input`'s run; its config.json holds the resolved config (the batch size and lr it trained with).
 * `continueSameConfig`: resume from the outDir's last checkpoint when its config.json is this very config (an
 * experiment's run killed part-way), else train from the start.
 */
export async function runTraining(input: TrainConfig, opts: TrainerOptions & { data?: TrainingData; continueSameConfig?: boolean } = {}): Promise<RunResult> {
  const data = opts.data ?? (await loadData(input, opts.quiet ? undefined : (l) => console.log(l)));
  const cfg = resolveTrainConfig(input, data.splitSize('train')).config;
  const model = buildModel(cfg, data);
  mkdirSync(cfg.outDir, { recursive: true });
  const configFile = join(cfg.outDir, 'config.json');
  const configJson = runConfigJson(cfg);
  const resume = opts.resume || (opts.continueSameConfig === true && existsSync(configFile) && readFileSync(configFile, 'utf8') === configJson);
  writeFileSync(configFile, configJson);
  const strategy = opts.strategy ?? (await buildStrategy(cfg, model, data));
  const trainer = new Trainer(model, data, input, { ...opts, resume, strategy }); // resolves input as above, and logs what it filled in
  const fit = await trainer.fit();
  await trainer.restoreBest();
  const test = trainer.evaluate('test');
  const samplesPerSec = fit.epochs.reduce((s, e) => s + e.samplesPerSec, 0) / Math.max(1, fit.epochs.length);
  const summary = { model: cfg.model.kind, data: data.name, batchSize: cfg.batchSize, lr: cfg.optimizer.lr, bestEpoch: fit.bestEpoch, val: fit.best, test, samplesPerSec, epochs: fit.epochs.length };
  writeFileSync(join(cfg.outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  trainer.log.write({ event: 'summary', ...summary });
  return { config: cfg, model, strategy, fit, test, samplesPerSec };
}
