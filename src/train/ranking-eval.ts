// Full-corpus ranking evaluation of a two-tower model (OneBP's protocol; the IntTower paper's Recall/NDCG
// too): for every user with a positive in the split, score every item entity of the dataset, mask the user's train
// items, and compute Recall/NDCG/Precision/HitRate@K against the split's positives (src/eval RankingMetrics).
// The user rep comes from the user tower on the user's first row of the split, or from a training strategy's own
// user state (OneBP's stored encodings) when one is given. A large corpus may evaluate a seeded sample of the users.
// Retrieval through an index ranks only the items a candidate generator returns (`candidates`), by their exact
// scores; the rest count as not retrieved. popularityRanking is the model-free reference on the same users. Shape
// letters: N items, I item rep width, U user width.
import type { Tensor } from '../core/tensor.js';
import { Rng } from '../core/random.js';
import { noGrad } from '../core/tape.js';
import { scope } from '../core/scope.js';
import type { Batch, Dataset, SplitName } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import { scoreReps } from '../models/common/base.js';
import { RankingMetrics } from '../eval/index.js';
import { topK } from '../eval/top-k.js';
import type { TrainingStrategy } from './strategies/types.js';

export interface RankingEvalOptions {
  split: SplitName;
  ks: readonly number[];
  /** Whose user reps: the model's tower (default) or a strategy's own state. */
  strategy?: TrainingStrategy;
  /** Evaluate this many users with a positive in the split, a sample fixed by `seed` (default: every one; a large
   * corpus scores every item per user, so millions of users are sampled). */
  users?: number;
  seed?: number;
  /**
   * Retrieval through an index: the item rows a candidate generator returns for the user rep (asked for `k` items,
   * the largest K plus the user's masked items, as a /v1/recommend caller would), scored exactly; every other item
   * counts as not retrieved. Absent: every item is scored (exact full-corpus retrieval).
   */
  candidates?: (rep: Float32Array, k: number) => Int32Array;
  /**
   * A faster exact scan than the model's tensors (the serving layer's native plan): given the model and every item's
   * rep [N, I], a function from a user rep to its N scores, or null (no plan for this model: scoreReps, the model's
   * score in chunks, scores).
   */
  scan?: FullScan;
}

/** rankingEval's `scan`: the scores of every item for a user rep (valid until the next call), or null. */
export type FullScan = (model: RecModel, items: Float32Array, width: number) => ((rep: Float32Array) => Float32Array) | null;

/** Metrics by `${family}@${K}`, `users` and `shared@${largest K}` (rankingEval). */
export type RankingScores = Record<string, number> & { users: number };

/** rankingEval's tables: exact full-corpus retrieval, and with `candidates` the same users through the index. */
export interface RankingReport {
  exact: RankingScores;
  index?: RankingScores;
}

/**
 * Metrics by `${family}@${K}`, and `users`: how many users have a positive in the split (users whose positives are all
 * train items are skipped by the metric); `shared@${largest K}`: the mean share of a user's top-K that the previous
 * user's top-K also holds (near 1: every user gets the same list, the model does not personalise). With
 * `candidates`, one pass gives both tables: `index` has the same metrics over what the generator returns, plus
 * `candidates`: the mean count per user, and `overlap@${K}`: the share of each user's exact top-K (every item
 * scored, train items masked) that the index path's top-K holds, ties with the K-th counting, averaged over the
 * users scored (1: the index loses nothing).
 */
