// Layers: Linear (fused activation), Embedding (optionally sparse-gradient), MLP, BatchNorm1d, LayerNorm, Dropout.
import type { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';
import type { ActName } from '../core/kernels/types.js';
import * as ops from '../core/ops/index.js';
import { Module } from './module.js';
import { buffer, param, type InitKind } from './init.js';

export interface LinearConfig {
  act?: ActName;
  bias?: boolean;
  init?: InitKind;
}

/** y = act(x W + b) with W stored [in, out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly slope: Tensor | null;
  readonly act: ActName;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, cfg: LinearConfig = {}) {
    super();
    this.act = cfg.act ?? 'none';
    const init = cfg.init ?? (this.act === 'relu' || this.act === 'prelu' ? 'kaimingUniform' : 'xavierUniform');
    this.weight = this.addParam('weight', param([inFeatures, outFeatures], init, rng));
    this.bias = cfg.bias === false ? null : this.addParam('bias', param([outFeatures], 'zeros', rng));
    this.slope = this.act === 'prelu' ? this.addParam('slope', param([outFeatures], 'zeros', rng)) : null;
    if (this.slope) this.slope.data.fill(0.25);
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias, { act: this.act, slope: this.slope ?? undefined });
  }
}

export interface EmbeddingConfig {
  /** Keep a row gradient (only the looked-up rows are updated by the optimizer). Default true. */
  sparse?: boolean;
  init?: InitKind;
  scale?: number;
}

/** A [V, D] table; row 0 is conventionally padding. */
export class Embedding extends Module {
  readonly table: Tensor;

  constructor(readonly count: number, readonly dim: number, rng: Rng, cfg: EmbeddingConfig = {}) {
    super();
    this.table = this.addParam('table', param([count, dim], cfg.init ?? 'normal', rng, { scale: cfg.scale ?? 1e-4 }));
    this.table.sparse = cfg.sparse ?? true;
  }

  /** ids int32 [...] -> [..., D]. */
  forward(ids: Tensor): Tensor {
    return ops.gather(this.table, ids);
  }
}

export class BatchNorm1d extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(readonly features: number, rng: Rng, readonly momentum = 0.1, readonly eps = 1e-5) {
    super();
    this.gamma = this.addParam('gamma', param([features], 'ones', rng));
    this.beta = this.addParam('beta', param([features], 'zeros', rng));
    this.runningMean = this.addBuffer('runningMean', buffer([features]));
    this.runningVar = this.addBuffer('runningVar', buffer([features], 1));
  }

  forward(x: Tensor): Tensor {
    const state = { runningMean: this.runningMean, runningVar: this.runningVar, momentum: this.momentum, eps: this.eps };
    return ops.batchNorm(x, this.gamma, this.beta, state, this.training);
  }
}

export class LayerNorm extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;

  constructor(readonly features: number, rng: Rng, readonly eps = 1e-5) {
    super();
    this.gamma = this.addParam('gamma', param([features], 'ones', rng));
    this.beta = this.addParam('beta', param([features], 'zeros', rng));
  }

  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.gamma, this.beta, this.eps);
  }
}

export class Dropout extends Module {
  private readonly rng: Rng;

  constructor(readonly p: number, rng: Rng) {
    super();
    this.rng = this.addRng('rng', rng);
  }

  forward(x: Tensor): Tensor {
    return ops.dropout(x, this.p, this.rng, this.training);
  }
}

export interface MlpConfig {
  /** Hidden and output widths, e.g. [300, 300, 128]. */
  dims: number[];
  act?: ActName;
  /** Activation of the last layer (default none). */
  lastAct?: ActName;
  batchNorm?: boolean;
  dropout?: number;
}

/**
 * Stack of Linear layers; forward returns every layer's output (towers tap them for FE-Block-style interaction).
 * With batch norm the order per hidden layer is linear -> batch norm -> activation -> dropout.
 */
export class Mlp extends Module {
  readonly layers: Linear[] = [];
  private readonly norms: (BatchNorm1d | null)[] = [];
  private readonly drops: (Dropout | null)[] = [];
  private readonly acts: ActName[] = [];

  constructor(inFeatures: number, cfg: MlpConfig, rng: Rng) {
    super();
    let width = inFeatures;
    cfg.dims.forEach((d, i) => {
      const last = i === cfg.dims.length - 1;
      const act = last ? (cfg.lastAct ?? 'none') : (cfg.act ?? 'relu');
      const bn = !last && cfg.batchNorm ? this.addModule(`bn${i}`, new BatchNorm1d(d, rng)) : null;
      // With batch norm the activation runs after it, so the linear layer itself is plain.
      this.layers.push(this.addModule(`fc${i}`, new Linear(width, d, rng, { act: bn ? 'none' : act, init: act === 'relu' ? 'kaimingUniform' : 'xavierUniform' })));
      this.norms.push(bn);
      this.acts.push(bn ? act : 'none');
      this.drops.push(!last && cfg.dropout ? this.addModule(`drop${i}`, new Dropout(cfg.dropout, rng.fork())) : null);
      width = d;
    });
  }

  /** All layer outputs, last one last. */
  forwardAll(x: Tensor): Tensor[] {
    const outs: Tensor[] = [];
    let h = x;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h);
      const bn = this.norms[i];
      if (bn) {
        h = bn.forward(h);
        if (this.acts[i] !== 'none') h = ops.activation(h, this.acts[i]);
      }
      const drop = this.drops[i];
      if (drop) h = drop.forward(h);
      outs.push(h);
    });
    return outs;
  }

  /** Layer i's batch norm and the activation after it, or null when the layer has none (its Linear's own act applies). */
  normOf(i: number): { norm: BatchNorm1d; act: ActName } | null {
    const norm = this.norms[i];
    return norm ? { norm, act: this.acts[i] } : null;
  }

  forward(x: Tensor): Tensor {
    const outs = this.forwardAll(x);
    return outs[outs.length - 1];
  }

  /**
   * The eval-mode layers as affine maps y = act(x W + b), W [in, out], with batch norm folded in
   * (W[:, c] * s_c and (b_c - mean_c) s_c + beta_c, s = gamma / sqrt(var + eps)) and dropout dropped: what a
   * serving plan runs. Only ReLU or no activation can be expressed.
   */
  servingLayers(): { in: number; out: number; weight: Float32Array; bias: Float32Array; relu: boolean }[] {
    return this.layers.map((layer, i) => {
      const bn = this.norms[i];
      const act = bn ? this.acts[i] : layer.act;
      if (act !== 'none' && act !== 'relu') throw new Error(`Mlp.servingLayers: activation '${act}' is not supported`);
      const { inFeatures: n, outFeatures: m } = layer;
      const weight = new Float32Array(layer.weight.f);
      const bias = layer.bias ? new Float32Array(layer.bias.f) : new Float32Array(m);
      if (bn) {
        const [gamma, beta, mean, variance] = [bn.gamma.f, bn.beta.f, bn.runningMean.f, bn.runningVar.f];
        const scale = new Float64Array(m);
        for (let c = 0; c < m; c++) {
          scale[c] = gamma[c] / Math.sqrt(variance[c] + bn.eps);
          bias[c] = (bias[c] - mean[c]) * scale[c] + beta[c];
        }
        for (let r = 0; r < n; r++) for (let c = 0; c < m; c++) weight[r * m + c] *= scale[c];
      }
      return { in: n, out: m, weight, bias, relu: act === 'relu' };
    });
  }
}
