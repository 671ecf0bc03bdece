// MF: the plain two-tower of matrix factorisation (the base model of the One Backpropagation paper): one
// embedding per user id and per item id, logit = <e_u, e_i> / T + b (or the cosine when `normalize`). No other
// feature is used. The id features default to the first sparse user and item features of the dataset.
// `biases` adds a learned bias per user and per item (classic biased MF) while keeping the score a dot product:
// the reps become [e_u, b_u, 1] and [e_i, 1, b_i], so <u, v> = <e_u, e_i> + b_u + b_i (all divided by T).
// Shape letters: B batch, N items, D embedding dim.
import { z } from 'zod';
import type { Tensor } from '../core/tensor.js';
import { Tensor as T } from '../core/tensor.js';
import * as ops from '../core/ops/index.js';
import { Embedding } from '../nn/layers.js';
import type { Batch, FeatureInfo } from '../data/index.js';
import type { ModelContext } from './types.js';
import { dotCross, dotScores, COMMON_CONFIG } from './common/base.js';
import { TwoTowerModel, type TowerOutput } from './common/model-base.js';
import { PlanBuilder, type UserServingPlan } from './common/serving.js';
import { idFeature } from './common/field-embedder.js';
import { defineModel } from './define.js';

const MfConfigSchema = z.strictObject({
  ...COMMON_CONFIG,
  embedStd: z.number().min(0).default(0.01).describe('std of the N(0, std) embedding initialisation'),
  temperature: z.number().positive().default(1).describe('T in logit = <u, v> / T + b'),
  normalize: z.boolean().default(false).describe('cosine instead of the raw inner product'),
  biases: z.boolean().default(false).describe('a learned bias per user and per item (not with normalize)'),
  userIdFeature: z.string().default('').describe("the sparse feature holding the user ids; '' = the first sparse user feature"),
  itemIdFeature: z.string().default('').describe("the same for items; '' = the first sparse item feature"),
});
export type MfConfig = z.input<typeof MfConfigSchema>;

export class Mf extends TwoTowerModel {
  readonly kind = 'mf';
  private readonly users: Embedding;
  private readonly items: Embedding;
  /** The sparse features holding the user and item ids. */
  readonly userId: FeatureInfo;
  readonly itemId: FeatureInfo;
  private readonly bias: Tensor;
  private readonly userBias: Embedding | null;
  private readonly itemBias: Embedding | null;

  constructor(ctx: ModelContext, readonly config: Required<MfConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    this.userId = idFeature('mf', features, 'user', config.userIdFeature);
    this.itemId = idFeature('mf', features, 'item', config.itemIdFeature);
    const table = (f: FeatureInfo, name: string) =>
      this.addModule(name, new Embedding(f.vocabSize, config.embedDim, rng, { init: 'normal', scale: config.embedStd }));
    this.users = table(this.userId, 'users');
    this.items = table(this.itemId, 'items');
    if (config.biases && config.normalize) throw new Error('mf: biases and normalize do not combine');
    const biases = (f: FeatureInfo, name: string) => this.addModule(name, new Embedding(f.vocabSize, 1, rng, { init: 'zeros' }));
    this.userBias = config.biases ? biases(this.userId, 'userBias') : null;
    this.itemBias = config.biases ? biases(this.itemId, 'itemBias') : null;
    this.bias = this.addBias(rng);
  }

  private side(batch: Batch, table: Embedding, f: FeatureInfo, bias: Embedding | null, isUser: boolean): TowerOutput {
    const ids = T.from(batch.sparse[f.name], [batch.size]);
    const e = ops.gather(table.table, ids); // [B, D]
    if (!bias) return { rep: this.config.normalize ? ops.l2Normalize(e) : e, emb: [e] };
    const b = ops.gather(bias.table, ids); // [B, 1]
    const one = T.from(new Float32Array(batch.size).fill(1), [batch.size, 1]);
    return { rep: ops.concat(isUser ? [e, b, one] : [e, one, b], 1), emb: [e] }; // [B, D + 2]
  }

  protected userTower(batch: Batch): TowerOutput {
    return this.side(batch, this.users, this.userId, this.userBias, true);
  }

  protected itemTower(batch: Batch): TowerOutput {
    return this.side(batch, this.items, this.itemId, this.itemBias, false);
  }

  /** userReps [N or 1, D], itemReps [N, D] -> [N]. */
  score(userReps: Tensor, itemReps: Tensor): Tensor {
    return ops.add(ops.scale(dotScores(userReps, itemReps), 1 / this.config.temperature), this.bias);
  }

  /** userReps [P, D], itemReps [C, D] -> [P, C]. */
  scoreCross(userReps: Tensor, itemReps: Tensor): Tensor {
    return dotCross(userReps, itemReps, this.config.temperature, this.bias);
  }

  servingPlan(): UserServingPlan {
    const D = this.config.embedDim;
    const width = this.userBias ? D + 2 : D;
    const p = new PlanBuilder(width);
    if (this.config.normalize) p.l2norm(0, 1, D);
    const table = this.users.table, bias = this.userBias?.table;
    return {
      spec: p.finish(0, width, { kind: 'dot', scale: 1 / this.config.temperature, bias: this.bias.f[0] }),
      writeInput: (batch, row, out) => {
        const id = batch.sparse[this.userId.name][row];
        for (let d = 0; d < D; d++) out[d] = table.data[id * D + d];
        if (bias) [out[D], out[D + 1]] = [bias.data[id], 1];
      },
    };
  }
}

export const mf = defineModel({
  kind: 'mf',
  summary: 'matrix factorisation: one embedding per user and per item id, logit <e_u, e_i> / T + b',
  config: MfConfigSchema,
  tiny: { embedDim: 8, embedStd: 0.1, biases: true },
  serving: 'plan',
  create: (ctx, config) => new Mf(ctx, config),
});
