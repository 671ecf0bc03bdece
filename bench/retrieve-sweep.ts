// One retrieval setting's measurement, shared by the retrieve benches: latency over the queries and recall@K against
// their exact answers.
import type { SearchDefaults } from '../src/export/manifest.js';
import type { ScoreResponse, Scorer, UserFeatures } from '../src/serve/scorer.js';
import { percentile } from '../src/util/stats.js';

/** The K of recall@K and of every retrieve request. */
export const K = 100;

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

/** A query's exact answer: its top-K ids and the K-th best score. */
export interface Truth {
  ids: Set<string>;
  kth: number;
}

export const truthOf = (r: ScoreResponse): Truth => ({ ids: new Set(r.items.map((x) => String(x.id))), kth: r.items.at(-1)?.score ?? -Infinity });

/** Queries of each setting run once untimed before its timed pass: the first setting of a process ran colder (page faults, JIT). */
const WARMUP = 10;

/**
 * p50/p99 and recall@K against the exact answers of the same queries. An item the index path returns counts as found
 * when it is in the exact top-K or scores at least the exact K-th score (the path rescores exactly): items tied with
 * the K-th are equally right answers, and a briefly trained model over many items gives many such ties.
 */
export async function sweep(s: Scorer, queries: UserFeatures[], truth: Truth[], req: Partial<SearchDefaults> & { mode?: 'ann' | 'exact' }): Promise<{ p50: number; p99: number; recall: number }> {
  for (const user of queries.slice(0, WARMUP)) await s.retrieve({ user, k: K, ...req });
  const lat: number[] = [];
  let hits = 0, total = 0;
  for (let q = 0; q < queries.length; q++) {
    const [r, ms] = await timed(() => s.retrieve({ user: queries[q], k: K, ...req }));
    lat.push(ms);
    const t = truth[q];
    hits += Math.min(t.ids.size, r.items.filter((x) => t.ids.has(String(x.id)) || x.score >= t.kth).length);
    total += t.ids.size;
  }
  return { p50: round(percentile(lat, 0.5), 3), p99: round(percentile(lat, 0.99), 3), recall: round(hits / total, 4) };
}

