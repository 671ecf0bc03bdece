// The training run configuration (zod schema; the same schema documents the JSON config file).
import { z } from 'zod';

export const TrainConfigSchema = z.object({
  /** Registered model name (see src/models/registry.ts) and its own config object. */
  model: z.object({ kind: z.string(), config: z.record(z.string(), z.unknown()).default({}) }),
  /** A data config file (path, relative to this file) or a built-in recipe name. */
  data: z.union([z.object({ config: z.string() }), z.object({ recipe: z.string() })]),
  optimizer: z
    .object({
      kind: z.enum(['adam', 'adagrad', 'sgd']).default('adam'),
      lr: z.number().positive().default(1e-3),
      weightDecay: z.number().min(0).default(0),
    })
    .default({ kind: 'adam', lr: 1e-3, weightDecay: 0 }),
  batchSize: z.number().int().positive().default(2048),
  evalBatchSize: z.number().int().positive().default(8192),
  epochs: z.number().int().positive().default(10),
  seed: z.number().int().default(2022),
  /**
   * Early stopping on a validation metric: 'auc' (higher is better), 'logloss' (lower), or a full-corpus ranking
   * metric such as 'recall@20' / 'ndcg@10' (higher; two-tower models; the right choice for retrieval objectives
   * such as OneBP's sampled InfoNCE, whose pointwise AUC says little).
   */
  earlyStopping: z
    .object({
      metric: z.union([z.enum(['auc', 'logloss']), z.string().regex(/^(recall|ndcg|precision|hitrate)@[1-9][0-9]*$/, 'auc, logloss or <recall|ndcg|precision|hitrate>@K')]).default('auc'),
      patience: z.number().int().min(0).default(5),
    })
    .default({ metric: 'auc', patience: 5 }),
  /** A training strategy (src/train/strategies/registry.ts) and its config; none = the model's own loss. */
  strategy: z.object({ kind: z.string(), config: z.record(z.string(), z.unknown()).default({}) }).optional(),
  /** Where checkpoints (last/, best/) and the JSONL log go. */
  outDir: z.string().default('runs/latest'),
});

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export function parseTrainConfig(input: unknown, source = 'train config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new Error(`${source} is invalid:\n${issues}`);
  }
  return r.data;
}
