// Binary cross-entropy with probabilities clipped to [1e-7, 1 - 1e-7], averaged over samples.
import { scoresOf, type Metric, type PointBatch } from './metric.js';

export const LOGLOSS_EPS = 1e-7;
/** Clipping p to [eps, 1 - eps] is clipping the logit to [-L, L]: sigmoid is monotone. */
const LOGIT_CLIP = Math.log1p(-LOGLOSS_EPS) - Math.log(LOGLOSS_EPS);

/** log(1 + e^x) without overflow or loss of precision for large |x|. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** -[y log p + (1 - y) log(1 - p)] for p = sigmoid(z), clipped: log p = -softplus(-z), log(1 - p) = -softplus(z). */
export function loglossFromLogit(z: number, y: number): number {
  const c = Math.min(Math.max(z, -LOGIT_CLIP), LOGIT_CLIP);
  return y * softplus(-c) + (1 - y) * softplus(c);
}

export function loglossFromProb(p: number, y: number): number {
  const c = Math.min(Math.max(p, LOGLOSS_EPS), 1 - LOGLOSS_EPS);
  return -(y * Math.log(c) + (1 - y) * Math.log1p(-c));
}

export class LogLoss implements Metric<PointBatch> {
  readonly name = 'logloss';
  private sum = 0;
  private count = 0;

  update(batch: PointBatch): void {
    const s = scoresOf(batch, this.name);
    const y = batch.labels;
    const f = batch.logits !== undefined ? loglossFromLogit : loglossFromProb;
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += f(s[i], y[i]);
    this.sum += sum;
    this.count += s.length;
  }

  compute(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  reset(): void {
    this.sum = 0;
    this.count = 0;
  }
}
