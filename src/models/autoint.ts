// AutoInt (Song et al., CIKM 2019): stacked multi-head self-attention over the field embeddings. Per layer and head
// h: Q = E W_q^h, K = E W_k^h, V = E W_v^h ([B, F, P]); A = softmax(Q K^T) over fields; out = relu(concat_h(A V) +
// E W_res). logit = [flattened last layer, deep] w_out + b, where deep is an MLP over the field embeddings and the
// dense features (AutoInt+, the variant the IntTower paper compares against via DeepCTR).
// Differs: dense features have no embedding here, so they reach the logit through the deep part (or, with dnn [],
// directly through w_out); wide: true adds DeepCTR's first-order part; scaled: true divides Q K^T by sqrt(P)
// (DeepCTR's option, off in the paper). Shape letters: B batch, F fields, D embedding dim, H heads, P head size.
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
import { ALL_SOURCES, flatInput, flatWidth, type FieldEmbedder } from './common/field-embedder.js';
import { LinearPart, outputLayer, sumLogits } from './common/layers.js';
import { defineModel } from './define.js';

const AutoIntConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  attentionLayers: z.number().int().min(0).default(3),
  heads: z.number().int().positive().default(2),
  headSize: z.number().int().positive().default(16),
  residual: z.boolean().default(true),
  scaled: z.boolean().default(false),
  dnn: widthsConfig(TOWER_DIMS, 'widths of the parallel deep part ([] for plain AutoInt)'),
  wide: z.boolean().default(false),
});
export type AutoIntConfig = z.input<typeof AutoIntConfigSchema>;

/** One interacting layer: x [B, F, Din] -> [B, F, H*P]. */
export class InteractingLayer extends Module {
  private readonly qkv: Linear;
  private readonly res: Linear | null;

  constructor(inDim: number, readonly heads: number, readonly headSize: number, residual: boolean, private readonly scaled: boolean, rng: Rng) {
    super();
    this.qkv = this.addModule('qkv', new Linear(inDim, 3 * heads * headSize, rng, { bias: false }));
    this.res = residual ? this.addModule('res', new Linear(inDim, heads * headSize, rng, { bias: false })) : null;
  }

  forward(x: Tensor): Tensor {
    const [B, F, Din] = x.shape;
    const { heads: H, headSize: P } = this;
    const x2 = ops.reshape(x, [B * F, Din]);
    const pieces = ops.split(this.qkv.forward(x2), new Array<number>(3 * H).fill(P), 1); // 3H x [B*F, P]
    const outs: Tensor[] = [];
    for (let h = 0; h < H; h++) {
      const [q, k, v] = [pieces[h], pieces[H + h], pieces[2 * H + h]].map((t) => ops.reshape(t, [B, F, P]));
      let logits = ops.bmm(q, k, { transB: true }); // [B, F, F]
      if (this.scaled) logits = ops.scale(logits, 1 / Math.sqrt(P));
      outs.push(ops.bmm(ops.softmax(logits, -1), v)); // [B, F, P]
    }
    let out = outs.length === 1 ? outs[0] : ops.concat(outs, 2); // [B, F, H*P]
    if (this.res) out = ops.add(out, ops.reshape(this.res.forward(x2), [B, F, H * P]));
    return ops.relu(out);
  }
}

export class AutoInt extends SingleTowerModel {
  readonly kind = 'autoint';
  private readonly embed: FieldEmbedder;
  private readonly layers: InteractingLayer[] = [];
  private readonly dnn: Mlp | null;
  private readonly out: Linear;
  private readonly wide: LinearPart | null;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<AutoIntConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    const c = config;
    this.embed = this.addEmbedder(ctx, c);
    const F = this.embed.fieldsOf(ALL_SOURCES).length;
    if (F === 0) throw new Error('autoint: no embedded features to attend over');
    let width = c.embedDim;
    for (let l = 0; l < c.attentionLayers; l++) {
      this.layers.push(this.addModule(`att${l}`, new InteractingLayer(width, c.heads, c.headSize, c.residual, c.scaled, rng)));
      width = c.heads * c.headSize;
    }
    const nDense = this.embed.denseOf(ALL_SOURCES).length;
    this.dnn = c.dnn.length ? this.addMlp('dnn', flatWidth(this.embed, ALL_SOURCES), c.dnn, 'relu', c, rng) : null;
    this.out = this.addModule('out', outputLayer(F * width + (this.dnn ? c.dnn[c.dnn.length - 1] : nDense), rng));
    this.wide = c.wide ? this.addModule('wide', new LinearPart(features, rng, c.embedStd)) : null;
    this.bias = this.addBias(rng);
  }

  protected run(batch: Batch): SingleOutput {
    const B = batch.size;
    const fields = this.embed.embed(batch, ALL_SOURCES)!; // [B, F, D]
    let h = fields;
    for (const layer of this.layers) h = layer.forward(h); // [B, F, H*P]
    const parts = [ops.reshape(h, [B, h.shape[1] * h.shape[2]])];
    const dense = this.embed.dense(batch, ALL_SOURCES);
    if (this.dnn) parts.push(this.dnn.forward(flatInput(fields, dense)));
    else if (dense) parts.push(dense);
    const head = this.out.forward(parts.length === 1 ? parts[0] : ops.concat(parts, 1)); // [B, 1]
    const wide = this.wide?.forward(batch, ALL_SOURCES);
    return { logits: ops.add(sumLogits(B, head, wide?.logit ?? null), this.bias), emb: [fields, wide?.emb ?? null] };
  }
}

export const autoInt = defineModel({
  kind: 'autoint',
  summary: 'AutoInt+: multi-head self-attention over the field embeddings beside an MLP',
  config: AutoIntConfigSchema,
  tiny: { embedDim: 8, attentionLayers: 2, heads: 2, headSize: 4, dnn: [32, 16], dropout: 0 },
  serving: 'single-tower',
  create: (ctx, config) => new AutoInt(ctx, config),
});
