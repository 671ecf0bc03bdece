// Adam (L2 or decoupled weight decay; lazy on sparse tables), SGD (momentum), Adagrad.
import type { Tensor } from '../../core/tensor.js';
import type { FArr, Kernels } from '../../core/kernels/types.js';
import { Optimizer, type RowGrad } from './optimizer.js';

export interface AdamConfig {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: weight decay applied to the weights, not added to the gradient. */
  decoupled?: boolean;
}

/**
 * Adam. On sparse tables it is lazy: only rows in the batch have their moments and weights updated, and the bias
 * correction uses the global step (as TensorFlow's LazyAdam and PyTorch's SparseAdam do).
 */
export class Adam extends Optimizer {
  readonly b1: number;
  readonly b2: number;
  readonly eps: number;
  readonly wd: number;
  readonly decoupled: boolean;

  constructor(params: Tensor[] | [string, Tensor][], cfg: AdamConfig = {}) {
    super(params, cfg.lr ?? 1e-3);
    [this.b1, this.b2] = cfg.betas ?? [0.9, 0.999];
    this.eps = cfg.eps ?? 1e-8;
    this.wd = cfg.weightDecay ?? 0;
    this.decoupled = cfg.decoupled ?? false;
  }

  protected updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void {
    const m = this.slot(name, 'm', p);
    const v = this.slot(name, 'v', p);
    k.adam(p.size, p.f, g, m.f, v.f, this.lr, this.b1, this.b2, this.eps, this.wd, this.stepCount, this.decoupled);
  }

  protected updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void {
    const m = this.slot(name, 'm', p);
    const v = this.slot(name, 'v', p);
    const g = p.dtype === 'float64' ? Float64Array.from(rg.rows) : rg.rows;
    k.adamRows(p.shape[1], rg.ids, p.f, g, m.f, v.f, this.lr, this.b1, this.b2, this.eps, this.wd, this.stepCount, this.decoupled);
  }

}

export interface SgdConfig {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class Sgd extends Optimizer {
  readonly momentum: number;
  readonly wd: number;

  constructor(params: Tensor[] | [string, Tensor][], cfg: SgdConfig = {}) {
    super(params, cfg.lr ?? 0.01);
    this.momentum = cfg.momentum ?? 0;
    this.wd = cfg.weightDecay ?? 0;
  }

  protected updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void {
    const buf = this.momentum ? this.slot(name, 'momentum', p).f : null;
    k.sgd(p.size, p.f, g, buf, this.lr, this.momentum, this.wd);
  }

  protected updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void {
    const D = p.shape[1];
    const buf = this.momentum ? this.slot(name, 'momentum', p).f : null;
    forEachRow(p, rg, (o, g) => k.sgd(D, p.f.subarray(o, o + D), g, buf ? buf.subarray(o, o + D) : null, this.lr, this.momentum, this.wd));
  }

}

export interface AdagradConfig {
  lr?: number;
  eps?: number;
  weightDecay?: number;
  initialAccumulator?: number;
}

export class Adagrad extends Optimizer {
  readonly eps: number;
  readonly wd: number;
  readonly init: number;

  constructor(params: Tensor[] | [string, Tensor][], cfg: AdagradConfig = {}) {
    super(params, cfg.lr ?? 0.01);
    this.eps = cfg.eps ?? 1e-10;
    this.wd = cfg.weightDecay ?? 0;
    this.init = cfg.initialAccumulator ?? 0;
  }

  private sum(name: string, p: Tensor): Tensor {
    return this.slot(name, 'sum', p, this.init);
  }

  protected updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void {
    k.adagrad(p.size, p.f, g, this.sum(name, p).f, this.lr, this.eps, this.wd);
  }

  protected updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void {
    const D = p.shape[1];
    const s = this.sum(name, p).f;
    forEachRow(p, rg, (o, g) => k.adagrad(D, p.f.subarray(o, o + D), g, s.subarray(o, o + D), this.lr, this.eps, this.wd));
  }

}

function forEachRow(p: Tensor, rg: RowGrad, f: (offset: number, g: FArr) => void): void {
  const D = p.shape[1];
  const rows = p.dtype === 'float64' ? Float64Array.from(rg.rows) : rg.rows;
  for (let r = 0; r < rg.ids.length; r++) f(rg.ids[r] * D, rows.subarray(r * D, r * D + D));
}
