// Wide & Deep (Cheng et al., DLRS 2016): logit = wide + deep + b, the wide part a linear model over the features
// and the deep part an MLP over the flattened field embeddings and the dense features.
// Differs: the wide part has no hand-crafted cross-product features (as in DeepCTR's WDL, which the IntTower
// authors ran); wide and deep share one optimizer (the paper trains the wide part with FTRL + L1).
// Shape letters: B batch, F fields, D embedding dim.
import { z } from 'zod';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../core/ops/index.js';
import type { Linear, Mlp } from '../nn/index.js';
import type { Batch } from '../data/index.js';
import type { ModelContext } from './types.js';
import { TOWER_DIMS, COMMON_CONFIG, DEEP_CONFIG, widthsConfig } from './common/base.js';
import { SingleTowerModel, type SingleOutput } from './common/model-base.js';
import { ALL_SOURCES, flatInput, type FieldEmbedder } from './common/field-embedder.js';
import { LinearPart, outputLayer, sumLogits } from './common/layers.js';
import { defineModel } from './define.js';

const WideDeepConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  dnn: widthsConfig(TOWER_DIMS, 'widths of the deep part'),
});
export type WideDeepConfig = z.input<typeof WideDeepConfigSchema>;

export class WideDeep extends SingleTowerModel {
  readonly kind = 'wide-deep';
  private readonly embed: FieldEmbedder;
  private readonly wide: LinearPart;
  private readonly dnn: Mlp;
  private readonly out: Linear;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<WideDeepConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    this.embed = this.addEmbedder(ctx, config);
    this.wide = this.addModule('wide', new LinearPart(features, rng, config.embedStd));
    this.dnn = this.addMlp('dnn', this.inputWidth(this.embed, ALL_SOURCES, 'input'), config.dnn, 'relu', config, rng);
    this.out = this.addModule('out', outputLayer(config.dnn[config.dnn.length - 1], rng));
    this.bias = this.addBias(rng);
  }

  protected run(batch: Batch): SingleOutput {
    const fields = this.embed.embed(batch, ALL_SOURCES); // [B, F, D]
    const deep = this.out.forward(this.dnn.forward(flatInput(fields, this.embed.dense(batch, ALL_SOURCES)))); // [B, 1]
    const wide = this.wide.forward(batch, ALL_SOURCES);
    return { logits: ops.add(sumLogits(batch.size, wide.logit, deep), this.bias), emb: [fields, wide.emb] };
  }
}

export const wideDeep = defineModel({
  kind: 'wide-deep',
  summary: 'Wide & Deep: a linear part plus an MLP over the field embeddings',
  config: WideDeepConfigSchema,
  tiny: { embedDim: 8, dnn: [32, 16], dropout: 0 },
  serving: 'single-tower',
  create: (ctx, config) => new WideDeep(ctx, config),
});
