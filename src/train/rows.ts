// Training on dataset rows: the batch source is the train split in the epoch's seeded order, the objective the
// model's own loss (or the strategy's), validated by the binary metrics on the val split, plus the full-corpus
// ranking metric when early stopping watches one (recall@K, ndcg@K, ...).
import type { Batch, SplitName, TrainingData } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import { inMemory } from './build.js';
import type { ResolvedTrainConfig } from './config.js';
import type { BatchSource, Objective, TrainingRun } from './loop.js';
import { binaryMetrics, collectPredictions, type BinaryMetrics } from './predict.js';
import { rankingEval, type FullScan } from './ranking-eval.js';
import { SampledSoftmax } from './sampled-softmax.js';
import { MODEL_LOSS } from './step.js';
import type { TrainingStrategy } from './strategies/types.js';

/** Validation metrics of an epoch on rows: the binary ones, plus the ranking metric early stopping watches when it is one. */
export type ValMetrics = BinaryMetrics & Record<string, number>;

export type RowConfig = Pick<ResolvedTrainConfig, 'batchSize' | 'evalBatchSize' | 'seed' | 'earlyStopping'> & Partial<Pick<ResolvedTrainConfig, 'objective'>>;

/** The train split's batches; each epoch's order is seeded by the config's seed and the epoch. */
export function rowSource(data: TrainingData, cfg: Pick<ResolvedTrainConfig, 'batchSize' | 'seed'>): BatchSource<Batch> {
  // one stream for every epoch (its batch buffers are reused; an epoch's order depends on the epoch alone), opened
  // on first use
  let open: ReturnType<TrainingData['batches']> | null = null;
  const stream = () => (open ??= data.batches('train', { batchSize: cfg.batchSize, seed: cfg.seed }));
  return {
    epoch: (e) => stream().epoch(e),
    get batchesPerEpoch() {
      return stream().batchesPerEpoch;
    },
    samples: (b) => b.size,
    weight: (b) => b.size,
  };
}

export interface RowObjective extends Objective<Batch, ValMetrics> {
  /** Binary metrics of the model as it is now on a split (eval mode, no tape). */
  evaluate(model: RecModel, split: SplitName): BinaryMetrics;
}

export function rowObjective(data: TrainingData, cfg: RowConfig, strategy?: TrainingStrategy, scan?: FullScan): RowObjective {
  const evaluate = (model: RecModel, split: SplitName): BinaryMetrics => {
    const forward = strategy ? (b: Batch) => strategy.forward(model, b) : undefined;
    return binaryMetrics(collectPredictions(model, data, split, cfg.evalBatchSize, forward));
  };
  return {
    loss: MODEL_LOSS.loss,
    evaluate,
    validate(model: RecModel): ValMetrics {
      const val: ValMetrics = { ...evaluate(model, 'val') };
      const metric = cfg.earlyStopping.metric;
      const at = metric.indexOf('@');
      if (at > 0) Object.assign(val, rankingEval(model, inMemory(data, `early stopping on ${metric}`), { split: 'val', ks: [Number(metric.slice(at + 1))], strategy, users: cfg.earlyStopping.users, seed: cfg.seed, scan }).exact);
      return val;
    },
    lowerIsBetter: (metric) => metric === 'logloss',
    describe: (val, metric) => `val AUC ${val.auc.toFixed(5)} logloss ${val.logloss.toFixed(5)}${metric.includes('@') ? ` ${metric} ${val[metric].toFixed(5)}` : ''}`,
  };
}

/**
 * A run over the dataset's rows: the train split's batches, the row objective, the strategy (if any). With a
 * sampled-softmax `objective` (`model` given), its loss replaces the model's and each epoch reseeds its draws.
 */
export function rowRun(data: TrainingData, cfg: RowConfig, strategy?: TrainingStrategy, model?: RecModel, scan?: FullScan): TrainingRun<Batch, ValMetrics> & { objective: RowObjective } {
  const source = rowSource(data, cfg);
  const objective = rowObjective(data, cfg, strategy, scan);
  if (!cfg.objective) return { source, objective, strategy };
  if (strategy) throw new Error(`train config: objective '${cfg.objective.kind}' and strategy '${strategy.kind}' both give the step's loss; use one of them`);
  if (!model) throw new Error(`objective '${cfg.objective.kind}' needs the model it trains`);
  const ssm = new SampledSoftmax(model, inMemory(data, `objective '${cfg.objective.kind}'`), cfg.objective, cfg.seed);
  objective.loss = (m, b) => ssm.loss(m, b);
  const reseeded: BatchSource<Batch> = {
    epoch: (e) => (ssm.startEpoch(e), source.epoch(e)),
    get batchesPerEpoch() {
      return source.batchesPerEpoch;
    },
    samples: source.samples,
    weight: source.weight,
  };
  return { source: reseeded, objective, strategy, rngs: [['objective.sampler', ssm.rng]] };
}
