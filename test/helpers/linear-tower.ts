// Linear two-tower: each tower one linear map of its side's flattened field embeddings and dense features, logit =
// <u, v> + b (a bilinear model of user x item features). The smallest model that has every part a definition
// declares; docs/MODELS.md shows this file as its worked example. Shape letters: B batch, N items, O rep width.
import { z } from 'zod';
import type { Tensor } from '../../src/core/tensor.js';
import * as ops from '../../src/core/ops/index.js';
import { Linear } from '../../src/nn/index.js';
import type { Batch } from '../../src/data/index.js';
import type { ModelContext } from '../../src/models/types.js';
import { COMMON_CONFIG, dotScores } from '../../src/models/common/base.js';
import { TwoTowerModel, type TowerOutput } from '../../src/models/common/model-base.js';
import { ITEM_SIDE, USER_SIDE, flatInput, flatWidth, type FieldEmbedder, type Source } from '../../src/models/common/field-embedder.js';
import { PlanBuilder, type UserServingPlan } from '../../src/models/common/serving.js';
import { defineModel } from '../../src/models/define.js';

const LinearTowerConfigSchema = z.strictObject({
  ...COMMON_CONFIG,
  width: z.number().int().positive().default(64).describe('O: width of the user and item reps'),
});
export type LinearTowerConfig = z.input<typeof LinearTowerConfigSchema>;

export class LinearTower extends TwoTowerModel {
  readonly kind = 'linear-tower';
  private readonly embed: FieldEmbedder;
  private readonly userLayer: Linear;
  private readonly itemLayer: Linear;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<LinearTowerConfig>) {
    super(config.l2Embedding);
    this.embed = this.addEmbedder(ctx, config);
    const tower = (sources: readonly Source[], name: string): Linear =>
      this.addModule(name, new Linear(this.inputWidth(this.embed, sources, name), config.width, ctx.rng));
    this.userLayer = tower(USER_SIDE, 'user');
    this.itemLayer = tower(ITEM_SIDE, 'item');
    this.bias = this.addBias(ctx.rng);
  }

  private side(batch: Batch, sources: readonly Source[], layer: Linear): TowerOutput {
    const fields = this.embed.embed(batch, sources); // [B, F, D]
    return { rep: layer.forward(flatInput(fields, this.embed.dense(batch, sources))), emb: [fields] }; // [B, O]
  }

  protected userTower(batch: Batch): TowerOutput {
    return this.side(batch, USER_SIDE, this.userLayer);
  }

  protected itemTower(batch: Batch): TowerOutput {
    return this.side(batch, ITEM_SIDE, this.itemLayer);
  }

  /** userReps [N or 1, O], itemReps [N, O] -> [N]. */
  score(userReps: Tensor, itemReps: Tensor): Tensor {
    return ops.add(dotScores(userReps, itemReps), this.bias);
  }

  /** The user side for native serving: one linear step, then the dot product with each cached item rep. */
  servingPlan(): UserServingPlan {
    const p = new PlanBuilder(flatWidth(this.embed, USER_SIDE));
    const rep = p.linear(this.userLayer, 0);
    return {
      spec: p.finish(rep, this.config.width, { kind: 'dot', scale: 1, bias: this.bias.f[0] }),
      writeInput: (batch, row, out) => void this.embed.writeRow(batch, row, USER_SIDE, out),
    };
  }
}

export const linearTower = defineModel({
  kind: 'linear-tower',
  summary: 'two linear towers over the flattened features, logit <u, v> + b',
  config: LinearTowerConfigSchema,
  tiny: { embedDim: 8, width: 16 },
  serving: 'plan',
  create: (ctx, config) => new LinearTower(ctx, config),
});
