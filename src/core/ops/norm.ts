// Normalisations: L2 over the last axis, batch norm (train/eval) over the batch axis, layer norm over the last axis.
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { emptyLike, fail, requireFloat } from './util.js';

/** x / max(||x||, eps) over the last axis. */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  requireFloat('l2Normalize', 'x', x);
  const [rows, cols] = [x.rows, x.cols];
  const y = emptyLike(x);
  const norms = emptyLike(x, [rows]);
  kernelsFor(x).l2norm(rows, cols, x.f, y.f, norms.f, eps);
  return record('l2Normalize', [x], y, (g) => {
    const gx = emptyLike(x);
    kernelsFor(g, y).l2normBackward(rows, cols, y.f, norms.f, g.f, gx.f, eps);
    return [gx];
  });
}

export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  momentum: number;
  eps: number;
}

/**
 * Batch norm over rows of x [B, C]: training mode normalises with the batch statistics (biased variance) and
 * updates the running ones (unbiased variance, PyTorch's convention); eval mode uses the running statistics.
 */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, state: BatchNormState, training: boolean): Tensor {
  requireFloat('batchNorm', 'x', x);
  const [B, C] = [x.rows, x.cols];
  if (gamma.size !== C || beta.size !== C) fail('batchNorm', `gamma/beta must have ${C} elements, got ${gamma.describe()}, ${beta.describe()}`);
  if (training && B < 2) fail('batchNorm', `training mode needs at least 2 rows, got ${x.describe()}`);
  const k = kernelsFor(x, gamma, beta, state.runningMean, state.runningVar);
  const y = emptyLike(x);
  const xhat = emptyLike(x);
  const invStd = emptyLike(x, [C]);
  k.batchNormForward(B, C, x.f, gamma.f, beta.f, state.runningMean.f, state.runningVar.f, training, state.momentum, state.eps, xhat.f, invStd.f, y.f);
  return record(training ? 'batchNorm(train)' : 'batchNorm(eval)', [x, gamma, beta], y, (g, needs) => {
    const gx = needs[0] ? emptyLike(x) : null;
    const dGamma = emptyLike(gamma);
    const dBeta = emptyLike(beta);
    kernelsFor(g, xhat, gamma).batchNormBackward(B, C, g.f, xhat.f, gamma.f, invStd.f, training, gx ? gx.f : null, dGamma.f, dBeta.f);
    return [gx, needs[1] ? dGamma : null, needs[2] ? dBeta : null];
  });
}

/** Layer norm over the last axis of x [..., C] with per-channel gamma and beta. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  requireFloat('layerNorm', 'x', x);
  const [R, C] = [x.rows, x.cols];
  if (gamma.size !== C || beta.size !== C) fail('layerNorm', `gamma/beta must have ${C} elements, got ${gamma.describe()}, ${beta.describe()}`);
  const xd = x.f;
  const invStd = new Float64Array(R);
  const y = emptyLike(x);
  const xhat = emptyLike(x);
  const [yd, hd, gm, bt] = [y.f, xhat.f, gamma.f, beta.f];
  for (let r = 0; r < R; r++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += xd[r * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (xd[r * C + c] - m) ** 2;
    invStd[r] = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      hd[i] = (xd[i] - m) * invStd[r];
      yd[i] = hd[i] * gm[c] + bt[c];
    }
  }
  return record('layerNorm', [x, gamma, beta], y, (g, needs) => {
    const gd = g.f;
    const dGamma = emptyLike(gamma, gamma.shape, true);
    const dBeta = emptyLike(beta, beta.shape, true);
    const [dgd, dbd] = [dGamma.f, dBeta.f];
    const gx = emptyLike(x);
    const gxd = gx.f;
    for (let r = 0; r < R; r++) {
      let sumG = 0;
      let sumGH = 0;
      for (let c = 0; c < C; c++) {
        const i = r * C + c;
        const gh = gd[i] * gm[c];
        sumG += gh;
        sumGH += gh * hd[i];
        dgd[c] += gd[i] * hd[i];
        dbd[c] += gd[i];
      }
      for (let c = 0; c < C; c++) {
        const i = r * C + c;
        gxd[i] = invStd[r] * (gd[i] * gm[c] - sumG / C - (hd[i] * sumGH) / C);
      }
    }
    return [needs[0] ? gx : null, needs[1] ? dGamma : null, needs[2] ? dBeta : null];
  });
}
