// The training run configuration (zod schema; the same schema documents the JSON or YAML config file).
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseConfig } from '../util/config.js';
import { ModelSpecSchema, modelDefaultLr, modelSoftmaxTemperature } from '../models/registry.js';
import { StrategySpecSchema } from './strategies/registry.js';
import { SampledSoftmaxSchema } from './sampled-softmax.js';
import { autoBatchSize } from './small-epoch.js';

/** A data config file (path, relative to the config that names it) or a built-in recipe name. */
export const DataRefSchema = z.union([
  z.strictObject({
    config: z.string(),
    cache: z.literal(false).optional().describe("false: load the data in memory even where the data config has a cache section (sampled softmax, ranking metrics and strategies need per-row arrays)"),
  }),
  z.strictObject({ recipe: z.string() }),
]);
export type DataRef = z.infer<typeof DataRefSchema>;

/** The reference with a relative data config path made absolute against dir (a recipe as it is). */
export function resolveDataRef<T extends DataRef>(ref: T, dir: string): T {
  return 'config' in ref && !isAbsolute(ref.config) ? { ...ref, config: resolve(dir, ref.config) } : ref;
}

export const TrainConfigSchema = z.strictObject({
  /** Registered model name (see src/models/registry.ts) and its own config object. */
  model: ModelSpecSchema,
  data: DataRefSchema,
  optimizer: z
    .strictObject({
      kind: z.enum(['adam', 'adagrad', 'sgd']).default('adam'),
      lr: z.number().positive().optional()
        .describe("default: the model's own (1e-3; LR 5e-3, DCN 3e-3: chosen by tuning, docs/TUNING.md)"),
      weightDecay: z.number().min(0).default(0),
      eps: z.number().positive().optional()
        .describe("Adam's and Adagrad's epsilon (default 1e-8, Adagrad 1e-10). A loss summed over a batch of B instead of averaged trains as the mean with eps / B"),
    })
    .superRefine((o, ctx) => {
      if (o.kind === 'sgd' && o.eps !== undefined) ctx.addIssue({ code: 'custom', path: ['eps'], message: 'sgd has no epsilon (adam and adagrad have)' });
    })
    .default({ kind: 'adam', weightDecay: 0 }),
  batchSize: z.union([z.number().int().positive(), z.literal('auto')]).default('auto')
    .describe("'auto': from the train split's size, the largest power of two giving >= 200 steps an epoch, clamped to 64..2048"),
  evalBatchSize: z.number().int().positive().default(8192),
  epochs: z.number().int().positive().default(30).describe('the most epochs; early stopping usually ends a run sooner'),
  seed: z.number().int().default(2022),
  /** The seed of the data split (train/val/test rows, and so every encoder fitted on train); default: the data config's. */
  splitSeed: z.number().int().optional(),
  /**
   * Early stopping on a validation metric: 'auc' (higher is better), 'logloss' (lower), or a full-corpus ranking
   * metric such as 'recall@20' / 'ndcg@10' (higher; two-tower models; the right choice for retrieval objectives
   * such as OneBP's sampled InfoNCE, whose pointwise AUC says little).
   */
  earlyStopping: z
    .strictObject({
      metric: z.union([z.enum(['auc', 'logloss']), z.string().regex(/^(recall|ndcg|precision|hitrate)@[1-9][0-9]*$/, 'auc, logloss or <recall|ndcg|precision|hitrate>@K')]).default('auc'),
      patience: z.number().int().min(0).default(3)
        .describe('epochs without improvement that are tolerated: training stops at the next one (0: at the first epoch that does not improve)'),
      users: z.number().int().positive().optional()
        .describe('a ranking metric: evaluate this many validation users, a sample fixed by the seed (default: every one)'),
    })
    .default({ metric: 'auc', patience: 3 }),
  /** A training strategy (src/train/strategies/registry.ts) and its config; none = the model's own loss. */
  strategy: StrategySpecSchema.optional(),
  /** The step's loss on dataset rows when not the model's own: the sampled softmax (retrieval training, two-tower models). */
  objective: SampledSoftmaxSchema.optional()
    .describe("the step's loss when not the model's own (absent): {kind: 'sampled-softmax', ...} trains a two-tower model for retrieval"),
  checkpointMinutes: z.number().min(0).default(30)
    .describe('also write last/ every this many minutes of training inside an epoch, so --resume continues a long epoch at the step it reached (0: at epoch ends only)'),
  /** Where checkpoints (last/, best/) and the JSONL log go. */
  outDir: z.string().default('runs/latest'),
});

/** A train config as parsed: the batch size may still be 'auto' and the learning rate the model's default (absent). */
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;
export type OptimizerConfig = Omit<TrainConfig['optimizer'], 'lr'> & { lr: number };
/** A train config with the defaults that depend on the data and the model resolved (what a run trains with). */
export type ResolvedTrainConfig = Omit<TrainConfig, 'batchSize' | 'optimizer'> & { batchSize: number; optimizer: OptimizerConfig };

export function parseTrainConfig(input: unknown): TrainConfig {
  return parseConfig(TrainConfigSchema, input, 'train');
}

/** What resolveTrainConfig filled in (null: the config gave it). */
export interface ResolvedDefaults {
  batchSize: number | null;
  lr: number | null;
  /** The sampled-softmax objective's temperature when the model's default filled it in. */
  softmaxTemperature: number | null;
}

/**
 * The config a run trains with: batchSize 'auto' becomes autoBatchSize(trainRows), an absent learning rate the
 * model's own default (modelDefaultLr), an absent sampled-softmax temperature the model's (modelSoftmaxTemperature);
 * explicit values are kept. `resolved` says what was filled in.
 */
export function resolveTrainConfig(cfg: TrainConfig, trainRows: number): { config: ResolvedTrainConfig; resolved: ResolvedDefaults } {
  const batchSize = cfg.batchSize === 'auto' ? autoBatchSize(trainRows) : cfg.batchSize;
  const lr = cfg.optimizer.lr ?? modelDefaultLr(cfg.model.kind);
  const objective = cfg.objective && { ...cfg.objective, temperature: cfg.objective.temperature ?? modelSoftmaxTemperature(cfg.model.kind) };
  return {
    config: { ...cfg, batchSize, optimizer: { ...cfg.optimizer, lr }, ...(objective ? { objective } : {}) },
    resolved: {
      batchSize: cfg.batchSize === 'auto' ? batchSize : null,
      lr: cfg.optimizer.lr === undefined ? lr : null,
      softmaxTemperature: objective && cfg.objective?.temperature === undefined ? objective.temperature : null,
    },
  };
}

/** The resolved defaults as one line for a run's output and log, or null when the config gave both. */
export function resolvedDefaultsLine(r: ResolvedDefaults, trainRows: number): string | null {
  const parts = [
    r.batchSize === null ? null : `batchSize auto = ${r.batchSize} (${trainRows} training rows, ${Math.ceil(trainRows / r.batchSize)} steps an epoch)`,
    r.lr === null ? null : `lr = ${r.lr} (the model's default)`,
    r.softmaxTemperature === null ? null : `objective temperature = ${r.softmaxTemperature} (the model's default)`,
  ].filter((p) => p !== null);
  return parts.length ? parts.join('; ') : null;
}

/**
 * The config as a run directory stores it (config.json): a data config path made absolute, so the run loads from any
 * working directory (`prerank export`, `prerank eval`, strategies reading another run) as it did when it trained.
 */
export function runConfigJson(cfg: TrainConfig | ResolvedTrainConfig): string {
  return JSON.stringify({ ...cfg, data: resolveDataRef(cfg.data, '.') }, null, 2);
}
