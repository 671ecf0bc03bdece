// Pieces several models compose: an MLP with the chosen initialisation, the first-order (logistic-regression) part
// over every feature, and a scalar output bias. Shape letters: B batch, F fields.
import type { Tensor } from '../../core/tensor.js';
import type { Rng } from '../../core/random.js';
import type { ActName } from '../../core/kernels/types.js';
import * as ops from '../../core/ops/index.js';
import { Linear, Mlp } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { Batch, FeatureInfo } from '../../data/index.js';
import type { InitScheme } from './base.js';
import { ALL_SOURCES, FieldEmbedder, type Source } from './field-embedder.js';

/** N(0, std) in place; 1e-4 is the authors' init_std. */
export function normalFill(w: Tensor, rng: Rng, std = 1e-4): void {
  const d = w.f;
  for (let i = 0; i < w.size; i++) d[i] = rng.normal() * std;
}

export interface MlpOptions {
  dims: readonly number[];
  batchNorm: boolean;
  dropout: number;
  /** Activation of the last layer: 'relu' for a DNN feeding another layer, 'none' for a tower output. */
  lastAct: ActName;
}

/** ReLU MLP (linear -> BN -> ReLU -> dropout per hidden layer); 'authors' init draws its weights from N(0, 1e-4). */
export function makeMlp(inFeatures: number, o: MlpOptions, rng: Rng, init: InitScheme): Mlp {
  if (o.dims.length === 0) throw new Error('makeMlp: no layer widths');
  const mlp = new Mlp(inFeatures, { dims: [...o.dims], act: 'relu', lastAct: o.lastAct, batchNorm: o.batchNorm, dropout: o.dropout }, rng);
  if (init === 'authors') for (const l of mlp.layers) normalFill(l.weight, rng);
  return mlp;
}

/** y = x W (no bias), x [B, I] -> [B, 1]: output heads (the bias lives in the model's own scalar). */
export function outputLayer(inFeatures: number, rng: Rng): Linear {
  return new Linear(inFeatures, 1, rng, { bias: false });
}

/**
 * Logistic regression over features: one scalar weight per id (a D = 1 table per FeatureInfo table, shared like the
 * embeddings) and one per dense feature, all drawn from N(0, std) so the initial logit is ~0. forward gives the partial
 * sum over some sources, so an additive model splits into user and item parts.
 */
export class LinearPart extends Module {
  private readonly weights: FieldEmbedder;
  private readonly denseBySource = new Map<Source, Linear>();

  constructor(features: readonly FeatureInfo[], rng: Rng, std = 1e-4) {
    super();
    this.weights = this.addModule('weights', new FieldEmbedder(features, rng, { dim: 1, std }));
    for (const s of ALL_SOURCES) {
      const n = this.weights.denseOf([s]).length;
      if (n === 0) continue;
      const lin = this.addModule(`dense_${s}`, new Linear(n, 1, rng, { bias: false }));
      normalFill(lin.weight, rng, std);
      this.denseBySource.set(s, lin);
    }
  }

  /** Sum of the weights of these sources' features [B, 1], and the looked-up id weights [B, F, 1] (for L2). */
  forward(batch: Batch, sources: readonly Source[]): { logit: Tensor | null; emb: Tensor | null } {
    const parts: Tensor[] = [];
    const w = this.weights.embed(batch, sources); // [B, F, 1]
    if (w) parts.push(ops.sum(w, 1)); // [B, 1]
    for (const s of sources) {
      const lin = this.denseBySource.get(s);
      if (lin) parts.push(lin.forward(this.weights.dense(batch, [s])!));
    }
    const logit = parts.length === 0 ? null : parts.reduce((a, b) => ops.add(a, b));
    return { logit, emb: w };
  }
}

/** Sums [B, 1] parts (nulls skipped) into logits [B]. */
export function sumLogits(batchSize: number, ...parts: (Tensor | null)[]): Tensor {
  const present = parts.filter((p): p is Tensor => p !== null);
  if (present.length === 0) throw new Error('sumLogits: nothing to sum');
  return ops.reshape(present.reduce((a, b) => ops.add(a, b)), [batchSize]);
}
