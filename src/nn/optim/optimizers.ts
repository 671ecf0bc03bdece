// Adam (L2 or decoupled weight decay; lazy on sparse tables), SGD (momentum), Adagrad.
import { Tensor } from '../../core/tensor.js';
import type { FArr, Kernels } from '../../core/kernels/types.js';
import { Optimizer, type RowGrad } from './optimizer.js';

function zerosLike(p: Tensor): Tensor {
  return new Tensor(p.dtype === 'float64' ? new Float64Array(p.size) : new Float32Array(p.size), p.shape, { register: false });
}

/** Per-parameter state slots created on first use. */
class Slots {
  readonly map = new Map<string, Tensor>();
  get(name: string, slot: string, p: Tensor): Tensor {
    const key = `${name}.${slot}`;
    let t = this.map.get(key);
    if (!t) this.map.set(key, (t = zerosLike(p)));
    return t;
  }
}

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
  private readonly slots = new Slots();
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
    const m = this.slots.get(name, 'm', p);
    const v = this.slots.get(name, 'v', p);
    k.adam(p.size, p.f, g, m.f, v.f, this.lr, this.b1, this.b2, this.eps, this.wd, this.stepCount, this.decoupled);
  }

  protected updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void {
    const m = this.slots.get(name, 'm', p);
    const v = this.slots.get(name, 'v', p);
    const g = p.dtype === 'float64' ? Float64Array.from(rg.rows) : rg.rows;
    k.adamRows(p.shape[1], rg.ids, p.f, g, m.f, v.f, this.lr, this.b1, this.b2, this.eps, this.wd, this.stepCount, this.decoupled);
  }

  stateTensors(): Map<string, Tensor> {
    return this.slots.map;
  }
}

export interface SgdConfig {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class Sgd extends Optimizer {
  private readonly slots = new Slots();
  readonly momentum: number;
  readonly wd: number;

  constructor(params: Tensor[] | [string, Tensor][], cfg: SgdConfig = {}) {
    super(params, cfg.lr ?? 0.01);
    this.momentum = cfg.momentum ?? 0;
    this.wd = cfg.weightDecay ?? 0;
  }

  protected updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void {
    const buf = this.momentum ? this.slots.get(name, 'momentum', p).f : null;
    k.sgd(p.size, p.f, g, buf, this.lr, this.momentum, this.wd);
  }

  protected updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void {
    const D = p.shape[1];
    const buf = this.momentum ? this.slots.get(name, 'momentum', p).f : null;
    forEachRow(p, rg, (o, g) => k.sgd(D, p.f.subarray(o, o + D), g, buf ? buf.subarray(o, o + D) : null, this.lr, this.momentum, this.wd));
  }

  stateTensors(): Map<string, Tensor> {
    return this.slots.map;
  }
}

export interface AdagradConfig {
  lr?: number;
  eps?: number;
  weightDecay?: number;
  initialAccumulator?: number;
}

export class Adagrad extends Optimizer {
  private readonly slots = new Slots();
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
    const fresh = !this.slots.map.has(`${name}.sum`);
    const s = this.slots.get(name, 'sum', p);
    if (fresh && this.init) s.data.fill(this.init);
    return s;
  }

  protected updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void {
    k.adagrad(p.size, p.f, g, this.sum(name, p).f, this.lr, this.eps, this.wd);
  }

  protected updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void {
    const D = p.shape[1];
    const s = this.sum(name, p).f;
    forEachRow(p, rg, (o, g) => k.adagrad(D, p.f.subarray(o, o + D), g, s.subarray(o, o + D), this.lr, this.eps, this.wd));
  }

  stateTensors(): Map<string, Tensor> {
    return this.slots.map;
  }
}

function forEachRow(p: Tensor, rg: RowGrad, f: (offset: number, g: FArr) => void): void {
  const D = p.shape[1];
  const rows = p.dtype === 'float64' ? Float64Array.from(rg.rows) : rg.rows;
  for (let r = 0; r < rg.ids.length; r++) f(rg.ids[r] * D, rows.subarray(r * D, r * D + D));
}
