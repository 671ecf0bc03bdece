// LR: logistic regression over every feature (Richardson et al., WWW 2007; the simplest pre-ranking baseline of the
// IntTower paper): logit = b + sum of one weight per feature id (sequences pooled) + w . dense.
// Differs: none in the model. Because it is additive, it splits into a user part (user + context features) and an
// item part, so it is served as a two-tower model: score = userPart + itemPart + b. Shape letters: B batch, N items.
import { z } from 'zod';
import { Tensor } from '../core/tensor.js';
import * as ops from '../core/ops/index.js';
import type { Batch } from '../data/index.js';
import type { ModelContext } from './types.js';
import { oneUser, COMMON_CONFIG } from './common/base.js';
import { TwoTowerModel, type TowerOutput } from './common/model-base.js';
import { ITEM_SIDE, USER_SIDE, type Source } from './common/field-embedder.js';
import { LinearPart } from './common/layers.js';
import { defineModel } from './define.js';

/** embedDim is unused (every weight is a scalar). */
const LrConfigSchema = z.strictObject({
  ...COMMON_CONFIG,
});
export type LrConfig = z.input<typeof LrConfigSchema>;

export class Lr extends TwoTowerModel {
  readonly kind = 'lr';
  private readonly linear: LinearPart;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<LrConfig>) {
    super(config.l2Embedding);
    this.linear = this.addModule('linear', new LinearPart(ctx.features, ctx.rng, config.embedStd));
    this.bias = this.addBias(ctx.rng);
  }

  private side(batch: Batch, sources: readonly Source[]): TowerOutput {
    const { logit, emb } = this.linear.forward(batch, sources);
    return { rep: logit ?? Tensor.zeros([batch.size, 1]), emb: [emb] }; // [B, 1]
  }

  protected userTower(batch: Batch): TowerOutput {
    return this.side(batch, USER_SIDE);
  }

  protected itemTower(batch: Batch): TowerOutput {
    return this.side(batch, ITEM_SIDE);
  }

  /** userReps [N or 1, 1], itemReps [N, 1] -> [N]. */
  score(userReps: Tensor, itemReps: Tensor): Tensor {
    const n = itemReps.shape[0];
    oneUser(userReps, n);
    return ops.add(ops.reshape(ops.add(itemReps, userReps), [n]), this.bias); // [1, 1] broadcasts over [N, 1]
  }
}

export const lr = defineModel({
  kind: 'lr',
  summary: 'logistic regression over every feature, split into a user part and an item part',
  config: LrConfigSchema,
  tiny: {},
  serving: 'tensors',
  lr: 5e-3, // the ML-100K search's best four trials: 3.7e-3-8.2e-3 (docs/TUNING.md)
  create: (ctx, config) => new Lr(ctx, config),
});
