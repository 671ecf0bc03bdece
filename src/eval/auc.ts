// Exact ROC AUC with ties counted as half (the Mann-Whitney U statistic), O(n log n), one-shot and streaming.
import { f64, Growable, u8 } from './growable.js';
import { scoresOf, type Metric, type PointBatch } from './metric.js';

export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`auc: ${n} scores but ${labels.length} labels`);
  const order = sortedOrder(scores, 'auc');
  return runAuc(order, 0, n, scores, labels);
}

/** Indices 0..n-1 sorted by score ascending; throws on NaN (it has no rank). */
export function sortedOrder(scores: ArrayLike<number>, metric: string): Uint32Array {
  const n = scores.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`${metric}: score ${i} is NaN`);
    order[i] = i;
  }
  return order.sort((a, b) => (scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0));
}

/**
 * AUC of the samples order[start..end), which must be sorted by score ascending: the positives' mid-rank sum minus
 * its minimum, over pos * neg. NaN when the run has one class only.
 */
export function runAuc(
  order: Uint32Array,
  start: number,
  end: number,
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): number {
  let pos = 0;
  let rankSumPos = 0;
  for (let i = start; i < end; ) {
    let j = i;
    while (j + 1 < end && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1 - start;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] > 0.5) {
        pos++;
        rankSumPos += midRank;
      }
    }
    i = j + 1;
  }
  const neg = end - start - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Streaming exact AUC: keeps every score (float64) and binarised label, ranks them once in compute(). */
export class Auc implements Metric<PointBatch> {
  readonly name = 'auc';
  private readonly scores = new Growable(f64);
  private readonly labels = new Growable(u8);

  update(batch: PointBatch): void {
    const s = scoresOf(batch, this.name);
    const y = batch.labels;
    const n = s.length;
    const out = this.scores.reserve(n);
    const lab = this.labels.reserve(n);
    for (let i = 0; i < n; i++) {
      out.data[out.at + i] = s[i];
      lab.data[lab.at + i] = y[i] > 0.5 ? 1 : 0;
    }
    this.scores.commit(n);
    this.labels.commit(n);
  }

  compute(): number {
    return auc(this.scores.view(), this.labels.view());
  }

  reset(): void {
    this.scores.clear();
    this.labels.clear();
  }
}
