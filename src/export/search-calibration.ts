// The inner-product index's search depth, measured at export instead of assumed. An HNSW search is only as good as
// the graph's paths towards the query, and a user rep need not lie near any item rep: a model whose item reps crowd
// one side of the sphere while its users point away from them (a softmax-trained DSSM at 1M items: cosine -0.96
// between its users and the mean item) sends every search into the same corner at ef 512 or 1,024 and finds 5% of the
// exact top-100, then all of it at 2,048. So the export searches its own saved index with the reps of sampled
// training users at each depth of a ladder, compares with exact inner-product search, and records the smallest depth
// that reaches the target as the bundle's default ef, with the whole curve, in the manifest. A max-sim (multi-vector)
// index is measured the same way through its own candidate generator: the candidates of each setting of a ladder
// against the exact top-K of the model's scores, the first setting reaching MULTI_VECTOR_TARGET kept.
// Shape letters: N items, I rep width, Q queries, U user rep width.
import { topK } from '../eval/top-k.js';
import type { UsearchLike } from './ann-index.js';
import type { CandidateSource } from './candidate-source.js';
import { augmentQuery, innerProducts } from './mips.js';
import type { IndexVectors, SearchCalibration, SearchDefaults } from './manifest.js';

/**
 * The depths tried, shallowest first. None below the index's build-time expansion_search (512): usearch searches
 * max(that, fetch) wide, so a shallower fetch finds nothing more cheaply.
 */
export const EF_LADDER = [512, 1024, 2048, 4096, 8192, 16384] as const;
/** The recall@K against exact search the chosen depth must reach on the sampled users. */
export const CALIBRATION_TARGET = 0.99;
/** Users searched (each costs one exact scan of the table). */
export const CALIBRATION_QUERIES = 32;
const K = 100;
/** The top-k lists the shared rows are drawn from (the K of the calibration). */
export const SHARED_K = K;
/** Users (after the calibration ones) whose exact top-K lists give the shared rows; each costs one exact scan. */
export const SHARED_USERS = 64;
/** The most shared rows a bundle keeps: rescoring them is part of every query. */
export const SHARED_MAX = 1024;

/**
 * The rows in the most exact top-k lists of the query reps `users` [Q, dim] (`exact(q)`: every row's score), at most
 * `max`, in most lists first (ties: the lower row), returned ascending. An HNSW graph built over the items can fail to
 * lead a query to rows that score high for almost every user (a softmax-trained DSSM at 1M items: user reps point
 * away from the crowd of item reps, and 300 rows hold nearly every user's top-100, which the graph reaches for 75%
 * of them at ef 512): rescored with every query, they are found whatever the graph does.
 */
export function sharedRows(exact: (q: Float32Array) => ArrayLike<number>, users: Float32Array, dim: number, k = K, max = SHARED_MAX): Int32Array {
  const count = new Map<number, number>();
  for (let at = 0; at + dim <= users.length; at += dim) {
    const s = exact(users.subarray(at, at + dim));
    for (const r of topK(s, Math.min(k, s.length), undefined, 'last')) count.set(r, (count.get(r) ?? 0) + 1);
  }
  const rows = [...count].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, max).map(([r]) => r);
  return Int32Array.from(rows).sort();
}

/** The users [Q, dim] of `users` that give the shared rows: the SHARED_USERS after the calibration ones. */
export const sharedUsers = (users: Float32Array, dim: number): Float32Array =>
  users.subarray(Math.min(users.length, CALIBRATION_QUERIES * dim), Math.min(users.length, (CALIBRATION_QUERIES + SHARED_USERS) * dim));

/**
 * What a calibration is measured against: each query's exact top-k rows, with the rows tied at the k-th score
 * (`exact(q)`: every row's score for query q, of width `dim` in `queries`; k capped at the row count). Each query is
 * scanned once, on first use, however many runs measure against it (a calibration without and then with shared
 * rows scans its users once).
 */
