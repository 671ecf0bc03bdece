// Parameter initialisers (seeded): xavier/kaiming uniform and normal, normal, uniform, zeros, ones.
import { Tensor, shapeSize, type Shape } from '../core/tensor.js';
import { Rng } from '../core/random.js';

export type InitKind = 'xavierUniform' | 'xavierNormal' | 'kaimingUniform' | 'kaimingNormal' | 'normal' | 'uniform' | 'zeros' | 'ones';

export interface InitOptions {
  /** Std for 'normal'; half-width for 'uniform'. */
  scale?: number;
  /** Fan-in/fan-out override; by default from shape [in, out] (the layout of linear weights here). */
  fanIn?: number;
  fanOut?: number;
  /** Gain for kaiming (default sqrt(2), for ReLU) or xavier (default 1). */
  gain?: number;
}

/**
 * An Rng for models whose every parameter is overwritten right after construction (a bundle or checkpoint being
 * loaded): `param` leaves the randomly initialised tensors at zero instead of drawing values that are thrown away
 * (tens of milliseconds for embedding tables, on the event loop of a reloading server). 'ones' still fills.
 */
export class NoDrawRng extends Rng {
  override uniform(): number {
    return 0.5;
  }

  override normal(): number {
    return 0;
  }
}

/** A new parameter tensor (requires grad, outside every scope) filled by `kind`. */
export function param(shape: Shape, kind: InitKind, rng: Rng, opts: InitOptions = {}): Tensor {
  const n = shapeSize(shape);
  const data = new Float32Array(n);
  const fanIn = opts.fanIn ?? (shape.length >= 2 ? shape[0] : n);
  const fanOut = opts.fanOut ?? (shape.length >= 2 ? shape[shape.length - 1] : n);
  const fill = (f: () => number): void => {
    if (rng instanceof NoDrawRng) return; // the values would be 0 (uniform 0.5 maps to 0 in every initialiser below)
    for (let i = 0; i < n; i++) data[i] = f();
  };
  switch (kind) {
    case 'zeros': break;
    case 'ones': data.fill(1); break;
    case 'normal': { const s = opts.scale ?? 0.01; fill(() => rng.normal() * s); break; }
    case 'uniform': { const a = opts.scale ?? 0.05; fill(() => (2 * rng.uniform() - 1) * a); break; }
    case 'xavierUniform': { const a = (opts.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut)); fill(() => (2 * rng.uniform() - 1) * a); break; }
    case 'xavierNormal': { const s = (opts.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)); fill(() => rng.normal() * s); break; }
    case 'kaimingUniform': { const a = (opts.gain ?? Math.SQRT2) * Math.sqrt(3 / fanIn); fill(() => (2 * rng.uniform() - 1) * a); break; }
    case 'kaimingNormal': { const s = (opts.gain ?? Math.SQRT2) / Math.sqrt(fanIn); fill(() => rng.normal() * s); break; }
    default: throw new Error(`param: unknown initialiser '${kind as string}'`);
  }
  const t = new Tensor(data, shape, { register: false });
  t.requiresGrad = true;
  return t;
}

/** A tensor that is state but not a trained parameter (running statistics). */
export function buffer(shape: Shape, value = 0): Tensor {
  const t = new Tensor(new Float32Array(shapeSize(shape)), shape, { register: false });
  if (value !== 0) t.data.fill(value);
  return t;
}
