// Numeric value -> model input. Missing values (null, NaN, +-Infinity) are replaced by a fill value fitted on train,
// then: minmax (x - min) / (max - min); standard (x - mean) / std; log1p sign(x) * log(1 + |x|); none x.
import type { ScalerKind } from './spec.js';

export interface ScalerJson {
  kind: ScalerKind;
  fill: number;
  shift: number;
  scale: number;
}

export type FillRule = 'mean' | 'zero' | number;

export class Scaler {
  private constructor(readonly kind: ScalerKind, readonly fill: number, readonly shift: number,
    readonly scale: number) {}

  /**
   * Fits on the training values. `weights[i]` counts how often values[i] occurs (entity tables pass per-entity
   * values with their train row counts, so the fit equals a fit over train rows).
   */
  static fit(kind: ScalerKind, values: ArrayLike<number>, weights?: ArrayLike<number>, fill: FillRule = 'mean'): Scaler {
    let n = 0, sum = 0;
    for (let i = 0; i < values.length; i++) {
      const w = weights ? weights[i] : 1;
      if (w > 0 && Number.isFinite(values[i])) {
        n += w;
        sum += w * values[i];
      }
    }
    const fillValue = typeof fill === 'number' ? fill : fill === 'zero' || n === 0 ? 0 : sum / n;
    if (kind === 'none') return new Scaler(kind, fillValue, 0, 1);
    const pre = kind === 'log1p' ? signedLog1p : (x: number) => x;
    let lo = Infinity, hi = -Infinity, m = 0, s2 = 0, wsum = 0;
    for (let i = 0; i < values.length; i++) {
      const w = weights ? weights[i] : 1;
      if (!(w > 0)) continue;
      const x = pre(Number.isFinite(values[i]) ? values[i] : fillValue);
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      wsum += w;
      const d = x - m;
      m += (w / wsum) * d;
      s2 += w * d * (x - m);
    }
    if (wsum === 0) return new Scaler(kind, fillValue, 0, 1);
    if (kind === 'minmax') return new Scaler(kind, fillValue, lo, hi > lo ? 1 / (hi - lo) : 1);
    const std = Math.sqrt(s2 / wsum);
    if (kind === 'standard') return new Scaler(kind, fillValue, m, std > 0 ? 1 / std : 1);
    return new Scaler(kind, fillValue, 0, 1);
  }

  static fromJSON(j: ScalerJson): Scaler {
    return new Scaler(j.kind, j.fill, j.shift, j.scale);
  }

  toJSON(): ScalerJson {
    return { kind: this.kind, fill: this.fill, shift: this.shift, scale: this.scale };
  }

  transform(x: number | null | undefined): number {
    const v = x === null || x === undefined || !Number.isFinite(x) ? this.fill : x;
    return ((this.kind === 'log1p' ? signedLog1p(v) : v) - this.shift) * this.scale;
  }
}

function signedLog1p(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}
