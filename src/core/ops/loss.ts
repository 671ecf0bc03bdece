// Loss heads: sigmoid BCE with logits (fused, stable), softmax cross-entropy over classes (fused, with an optional
// logit scale), and InfoNCE over a similarity matrix (positives on the diagonal) composed from it.
import { Tensor } from '../tensor.js';
import { isGradEnabled, record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { emptyLike, fail, requireFloat, requireRank } from './util.js';

export type Reduction = 'mean' | 'sum';

export interface BceOptions {
  reduction?: Reduction;
  /** Per-sample weights; 'mean' divides by the number of samples (PyTorch's convention), not by the weight sum. */
  weights?: Tensor;
}

/** Binary cross-entropy on logits z against targets t in [0, 1] (same number of elements). */
export function bceWithLogits(z: Tensor, t: Tensor, opts: BceOptions = {}): Tensor {
  requireFloat('bceWithLogits', 'logits', z);
  requireFloat('bceWithLogits', 'targets', t);
  const n = z.size;
  if (t.size !== n) fail('bceWithLogits', `logits ${z.describe()} and targets ${t.describe()} differ in size`);
  const w = opts.weights ?? null;
  if (w && w.size !== n) fail('bceWithLogits', `weights ${w.describe()} should have ${n} elements`);
  const k = (opts.reduction ?? 'mean') === 'mean' ? 1 / n : 1;
  const grad = z.requiresGrad && isGradEnabled() ? emptyLike(z) : null;
  const total = kernelsFor(z, t, w).bceLogits(n, z.f, t.f, w ? w.f : null, grad ? grad.f : null, k);
  const out = emptyLike(z, []);
  out.f[0] = total * k;
  return record('bceWithLogits', [z], out, (g) => {
    const gz = emptyLike(z);
    const s = g.f[0];
    const gd = grad!.f;
    const gzd = gz.f;
    for (let i = 0; i < n; i++) gzd[i] = gd[i] * s;
    return [gz];
  });
}

export interface CrossEntropyOptions {
  /** The logits are scale * logits (1 / temperature): folded into the kernel instead of a separate op. */
  scale?: number;
}

/**
 * Mean (or sum) of -log softmax(scale * logits)[label] over rows; logits [B, C], labels int32 [B] in [0, C).
 * One fused kernel each way: the forward keeps only each row's log-sum-exp [B], the backward writes
 * scale * (softmax - onehot) from the logits and those [B] values.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, reduction: Reduction = 'mean', opts: CrossEntropyOptions = {}): Tensor {
  requireRank('softmaxCrossEntropy', 'logits', logits, 2);
  requireFloat('softmaxCrossEntropy', 'logits', logits);
  if (labels.dtype !== 'int32') fail('softmaxCrossEntropy', `labels ${labels.describe()} must be int32`);
  const [B, C] = logits.shape;
  if (labels.size !== B) fail('softmaxCrossEntropy', `labels ${labels.describe()} should have ${B} elements`);
  const ld = (labels.data as Int32Array).subarray(0, B);
  for (let i = 0; i < B; i++) if (!(ld[i] >= 0 && ld[i] < C)) fail('softmaxCrossEntropy', `label ${ld[i]} at row ${i} is outside [0, ${C})`);
  const s = opts.scale ?? 1;
  if (!Number.isFinite(s)) fail('softmaxCrossEntropy', `scale must be finite, got ${s}`);
  const k = reduction === 'mean' ? 1 / B : 1;
  const lse = emptyLike(logits, [B]);
  const total = kernelsFor(logits).crossEntropy(B, C, logits.f, ld, s, lse.f);
  const out = emptyLike(logits, []);
  out.f[0] = total * k;
  return record('softmaxCrossEntropy', [logits], out, (g) => {
    const gl = emptyLike(logits);
    kernelsFor(logits, g).crossEntropyBackward(B, C, logits.f, ld, s, lse.f, g.f[0] * k, gl.f);
    return [gl];
  });
}

/**
 * InfoNCE over sim [B, B] where row i's positive is column i: mean softmax cross-entropy of sim / temperature.
 */
export function infoNCE(sim: Tensor, temperature: number, reduction: Reduction = 'mean'): Tensor {
  requireRank('infoNCE', 'sim', sim, 2);
  const [B, C] = sim.shape;
  if (B !== C) fail('infoNCE', `sim ${sim.describe()} must be square (row i's positive is column i)`);
  if (!(temperature > 0)) fail('infoNCE', `temperature must be > 0, got ${temperature}`);
  const labels = Tensor.empty([B], 'int32');
  for (let i = 0; i < B; i++) labels.data[i] = i;
  return softmaxCrossEntropy(sim, labels, reduction, { scale: 1 / temperature });
}