export function rankingEval(model: RecModel, data: Dataset, opts: RankingEvalOptions): RankingReport {
  if (!model.twoTower || !model.encodeUser || !model.encodeItem || !model.score) throw new Error(`rankingEval: '${model.kind}' is not a two-tower model`);
  const N = data.itemCount;
  const { relevant, firstRow } = evaluatedUsers(data, opts);
  const masked = data.trainUserItems();
  const maxK = Math.max(...opts.ks);
  const exact = new RankingTable(opts.ks);
  const index = opts.candidates ? new RankingTable(opts.ks) : null;
  let found = 0;
  const overlap = new Float64Array(opts.ks.length);
  const mask = new Uint8Array(N);
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      // Every item's rep [N, I], in chunks (plain arrays: nothing pooled outlives its scope).
      const parts: Float32Array[] = [];
      let width = 0;
      for (let i0 = 0; i0 < N; i0 += 4096) {
        const n = Math.min(4096, N - i0);
        scope(() => {
          const v = model.encodeItem!(data.fillItems(data.itemBatch(n), Int32Array.from({ length: n }, (_, k) => i0 + k)));
          parts.push(Float32Array.from(v.f));
          width = v.shape[1];
        });
      }
      const all = new Float32Array(N * width);
      parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
      // the model's own scoring, in chunks, unless the caller has a faster scan
      const scan = opts.scan?.(model, all, width) ?? ((rep: Float32Array) => scoreReps(model, rep, all, width));
      const users = Int32Array.from([...relevant.keys()].map((u) => firstRow.get(u)!));
      for (const batch of data.batches(users, { batchSize: 256, shuffle: false }).epoch(0)) {
        scope(() => {
          const ut = userReps(model, batch, opts.strategy);
          const reps = ut.f instanceof Float32Array ? ut.f : Float32Array.from(ut.f);
          const U = ut.shape[1];
          for (let b = 0; b < batch.size; b++) {
            const u = batch.user[b];
            const rep = reps.subarray(b * U, b * U + U);
            const scores = scan(rep);
            const positives = Int32Array.from(relevant.get(u)!);
            for (const i of masked[u]) mask[i] = 1;
            const best = exact.add(scores, mask, masked[u], positives);
            if (index) {
              const rows = opts.candidates!(Float32Array.from(rep), maxK + masked[u].length);
              found += rows.length;
              // the candidates' exact scores are the full scan's: the index path keeps those of the rows it returns
              const through = new Float32Array(N).fill(-Infinity);
              for (const row of rows) through[row] = scores[row];
              // an item not retrieved never enters the index path's list
              const top = index.add(through, mask, masked[u], positives).filter((i) => through[i] > -Infinity);
              opts.ks.forEach((k, t) => {
                const kk = Math.min(k, best.length), kth = scores[best[kk - 1]];
                let n = 0;
                for (let j = 0; j < Math.min(k, top.length); j++) if (scores[top[j]] >= kth) n++;
                overlap[t] += n / kk;
              });
            }
            for (const i of masked[u]) mask[i] = 0;
          }
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const users = relevant.size;
  const report: RankingReport = { exact: { ...exact.compute(), users } };
  if (index) {
    report.index = { ...index.compute(), users, candidates: found / Math.max(1, users),
      ...Object.fromEntries(opts.ks.map((k, t) => [`overlap@${k}`, users ? overlap[t] / users : NaN])) };
  }
  return report;
}

/** One ranking's metrics over the users, and how alike consecutive users' top lists are (`shared@K`). */
class RankingTable {
  private readonly metric: RankingMetrics;
  private readonly maxK: number;
  private previous: Set<number> | null = null;
  private shared = 0;
  private pairs = 0;

  constructor(ks: readonly number[]) {
    this.metric = new RankingMetrics({ ks });
    this.maxK = Math.max(...ks);
  }

  /** Adds a user's scores (masked items set in `mask`, also listed in `masked`); returns the user's top list. */
  add(scores: Float32Array | Float64Array, mask: Uint8Array, masked: Int32Array, relevant: Int32Array): Int32Array {
    const top = topK(scores, this.maxK, mask, 'last');
    const listed = top.filter((i) => scores[i] > -Infinity);
    if (this.previous) {
      this.shared += listed.reduce((n, i) => n + (this.previous!.has(i) ? 1 : 0), 0) / this.maxK;
      this.pairs++;
    }
    this.previous = new Set(listed);
    this.metric.update({ scores, masked: [masked], relevant: [relevant] });
    return top;
  }

  compute(): Record<string, number> {
    return { ...this.metric.compute(), [`shared@${this.maxK}`]: this.pairs ? this.shared / this.pairs : NaN };
  }
}

/**
 * The users a ranking evaluation scores: per user with a positive in the split, its positives (a repeated
 * interaction counts once) and the split row whose features give its user rep; a seeded sample of `users` of them.
 */
function evaluatedUsers(data: Dataset, opts: Pick<RankingEvalOptions, 'split' | 'users' | 'seed'>): { relevant: Map<number, Set<number>>; firstRow: Map<number, number> } {
  const relevant = new Map<number, Set<number>>();
  const firstRow = new Map<number, number>();
  for (const r of data.splits[opts.split]) {
    const u = data.rowUser[r];
    if (!firstRow.has(u)) firstRow.set(u, r);
    if (data.label[r] > 0.5) (relevant.get(u) ?? relevant.set(u, new Set()).get(u)!).add(data.rowItem[r]);
  }
  if (opts.users !== undefined && opts.users < relevant.size) {
    const keep = new Set(sampleOf([...relevant.keys()], opts.users, new Rng(opts.seed ?? 1)));
    for (const u of [...relevant.keys()]) if (!keep.has(u)) relevant.delete(u);
  }
  return { relevant, firstRow };
}

/**
 * The reference every personalised ranking should beat: each user gets the items with the most positive train rows
 * (ties by item index), their own train items masked, scored over the users rankingEval scores with the same options.
 */
export function popularityRanking(data: Dataset, opts: Pick<RankingEvalOptions, 'split' | 'ks' | 'users' | 'seed'>): Record<string, number> & { users: number } {
  const { relevant } = evaluatedUsers(data, opts);
  const counts = new Float64Array(data.itemCount);
  for (const r of data.splits.train) if (data.label[r] > 0.5) counts[data.rowItem[r]]++;
  const masked = data.trainUserItems();
  const metric = new RankingMetrics({ ks: opts.ks });
  for (const [u, items] of relevant) metric.update({ scores: counts, masked: [masked[u]], relevant: [Int32Array.from(items)] });
  return { ...metric.compute(), users: relevant.size };
}

/** k of xs, uniformly without replacement (a partial Fisher-Yates shuffle). */
function sampleOf(xs: number[], k: number, rng: Rng): number[] {
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(xs.length - i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs.slice(0, k);
}

function userReps(model: RecModel, batch: Batch, strategy?: TrainingStrategy): Tensor {
  return strategy?.userReps ? strategy.userReps(model, batch) : model.encodeUser!(batch);
}
