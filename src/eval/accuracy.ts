// Fraction of samples whose prediction (p > 0.5, i.e. logit > 0) equals the label (y > 0.5).
import { scoresOf, type Metric, type PointBatch } from './metric.js';

export class Accuracy implements Metric<PointBatch> {
  readonly name = 'accuracy';
  private correct = 0;
  private count = 0;

  update(batch: PointBatch): void {
    const s = scoresOf(batch, this.name);
    const y = batch.labels;
    const threshold = batch.logits !== undefined ? 0 : 0.5;
    let correct = 0;
    for (let i = 0; i < s.length; i++) if ((s[i] > threshold) === (y[i] > 0.5)) correct++;
    this.correct += correct;
    this.count += s.length;
  }

  compute(): number {
    return this.count === 0 ? NaN : this.correct / this.count;
  }

  reset(): void {
    this.correct = 0;
    this.count = 0;
  }
}
