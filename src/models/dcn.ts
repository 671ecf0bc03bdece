// DCN, Deep & Cross Network (Wang et al., ADKDD 2017): x0 = [flattened field embeddings, dense features] [B, K];
// cross layers x_{l+1} = x0 (x_l . w_l) + b_l + x_l; a parallel deep MLP over x0; logit = [x_L, deep] w_out + b.
// Differs: two cross layers by default (DeepCTR's default, which the IntTower authors ran; the paper tunes 1-6);
// wide: true adds DeepCTR's first-order part, absent from the paper. Shape letters: B batch, K input width.
import { z } from 'zod';
import type { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';
import * as ops from '../core/ops/index.js';
import { param } from '../nn/init.js';
import { Linear, type Mlp } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Batch } from '../data/index.js';
import type { ModelContext } from './types.js';
import { TOWER_DIMS, COMMON_CONFIG, DEEP_CONFIG, widthsConfig } from './common/base.js';
import { SingleTowerModel, type SingleOutput } from './common/model-base.js';
import { ALL_SOURCES, flatInput, type FieldEmbedder } from './common/field-embedder.js';
import { LinearPart, outputLayer, sumLogits } from './common/layers.js';
import { defineModel } from './define.js';

const DcnConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  crossLayers: z.number().int().min(0).default(2),
  dnn: widthsConfig(TOWER_DIMS, 'widths of the deep part'),
  wide: z.boolean().default(false),
});
export type DcnConfig = z.input<typeof DcnConfigSchema>;

/** The cross network (vector parameterisation): x0 [B, K] -> x_L [B, K]. */
class CrossNet extends Module {
  private readonly w: Linear[] = [];
  private readonly b: Tensor[] = [];

  constructor(width: number, layers: number, rng: Rng) {
    super();
    for (let l = 0; l < layers; l++) {
      this.w.push(this.addModule(`w${l}`, new Linear(width, 1, rng, { bias: false, init: 'xavierNormal' })));
      this.b.push(this.addParam(`b${l}`, param([width], 'zeros', rng)));
    }
  }

  forward(x0: Tensor): Tensor {
    let x = x0;
    this.w.forEach((w, l) => {
      x = ops.add(ops.add(ops.mul(x0, w.forward(x)), this.b[l]), x); // x0 (x_l . w_l) + b_l + x_l
    });
    return x;
  }
}

export class Dcn extends SingleTowerModel {
  readonly kind = 'dcn';
  private readonly embed: FieldEmbedder;
  private readonly cross: CrossNet;
  private readonly dnn: Mlp;
  private readonly out: Linear;
  private readonly wide: LinearPart | null;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<DcnConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    this.embed = this.addEmbedder(ctx, config);
    const K = this.inputWidth(this.embed, ALL_SOURCES, 'input');
    this.cross = this.addModule('cross', new CrossNet(K, config.crossLayers, rng));
    this.dnn = this.addMlp('dnn', K, config.dnn, 'relu', config, rng);
    this.out = this.addModule('out', outputLayer(K + config.dnn[config.dnn.length - 1], rng));
    this.wide = config.wide ? this.addModule('wide', new LinearPart(features, rng, config.embedStd)) : null;
    this.bias = this.addBias(rng);
  }

  protected run(batch: Batch): SingleOutput {
    const fields = this.embed.embed(batch, ALL_SOURCES); // [B, F, D]
    const x0 = flatInput(fields, this.embed.dense(batch, ALL_SOURCES)); // [B, K]
    const stack = ops.concat([this.cross.forward(x0), this.dnn.forward(x0)], 1); // [B, K + 128]
    const wide = this.wide?.forward(batch, ALL_SOURCES);
    return { logits: ops.add(sumLogits(batch.size, this.out.forward(stack), wide?.logit ?? null), this.bias), emb: [fields, wide?.emb ?? null] };
  }
}

export const dcn = defineModel({
  kind: 'dcn',
  summary: 'Deep & Cross Network: cross layers beside an MLP over the flattened input',
  config: DcnConfigSchema,
  tiny: { embedDim: 8, dnn: [32, 16], dropout: 0 },
  serving: 'single-tower',
  lr: 3e-3, // the ML-100K search's best five trials: 2.6e-3-5.3e-3 (docs/TUNING.md)
  create: (ctx, config) => new Dcn(ctx, config),
});
