// COLD (Wang et al., "COLD: Towards the Next Generation of Pre-Ranking System", 2020): one tower over all features;
// an SE block weighs the field embeddings, s = sigmoid(W [e_1, ..., e_F] + b) in R^F, e_f <- s_f e_f, then an MLP
// over the weighted embeddings and the dense features gives the logit.
// Differs: COLD's feature selection by SE score, its 7-layer net and its engineering (column computation, fp16) are
// not reproduced; the MLP is the shared 300-300-128 with BN and dropout. se: 'fibinet' is what the IntTower authors'
// cold.py ran (FiBiNET SENET: mean squeeze, F -> F/2 -> F with ReLU, no bias, residual e + e*a); wide: true adds
// their DeepCTR linear part. Shape letters: B batch, F fields, D embedding dim.
import { z } from 'zod';
import type { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';
import * as ops from '../core/ops/index.js';
import { Linear, type Mlp } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Batch } from '../data/index.js';
import type { ModelContext } from './types.js';
import { TOWER_DIMS, COMMON_CONFIG, DEEP_CONFIG, widthsConfig } from './common/base.js';
import { SingleTowerModel, type SingleOutput } from './common/model-base.js';
import { ALL_SOURCES, flatInput, type FieldEmbedder } from './common/field-embedder.js';
import { LinearPart, outputLayer, sumLogits } from './common/layers.js';
import { defineModel } from './define.js';

const ColdConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  dnn: widthsConfig(TOWER_DIMS, 'widths of the deep part'),
  se: z.enum(['cold', 'fibinet', 'none']).default('cold').describe("'cold': the COLD paper's SE; 'fibinet': the authors' code; 'none': ablation"),
  wide: z.boolean().default(false).describe('add a first-order (LR) part, as DeepCTR-based code does'),
});
export type ColdConfig = z.input<typeof ColdConfigSchema>;

/** Field weights for e [B, F, D] -> [B, F, D]. */
class SeBlock extends Module {
  private readonly fc1: Linear;
  private readonly fc2: Linear | null;

  constructor(readonly kind: 'cold' | 'fibinet', readonly fields: number, readonly dim: number, rng: Rng) {
    super();
    if (kind === 'cold') {
      this.fc1 = this.addModule('fc', new Linear(fields * dim, fields, rng, { act: 'sigmoid' }));
      this.fc2 = null;
    } else {
      const r = Math.max(1, Math.floor(fields / 2));
      this.fc1 = this.addModule('fc1', new Linear(fields, r, rng, { act: 'relu', bias: false }));
      this.fc2 = this.addModule('fc2', new Linear(r, fields, rng, { act: 'relu', bias: false }));
    }
  }

  forward(e: Tensor): Tensor {
    const [B, F, D] = e.shape;
    if (this.kind === 'cold') {
      const s = this.fc1.forward(ops.reshape(e, [B, F * D])); // [B, F]
      return ops.mul(e, ops.reshape(s, [B, F, 1]));
    }
    const a = this.fc2!.forward(this.fc1.forward(ops.mean(e, 2))); // [B, F]
    return ops.add(e, ops.mul(e, ops.reshape(a, [B, F, 1])));
  }
}

export class Cold extends SingleTowerModel {
  readonly kind = 'cold';
  private readonly embed: FieldEmbedder;
  private readonly se: SeBlock | null;
  private readonly dnn: Mlp;
  private readonly out: Linear;
  private readonly wide: LinearPart | null;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<ColdConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    this.embed = this.addEmbedder(ctx, config);
    const F = this.embed.fieldsOf(ALL_SOURCES).length;
    this.se = config.se !== 'none' && F > 0 ? this.addModule('se', new SeBlock(config.se, F, config.embedDim, rng)) : null;
    this.dnn = this.addMlp('dnn', this.inputWidth(this.embed, ALL_SOURCES, 'input'), config.dnn, 'relu', config, rng);
    this.out = this.addModule('out', outputLayer(config.dnn[config.dnn.length - 1], rng));
    this.wide = config.wide ? this.addModule('wide', new LinearPart(features, rng, config.embedStd)) : null;
    this.bias = this.addBias(rng);
  }

  protected run(batch: Batch): SingleOutput {
    const fields = this.embed.embed(batch, ALL_SOURCES); // [B, F, D]
    const weighted = fields && this.se ? this.se.forward(fields) : fields;
    const deep = this.out.forward(this.dnn.forward(flatInput(weighted, this.embed.dense(batch, ALL_SOURCES)))); // [B, 1]
    const wide = this.wide?.forward(batch, ALL_SOURCES);
    return { logits: ops.add(sumLogits(batch.size, deep, wide?.logit ?? null), this.bias), emb: [fields, wide?.emb ?? null] };
  }
}

export const cold = defineModel({
  kind: 'cold',
  summary: 'COLD: one tower over all features, SE-weighted field embeddings, MLP',
  config: ColdConfigSchema,
  tiny: { embedDim: 8, dnn: [32, 16], dropout: 0 },
  serving: 'single-tower',
  create: (ctx, config) => new Cold(ctx, config),
});