export class ExactTargets {
  readonly count: number;
  private readonly tops: { rows: Set<number>; k: number }[] = [];

  constructor(readonly queries: Float32Array, readonly dim: number, private readonly exact: (q: Float32Array) => ArrayLike<number>, readonly k = K) {
    this.count = Math.floor(queries.length / dim);
  }

  /** The first CALIBRATION_QUERIES reps of `users` [Q, dim]. */
  static ofUsers(users: Float32Array, dim: number, exact: (q: Float32Array) => ArrayLike<number>): ExactTargets {
    return new ExactTargets(users.subarray(0, Math.min(CALIBRATION_QUERIES, Math.floor(users.length / dim)) * dim), dim, exact);
  }

  private query(i: number): Float32Array {
    return this.queries.slice(i * this.dim, (i + 1) * this.dim);
  }

  private top(i: number): { rows: Set<number>; k: number } {
    if (this.tops[i]) return this.tops[i];
    const s = this.exact(this.query(i));
    const k = Math.min(this.k, s.length);
    const kth = s[topK(s, k, undefined, 'last')[k - 1]];
    const rows = new Set<number>();
    for (let r = 0; r < s.length; r++) if (s[r] >= kth) rows.add(r);
    return (this.tops[i] = { rows, k });
  }

  /** Share of each query's exact top-k that each of `hits(q)` holds; a hit tied with the k-th counts, at most k per query. */
  recall(hits: ((q: Float32Array) => ArrayLike<number | bigint>)[]): number[] {
    const found = hits.map(() => 0);
    let wanted = 0;
    for (let i = 0; i < this.count; i++) {
      const { rows, k } = this.top(i);
      const q = this.query(i);
      wanted += k;
      hits.forEach((h, j) => {
        let n = 0;
        for (const r of Array.from(h(q), Number)) if (rows.has(r)) n++;
        found[j] += Math.min(k, n);
      });
    }
    return found.map((f) => f / wanted);
  }
}

/**
 * Share of each query's exact top-k (by inner product with rows [N, I]) that `hits(q)` holds, over the queries
 * [Q, I]; a hit tied with the k-th score counts, at most k per query. One exact scan per query.
 */
export function recallAgainstExact(rows: Float32Array, dim: number, queries: Float32Array, k: number,
  hits: ((q: Float32Array) => ArrayLike<number | bigint>)[]): number[] {
  const s = new Float64Array(rows.length / dim);
  return new ExactTargets(queries, dim, (q) => innerProducts(rows, dim, q, s), k).recall(hits);
}

/**
 * Searches `index` (over N rows, augmented per `vectors`) with the queries of `targets` (inner products with the rows) at each
 * ladder depth below N (a search fetches its depth and keeps the best K = 100, as /v1/retrieve does, plus the
 * `shared` rows every query rescores), and returns the curve and the smallest depth reaching the target, or the
 * deepest tried when none does. Null when the table is too small for the ladder (N <= 512) or there are no users.
 */
export function calibrateInnerProduct(index: UsearchLike, n: number, targets: ExactTargets,
  vectors?: IndexVectors, shared: Int32Array = new Int32Array(0)): { ef: number; calibration: SearchCalibration } | null {
  const ladder = EF_LADDER.filter((ef) => ef < n);
  if (!ladder.length || !targets.count) return null;
  const search = (ef: number) => (q: Float32Array) => {
    const hits = index.search(vectors ? augmentQuery(q) : q, ef, 1).keys.subarray(0, K);
    return shared.length ? [...new Set([...Array.from(hits, Number), ...shared])] : hits;
  };
  const recall = targets.recall(ladder.map(search));
  const curve = ladder.map((ef, i) => ({ ef, recall: Math.round(recall[i] * 1e4) / 1e4 }));
  const met = curve.find((c) => c.recall >= CALIBRATION_TARGET);
  return { ef: (met ?? curve[curve.length - 1]).ef, calibration: { queries: targets.count, k: K, target: CALIBRATION_TARGET, curve } };
}

