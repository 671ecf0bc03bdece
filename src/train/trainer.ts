// The fit loop: seeded epochs over the train split, validation after each epoch, early stopping with patience on
// a validation metric, best and last checkpoints written atomically, exact resume from the last one.
import { join } from 'node:path';
import { Adagrad, Adam, Sgd, type Optimizer } from '../nn/index.js';
import type { SplitName, TrainingData } from '../data/index.js';
import { inMemory } from './build.js';
import type { RecModel } from '../models/types.js';
import type { Tensor } from '../core/tensor.js';
import type { TrainingStrategy } from './strategies/types.js';
import type { TrainConfig } from './config.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { binaryMetrics, collectPredictions, type BinaryMetrics } from './predict.js';
import { Progress } from './progress.js';
import { rankingEval } from './ranking-eval.js';
import { RunLog } from './run-log.js';
import { trainStep } from './step.js';

/** Validation metrics of an epoch: the binary ones, plus the ranking metric early stopping watches when it is one. */
export type ValMetrics = BinaryMetrics & Record<string, number>;

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  val: ValMetrics;
  seconds: number;
  samplesPerSec: number;
}

export interface FitResult {
  epochs: EpochRecord[];
  bestEpoch: number;
  best: ValMetrics;
  stoppedEarly: boolean;
  resumedFrom: number | null;
}

export interface TrainerOptions {
  /** Continue from outDir/last when it exists. */
  resume?: boolean;
  /** Stop after this many epochs in this call (for tests of resume); the run can be resumed later. */
  maxEpochsThisCall?: number;
  signal?: AbortSignal;
  quiet?: boolean;
  /** How the model is trained (src/train/strategies); default: its own loss on every parameter. */
  strategy?: TrainingStrategy;
}

export function createOptimizer(model: RecModel, cfg: TrainConfig['optimizer'], params: [string, Tensor][] = model.namedParameters()): Optimizer {
  if (cfg.kind === 'adagrad') return new Adagrad(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  if (cfg.kind === 'sgd') return new Sgd(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  return new Adam(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
}

/** Lower is better for logloss, higher for AUC and the ranking metrics. */
function improves(metric: string, value: number, best: number | null): boolean {
  if (best === null) return Number.isFinite(value);
  return metric === 'logloss' ? value < best : value > best;
}

export class Trainer {
  readonly optimizer: Optimizer;
  readonly log: RunLog;
  private readonly progress = new Progress();

  constructor(readonly model: RecModel, readonly data: TrainingData, readonly cfg: TrainConfig, readonly opts: TrainerOptions = {}) {
    this.optimizer = createOptimizer(model, cfg.optimizer, opts.strategy?.trainable(model));
    this.log = new RunLog(join(cfg.outDir, 'log.jsonl'));
  }

  /** Metrics of the model as it is now on a split (eval mode, no tape). */
  evaluate(split: SplitName): BinaryMetrics {
    const strategy = this.opts.strategy;
    const forward = strategy ? (b: Parameters<RecModel['forward']>[0]) => strategy.forward(this.model, b) : undefined;
    return binaryMetrics(collectPredictions(this.model, this.data, split, this.cfg.evalBatchSize, forward));
  }

  /** One pass over the train split in epoch `epoch`'s seeded order (no evaluation, no checkpoint); `npm run bench -- train` times it. */
  trainEpoch(epoch: number): { loss: number; samples: number } {
    const { model, optimizer } = this;
    const strategy = this.opts.strategy;
    strategy?.startEpoch(model, epoch);
    model.train();
    const stream = this.data.batches('train', { batchSize: this.cfg.batchSize, seed: this.cfg.seed });
    const total = stream.batchesPerEpoch;
    let sum = 0;
    let samples = 0;
    let done = 0;
    this.progress.start();
    for (const batch of stream.epoch(epoch)) {
      if (this.opts.signal?.aborted) throw new Error('training aborted');
      const loss = trainStep(model, optimizer, batch, strategy, `epoch ${epoch}, batch ${done}`);
      sum += loss * batch.size;
      samples += batch.size;
      done++;
      if (!this.opts.quiet) this.progress.update(`epoch ${epoch}`, done, total, sum / samples);
    }
    this.progress.end();
    return { loss: sum / Math.max(samples, 1), samples };
  }

  async fit(): Promise<FitResult> {
    const { cfg, model } = this;
    const lastDir = join(cfg.outDir, 'last');
    const bestDir = join(cfg.outDir, 'best');
    let start = 0;
    let best: { value: number | null; epoch: number; metrics: ValMetrics | null } = { value: null, epoch: -1, metrics: null };
    let bad = 0;
    let resumedFrom: number | null = null;
    const epochs: EpochRecord[] = [];
    if (this.opts.resume && hasCheckpoint(lastDir)) {
      const meta = await loadCheckpoint(lastDir, model, this.optimizer, this.opts.strategy);
      start = meta.epoch + 1;
      best = meta.best as typeof best;
      bad = meta.badEpochs as number;
      epochs.push(...(meta.history as EpochRecord[]));
      resumedFrom = meta.epoch;
      this.log.write({ event: 'resume', fromEpoch: meta.epoch });
    }
    let stoppedEarly = bad > cfg.earlyStopping.patience;
    const stopAt = Math.min(cfg.epochs, start + (this.opts.maxEpochsThisCall ?? Infinity));
    for (let epoch = start; epoch < stopAt && !stoppedEarly; epoch++) {
      const t0 = performance.now();
      const { loss, samples } = this.trainEpoch(epoch);
      const trainSecs = (performance.now() - t0) / 1000;
      const val: ValMetrics = { ...this.evaluate('val') };
      const metric = cfg.earlyStopping.metric;
      const at = metric.indexOf('@');
      if (at > 0) Object.assign(val, rankingEval(model, inMemory(this.data, `early stopping on ${metric}`), { split: 'val', ks: [Number(metric.slice(at + 1))], strategy: this.opts.strategy }));
      const rec: EpochRecord = { epoch, trainLoss: loss, val, seconds: (performance.now() - t0) / 1000, samplesPerSec: samples / trainSecs };
      epochs.push(rec);
      this.log.write({ event: 'epoch', ...rec });
      if (!this.opts.quiet) console.log(`epoch ${epoch}: train loss ${loss.toFixed(5)}, val AUC ${val.auc.toFixed(5)} logloss ${val.logloss.toFixed(5)}, ${rec.samplesPerSec.toFixed(0)} samples/s`);
      if (improves(metric, val[metric], best.value)) {
        best = { value: val[metric], epoch, metrics: val };
        bad = 0;
        await saveCheckpoint(bestDir, model, null, { epoch, val, kind: model.kind }, this.opts.strategy);
      } else {
        bad++;
      }
      stoppedEarly = bad > cfg.earlyStopping.patience;
      await saveCheckpoint(lastDir, model, this.optimizer, { epoch, best, badEpochs: bad, history: epochs }, this.opts.strategy);
    }
    return { epochs, bestEpoch: best.epoch, best: best.metrics!, stoppedEarly, resumedFrom };
  }

  /** Loads the best checkpoint's weights into the model. */
  async restoreBest(): Promise<void> {
    await loadCheckpoint(join(this.cfg.outDir, 'best'), this.model, null, this.opts.strategy);
  }
}

