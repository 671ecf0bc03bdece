// DeepFM (Guo et al., IJCAI 2017): logit = first order + FM second order + deep + b, all over shared embeddings:
//   FM = 1/2 sum_d [ (sum_f e_fd)^2 - sum_f e_fd^2 ]   (pairwise inner products in O(F D)),
//   deep = MLP over the flattened field embeddings and the dense features.
// Differs: dense features enter the first-order and deep parts only (they have no FM embedding), as in DeepCTR.
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

const DeepFmConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  dnn: widthsConfig(TOWER_DIMS, 'widths of the deep part'),
});
export type DeepFmConfig = z.input<typeof DeepFmConfigSchema>;

/** Second-order FM term: e [B, F, D] -> [B, 1]. */
export function fmSecondOrder(e: Tensor): Tensor {
  const s = ops.sum(e, 1); // [B, D]
  const sumSq = ops.sum(ops.mul(e, e), 1); // [B, D]
  return ops.scale(ops.sum(ops.sub(ops.mul(s, s), sumSq), 1, true), 0.5); // [B, 1]
}

export class DeepFm extends SingleTowerModel {
  readonly kind = 'deepfm';
  private readonly embed: FieldEmbedder;
  private readonly first: LinearPart;
  private readonly dnn: Mlp;
  private readonly out: Linear;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<DeepFmConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    this.embed = this.addEmbedder(ctx, config);
    this.first = this.addModule('first', new LinearPart(features, rng, config.embedStd));
    this.dnn = this.addMlp('dnn', this.inputWidth(this.embed, ALL_SOURCES, 'input'), config.dnn, 'relu', config, rng);
    this.out = this.addModule('out', outputLayer(config.dnn[config.dnn.length - 1], rng));
    this.bias = this.addBias(rng);
  }

  protected run(batch: Batch): SingleOutput {
    const fields = this.embed.embed(batch, ALL_SOURCES); // [B, F, D]
    const first = this.first.forward(batch, ALL_SOURCES);
    const fm = fields ? fmSecondOrder(fields) : null;
    const deep = this.out.forward(this.dnn.forward(flatInput(fields, this.embed.dense(batch, ALL_SOURCES)))); // [B, 1]
    return { logits: ops.add(sumLogits(batch.size, first.logit, fm, deep), this.bias), emb: [fields, first.emb] };
  }
}

export const deepFm = defineModel({
  kind: 'deepfm',
  summary: 'DeepFM: first order + FM second order + MLP over shared field embeddings',
  config: DeepFmConfigSchema,
  tiny: { embedDim: 8, dnn: [32, 16], dropout: 0 },
  serving: 'single-tower',
  create: (ctx, config) => new DeepFm(ctx, config),
});