/**
 * The recall@K against exact scoring a multi-vector default must reach on the sampled users: the retrieval target
 * for max-sim models (the exact rescoring of the candidates keeps every one the index finds).
 */
export const MULTI_VECTOR_TARGET = 0.95;

/** Candidate caps of the ladders, as multiples of the layout's default cap (kept in [1,024, 16,384]). */
const CAP_STEPS = [0.5, 1, 2, 4];

/**
 * The settings a multi-vector index is measured at, in the order tried: by cap (the exact rescoring's cost, the
 * larger share of a query), smallest first, and within a cap by search depth (centroids: nprobe 1x, 2x and 4x the
 * default; head index: k' 128 to 1,024). Each entry holds only what it changes from `base`.
 */
export function multiVectorLadder(kind: 'multi-vector' | 'multi-vector-centroids', base: SearchDefaults): Partial<SearchDefaults>[] {
  const caps = [...new Set(CAP_STEPS.map((f) => Math.min(16384, Math.max(1024, Math.round(base.maxCandidates * f)))))];
  const depths: Partial<SearchDefaults>[] = kind === 'multi-vector-centroids'
    ? [1, 2, 4].map((f) => ({ nprobe: (base.nprobe ?? 1) * f }))
    : [128, 256, 512, 1024].map((perHead) => ({ perHead }));
  return caps.flatMap((maxCandidates) => depths.map((d) => ({ ...d, maxCandidates })));
}

/**
 * Measures `source` (a multi-vector generator) with the user reps of `targets` (ExactTargets.ofUsers over the
 * model's exact scores, the scores the candidates are rescored with) at each setting of `ladder` over `base`:
 * recall@K of its candidates against their exact top-K, and returns the first setting reaching
 * MULTI_VECTOR_TARGET as the defaults (else the best), with the curve. Null without users.
 */
export function calibrateMultiVector(source: CandidateSource, targets: ExactTargets, base: SearchDefaults,
  ladder: Partial<SearchDefaults>[]): { defaults: SearchDefaults; calibration: SearchCalibration } | null {
  const nq = targets.count;
  if (nq < 1 || !ladder.length) return null;
  const recall = targets.recall(ladder.map((step) => (rep: Float32Array) => source.candidates(rep, K, { ...base, ...step })));
  const curve = ladder.map((step, j) => ({ ...step, recall: Math.round(recall[j] * 1e4) / 1e4 }));
  const best = curve.reduce((b, c) => (c.recall > b.recall ? c : b));
  const { recall: _, ...chosen } = curve.find((c) => c.recall >= MULTI_VECTOR_TARGET) ?? best;
  return { defaults: { ...base, ...chosen }, calibration: { queries: nq, k: K, target: MULTI_VECTOR_TARGET, curve } };
}

/**
 * Calibrates without shared rows (`run(empty)`), and when no setting reaches the target, again with the shared rows
 * (`rows()`, computed only then); they are kept when some setting then reaches the target or the best recall rises.
 * Their rescoring is part of every query, so a bundle whose index reaches the target alone carries none.
 */
export function calibrateWithShared<T extends { calibration: SearchCalibration }>(run: (shared: Int32Array) => T | null,
  rows: () => Int32Array): { result: T; shared: Int32Array | null } | null {
  const best = (c: SearchCalibration): number => Math.max(...c.curve.map((p) => p.recall));
  const alone = run(new Int32Array(0));
  if (!alone || best(alone.calibration) >= alone.calibration.target) return alone && { result: alone, shared: null };
  const shared = rows();
  const withRows = shared.length ? run(shared) : null;
  if (withRows && best(withRows.calibration) > best(alone.calibration)) return { result: withRows, shared };
  return { result: alone, shared: null };
}
