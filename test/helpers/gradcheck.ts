// Central-difference gradient checks in float64 on the reference kernels.
import assert from 'node:assert/strict';
import { Tensor, backward, scope, Rng, type Shape } from '../../src/core/index.js';
import * as ops from '../../src/core/ops/index.js';

export function randTensor(rng: Rng, shape: Shape, opts: { dtype?: 'float32' | 'float64'; scale?: number; offset?: number; grad?: boolean } = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = opts.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = (opts.offset ?? 0) + rng.normal() * (opts.scale ?? 1);
  const t = new Tensor(data, shape, { register: false });
  t.requiresGrad = opts.grad ?? true;
  return t;
}

/**
 * Checks d(sum(f(inputs) * R))/d(input) for every float input that requires grad against central differences.
 * R is a fixed random tensor, so every output element's gradient path is exercised.
 */
export function gradCheck(name: string, f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { eps?: number; tol?: number; seed?: number } = {}): void {
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-5;
  const rng = new Rng(opts.seed ?? 99);
  let weights: Float64Array | null = null;
  const objective = (): number =>
    scope(() => {
      const out = f(...inputs);
      if (!weights) {
        weights = new Float64Array(out.size);
        for (let i = 0; i < out.size; i++) weights[i] = rng.normal();
      }
      let s = 0;
      for (let i = 0; i < out.size; i++) s += out.data[i] * weights[i];
      return s;
    });
  objective();
  for (const t of inputs) {
    t.grad = null;
    t.sparseGrad = null;
  }
  scope(() => {
    const out = f(...inputs);
    const w = new Tensor(Float64Array.from(weights!), out.shape);
    backward(ops.sumAll(ops.mul(out, w)));
  });
  inputs.forEach((t, k) => {
    if (!t.requiresGrad || t.dtype !== 'float64') return;
    const analytic = t.grad ? Float64Array.from(t.grad.data) : new Float64Array(t.size);
    if (t.sparseGrad) {
      const D = t.shape[1];
      t.sparseGrad.ids.forEach((ids, p) => ids.forEach((id, i) => {
        for (let d = 0; d < D; d++) analytic[id * D + d] += t.sparseGrad!.rows[p][i * D + d];
      }));
    }
    const d = t.data as Float64Array;
    for (let i = 0; i < t.size; i++) {
      const orig = d[i];
      d[i] = orig + eps;
      const up = objective();
      d[i] = orig - eps;
      const down = objective();
      d[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - analytic[i]);
      assert.ok(err <= tol * Math.max(1, Math.abs(numeric)), `${name}: input ${k} element ${i}: analytic ${analytic[i]} vs numeric ${numeric}`);
    }
    t.grad = null;
    t.sparseGrad = null;
  });
}
