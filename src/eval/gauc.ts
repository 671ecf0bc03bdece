// Group AUC: impression-weighted mean of per-user AUC over users that have both classes (docs/METRICS.md).
import { runAuc } from './auc.js';
import { f64, Growable, u8 } from './growable.js';
import { scoresOf, type Metric, type PointBatch } from './metric.js';

/** One-shot GAUC; every user's weight is their number of samples. NaN when no user has both classes. */
export function gauc(scores: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n || users.length !== n) {
    throw new Error(`gauc: ${n} scores, ${labels.length} labels, ${users.length} users`);
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`gauc: score ${i} is NaN`);
    if (Number.isNaN(users[i])) throw new Error(`gauc: user ${i} is NaN`);
    order[i] = i;
  }
  order.sort((a, b) => {
    if (users[a] !== users[b]) return users[a] < users[b] ? -1 : 1;
    return scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0;
  });
  let weighted = 0;
  let weight = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && users[order[j]] === users[order[i]]) j++;
    const a = runAuc(order, i, j, scores, labels);
    if (!Number.isNaN(a)) {
      weighted += (j - i) * a;
      weight += j - i;
    }
    i = j;
  }
  return weight === 0 ? NaN : weighted / weight;
}

export class Gauc implements Metric<PointBatch> {
  readonly name = 'gauc';
  private readonly scores = new Growable(f64);
  private readonly labels = new Growable(u8);
  private readonly users = new Growable(f64);

  update(batch: PointBatch): void {
    const s = scoresOf(batch, this.name);
    const { labels: y, users: u } = batch;
    if (u === undefined || u.length !== s.length) throw new Error(`gauc: batch needs one user id per score`);
    const n = s.length;
    const [os, ol, ou] = [this.scores.reserve(n), this.labels.reserve(n), this.users.reserve(n)];
    for (let i = 0; i < n; i++) {
      os.data[os.at + i] = s[i];
      ol.data[ol.at + i] = y[i] > 0.5 ? 1 : 0;
      ou.data[ou.at + i] = u[i];
    }
    this.scores.commit(n);
    this.labels.commit(n);
    this.users.commit(n);
  }

  compute(): number {
    return gauc(this.scores.view(), this.labels.view(), this.users.view());
  }

  reset(): void {
    this.scores.clear();
    this.labels.clear();
    this.users.clear();
  }
}
