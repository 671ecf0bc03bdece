// The training run configuration (zod schema; the same schema documents the JSON or YAML config file).
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseConfig } from '../util/config.js';
import { ModelSpecSchema } from '../models/registry.js';
import { StrategySpecSchema } from './strategies/registry.js';
import { SampledSoftmaxSchema } from './sampled-softmax.js';

export const TrainConfigSchema = z.strictObject({
  /** Registered model name (see src/models/registry.ts) and its own config object. */
  model: ModelSpecSchema,
  /** A data config file (path, relative to this file) or a built-in recipe name. */
  data: z.union([z.strictObject({ config: z.string() }), z.strictObject({ recipe: z.string() })]),
  optimizer: z
    .strictObject({
      kind: z.enum(['adam', 'adagrad', 'sgd']).default('adam'),
      lr: z.number().positive().default(1e-3),
      weightDecay: z.number().min(0).default(0),
    })
    .default({ kind: 'adam', lr: 1e-3, weightDecay: 0 }),
  batchSize: z.number().int().positive().default(2048),
  evalBatchSize: z.number().int().positive().default(8192),
  epochs: z.number().int().positive().default(10),
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
      patience: z.number().int().min(0).default(5),
      users: z.number().int().positive().optional()
        .describe('a ranking metric: evaluate this many validation users, a sample fixed by the seed (default: every one)'),
    })
    .default({ metric: 'auc', patience: 5 }),
  /** A training strategy (src/train/strategies/registry.ts) and its config; none = the model's own loss. */
  strategy: StrategySpecSchema.optional(),
  /** The step's loss on dataset rows when not the model's own: the sampled softmax (retrieval training, two-tower models). */
  objective: SampledSoftmaxSchema.optional()
    .describe("the step's loss when not the model's own (absent): {kind: 'sampled-softmax', ...} trains a two-tower model for retrieval"),
  /** Where checkpoints (last/, best/) and the JSONL log go. */
  outDir: z.string().default('runs/latest'),
});

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export function parseTrainConfig(input: unknown): TrainConfig {
  return parseConfig(TrainConfigSchema, input, 'train');
}

/**
 * The config as a run directory stores it (config.json): a data config path made absolute, so the run loads from any
 * working directory (`prerank export`, `prerank eval`, strategies reading another run) as it did when it trained.
 */
export function runConfigJson(cfg: TrainConfig): string {
  const data = 'config' in cfg.data && !isAbsolute(cfg.data.config) ? { config: resolve(cfg.data.config) } : cfg.data;
  return JSON.stringify({ ...cfg, data }, null, 2);
}
