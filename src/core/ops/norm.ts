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
  const y = emptyLike(x);
  const xhat = emptyLike(x);
  const invStd = emptyLike(x, [R]);
  kernelsFor(x, gamma, beta).layerNormForward(R, C, x.f, gamma.f, beta.f, eps, xhat.f, invStd.f, y.f);
  return record('layerNorm', [x, gamma, beta], y, (g, needs) => {
    const gx = needs[0] ? emptyLike(x) : null;
    const dGamma = emptyLike(gamma);
    const dBeta = emptyLike(beta);
    kernelsFor(g, xhat, gamma).layerNormBackward(R, C, g.f, xhat.f, gamma.f, invStd.f, gx ? gx.f : null, dGamma.f, dBeta.f);
    return [gx, needs[1] ? dGamma : null, needs[2] ? dBeta : null];
  });
}
