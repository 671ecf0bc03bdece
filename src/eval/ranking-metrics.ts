// Recall@K, NDCG@K, Precision@K and HitRate@K over the full item corpus, each user's training positives masked.
// Shapes: U users in a batch, N items in the corpus, K list length. Definitions in docs/METRICS.md.
import type { Metric } from './metric.js';
import { topK } from './top-k.js';

export const RANKING_FAMILIES = ['recall', 'ndcg', 'precision', 'hitrate'] as const;
export type RankingFamily = (typeof RANKING_FAMILIES)[number];

export interface RankingBatch {
  /** [U, N] row-major scores of every item for every user (U = relevant.length; one user's [N] vector when U = 1); -Infinity: not retrieved, never listed. */
  scores: Float32Array | Float64Array;
  /** Per user: item indices that are not candidates (their training positives). */
  masked?: ReadonlyArray<ArrayLike<number>>;
  /** Per user: the relevant (held-out positive) item indices. */
  relevant: ReadonlyArray<ArrayLike<number>>;
  /** Per user, aligned with `relevant`: graded relevance, NDCG gain 2^rel - 1; default 1. rel <= 0: not relevant. */
  relevance?: ReadonlyArray<ArrayLike<number>>;
}

export interface RankingOptions {
  ks: readonly number[];
  families?: readonly RankingFamily[];
}

export class RankingMetrics implements Metric<RankingBatch> {
  readonly name = 'ranking';
  readonly ks: readonly number[];
  readonly families: readonly RankingFamily[];
  private sums: Record<RankingFamily, Float64Array>;
  private evaluated = 0;
  private skipped = 0;
  private mask = new Uint8Array(0); // [N], 1 = masked; cleared after each user
  private gain = new Float64Array(0); // [N], gain of each relevant item; cleared after each user

  constructor(options: RankingOptions) {
    const ks = [...new Set(options.ks)].sort((a, b) => a - b);
    if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
      throw new Error(`ranking: ks must be positive integers, got [${options.ks.join(', ')}]`);
    }
    this.ks = ks;
    this.families = options.families ?? RANKING_FAMILIES;
    this.sums = this.zeros();
  }

  /** Users that had at least one relevant, unmasked item (the denominator of every mean). */
  get users(): number {
    return this.evaluated;
  }

  /** Users left out because none of their relevant items was a candidate. */
  get skippedUsers(): number {
    return this.skipped;
  }

  update(batch: RankingBatch): void {
    const u = batch.relevant.length;
    if (u === 0) return;
    const n = batch.scores.length / u;
    if (!Number.isInteger(n)) throw new Error(`ranking: ${batch.scores.length} scores do not split into ${u} users`);
    for (const [what, arr] of [['masked', batch.masked], ['relevance', batch.relevance]] as const) {
      if (arr !== undefined && arr.length !== u) throw new Error(`ranking: ${u} users but ${arr.length} ${what} lists`);
    }
    if (this.mask.length !== n) {
      this.mask = new Uint8Array(n);
      this.gain = new Float64Array(n);
    }
    for (let i = 0; i < u; i++) {
      const row = batch.scores.subarray(i * n, (i + 1) * n);
      this.user(row, batch.masked?.[i] ?? [], batch.relevant[i], batch.relevance?.[i]);
    }
  }

  private user(
    scores: Float32Array | Float64Array,
    masked: ArrayLike<number>,
    relevant: ArrayLike<number>,
    rel: ArrayLike<number> | undefined,
  ): void {
    const { mask, gain, ks } = this;
    const n = scores.length;
    const ideal: number[] = [];
    try {
      for (let j = 0; j < masked.length; j++) mask[checkItem(masked[j], n, 'masked')] = 1;
      if (rel !== undefined && rel.length !== relevant.length) {
        throw new Error(`ranking: ${relevant.length} relevant items but ${rel.length} relevance values`);
      }
      for (let j = 0; j < relevant.length; j++) {
        const item = checkItem(relevant[j], n, 'relevant');
        const r = rel === undefined ? 1 : rel[j];
        if (gain[item] !== 0) throw new Error(`ranking: relevant item ${item} listed twice`);
        if (mask[item] !== 0 || !(r > 0)) continue;
        gain[item] = 2 ** r - 1;
        ideal.push(gain[item]);
      }
      if (ideal.length === 0) {
        this.skipped++;
        return;
      }
      ideal.sort((a, b) => b - a);
      // an item scored -Infinity was not retrieved (e.g. outside an index's candidates): it never enters the list
      let top = topK(scores, ks[ks.length - 1], mask);
      const cut = top.findIndex((i) => scores[i] === -Infinity);
      if (cut >= 0) top = top.subarray(0, cut);
      let hits = 0;
      let dcg = 0;
      let idcg = 0;
      let t = 0;
      for (let p = 0; t < ks.length; p++) {
        if (p < top.length) {
          const g = gain[top[p]];
          if (g > 0) {
            hits++;
            dcg += g / Math.log2(p + 2);
          }
        }
        if (p < ideal.length) idcg += ideal[p] / Math.log2(p + 2);
        while (t < ks.length && (ks[t] === p + 1 || p + 1 >= Math.max(top.length, ideal.length))) {
          this.add(t, hits, dcg, idcg, ideal.length);
          t++;
        }
      }
      this.evaluated++;
    } finally {
      for (let j = 0; j < masked.length; j++) if (masked[j] >= 0 && masked[j] < n) mask[masked[j]] = 0;
      for (let j = 0; j < relevant.length; j++) if (relevant[j] >= 0 && relevant[j] < n) gain[relevant[j]] = 0;
    }
  }

  private add(t: number, hits: number, dcg: number, idcg: number, numRelevant: number): void {
    const s = this.sums;
    s.recall[t] += hits / numRelevant;
    s.ndcg[t] += dcg / idcg;
    s.precision[t] += hits / this.ks[t];
    s.hitrate[t] += hits > 0 ? 1 : 0;
  }

  /** `${family}@${K}` for every family and K; NaN when no user was evaluated. */
  compute(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.families) {
      this.ks.forEach((k, t) => (out[`${f}@${k}`] = this.evaluated === 0 ? NaN : this.sums[f][t] / this.evaluated));
    }
    return out;
  }

  reset(): void {
    this.sums = this.zeros();
    this.evaluated = 0;
    this.skipped = 0;
  }

  private zeros(): Record<RankingFamily, Float64Array> {
    const z = () => new Float64Array(this.ks.length);
    return { recall: z(), ndcg: z(), precision: z(), hitrate: z() };
  }
}

function checkItem(item: number, n: number, what: string): number {
  if (!Number.isInteger(item) || item < 0 || item >= n) throw new Error(`ranking: ${what} item ${item} outside [0, ${n})`);
  return item;
}
