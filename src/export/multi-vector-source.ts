// The multi-vector (max-sim: IntTower, RankTower) candidate generator over an HNSW index of every item head vector
// (key = row * H + head), searched with the sums of groups of the user's query vectors (IntTower: one per layer;
// sum_a max_b <u_a, v_b> >= max_b <sum_a u_a, v_b>: its hits are the items with the best lower bound of that group's
// part of the score) and with each query vector (ColBERT's gather step); past the cap, each source keeps its best
// (capped: the summed queries' by the bound, at most half, the query vectors' by the sum of the best similarity each
// found on the item). Whatever it returns is rescored exactly.
// Shape letters: N items, H item heads, P head size, Q query vectors.
import { topK } from '../eval/top-k.js';
import type { UsearchLike } from './ann-index.js';
import type { IndexVectors, MultiVectorLayout, SearchDefaults } from './manifest.js';
import { innerProducts, similarityOf } from './mips.js';
import type { CandidateSource, QueryVectors } from './candidate-source.js';

export const allRows = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/** Per query vector, its hits (index vector numbers, similarities) best first, `stride` apart. */
export type HeadSearch = (q: Float32Array, fetch: number) => { keys: ArrayLike<number | bigint>; sims: ArrayLike<number>; stride: number; counts: ArrayLike<number | bigint> };

export class MultiVectorSource implements CandidateSource {
  readonly index = 'multi-vector';

  constructor(readonly kind: 'usearch' | 'brute-force', private readonly layout: MultiVectorLayout, readonly defaults: SearchDefaults,
    private readonly vectors: number, private search: HeadSearch | null, private readonly queries: QueryVectors) {}

  candidates(rep: Float32Array, _k: number, s: SearchDefaults): Int32Array {
    if (!this.search) throw new Error('multi-vector index is closed');
    const l = this.layout;
    const items = this.vectors / l.heads;
    // Per-query depth covering every vector takes every row (as the inner-product source does), within the cap.
    if (s.perHead >= this.vectors && items <= s.maxCandidates) return allRows(items);
    const q = this.queries(rep);
    const bound = new Map<number, number>(); // items the summed queries found: their best lower bound
    const sumDepth = Math.min(s.sumDepth ?? 0, this.vectors);
    if (sumDepth > 0) {
      const groups = Math.min(Math.max(1, s.sumGroups ?? 1), l.queries);
      const r = this.search(groupSums(q, l.size, groups), Math.min(Math.max(sumDepth, s.ef), this.vectors));
      for (let g = 0; g < groups; g++) {
        for (let j = 0; j < Math.min(sumDepth, Number(r.counts[g])); j++) {
          const row = Math.floor(Number(r.keys[g * r.stride + j]) / l.heads);
          const sim = r.sims[g * r.stride + j], had = bound.get(row);
          if (had === undefined || had < sim) bound.set(row, sim); // an item several groups found: its best bound
        }
      }
    }
    const margin = new Map<number, number>(); // items the query vectors found: the sum of their margins
    const perHead = Math.min(s.perHead, this.vectors);
    if (perHead > 0) this.gather(q, perHead, s.ef, margin);
    const all = new Set([...bound.keys(), ...margin.keys()]);
    return all.size <= s.maxCandidates ? Int32Array.from(all).sort() : capped(bound, margin, s.maxCandidates);
  }

  /**
   * Adds each query vector's best `perHead` hits to margins. An item's margin is its upper bound less a constant: a
   * query that did not find it contributes at most the similarity of that query's last hit (the threshold), one that
   * did its best similarity, so ranking by the sum over queries of (best - threshold) ranks by the bound.
   */
  private gather(q: Float32Array, perHead: number, ef: number, margins: Map<number, number>): void {
    const l = this.layout;
    const r = this.search!(q, Math.min(Math.max(perHead, ef), this.vectors));
    const best = new Map<number, number>();
    for (let a = 0; a < l.queries; a++) {
      best.clear();
      const found = Math.min(perHead, Number(r.counts[a]));
      if (found === 0) continue;
      const threshold = r.sims[a * r.stride + found - 1];
      for (let j = 0; j < found; j++) {
        const row = Math.floor(Number(r.keys[a * r.stride + j]) / l.heads);
        if (!best.has(row)) best.set(row, r.sims[a * r.stride + j] - threshold); // hits come best first
      }
      for (const [row, m] of best) margins.set(row, (margins.get(row) ?? 0) + m);
    }
  }

  close(): void {
    this.search = null;
  }
}

/**
 * The cap's cut: the summed queries' items by their bound fill half of it, the query vectors' items by their margins
 * the rest, and the summed queries' next ones whatever the query vectors left. Neither source can crowd the other
 * out: with 32 heads a summed query is a poor proxy for the max-sim (it found none of the exact top-100 where the
 * query vectors found all of them, 100k items), with 8 heads the better one. An item both found counts once.
 */
function capped(bound: Map<number, number>, margin: Map<number, number>, cap: number): Int32Array {
  const out = new Set<number>();
  const byBound = [...bound.keys()], byMargin = [...margin.keys()];
  const bestBound = topK(Float32Array.from(bound.values()), Math.min(cap, byBound.length), undefined, 'last');
  const bestMargin = topK(Float32Array.from(margin.values()), Math.min(cap, byMargin.length), undefined, 'last');
  let b = 0;
  for (; b < bestBound.length && out.size < cap >> 1; b++) out.add(byBound[bestBound[b]]);
  for (let m = 0; m < bestMargin.length && out.size < cap; m++) out.add(byMargin[bestMargin[m]]);
  for (; b < bestBound.length && out.size < cap; b++) out.add(byBound[bestBound[b]]);
  return Int32Array.from(out).sort();
}

/** The sums of G consecutive groups of the query vectors [Q, P] -> [G, P] (group g: vectors floor(gQ/G) to floor((g+1)Q/G) - 1). */
export function groupSums(q: Float32Array, p: number, groups: number): Float32Array {
  const nq = q.length / p;
  const out = new Float32Array(groups * p);
  for (let g = 0; g < groups; g++) {
    for (let a = Math.floor((g * nq) / groups); a < Math.floor(((g + 1) * nq) / groups); a++) {
      for (let j = 0; j < p; j++) out[g * p + j] += q[a * p + j];
    }
  }
  return out;
}

/** Query vectors [Q, P] -> [Q, P + 1], each with a 0 appended (the augmented index's queries). */
function augmentQueries(q: Float32Array, p: number): Float32Array {
  const nq = q.length / p;
  const out = new Float32Array(nq * (p + 1));
  for (let a = 0; a < nq; a++) out.set(q.subarray(a * p, (a + 1) * p), a * (p + 1));
  return out;
}

/** usearch's answer for one query or several, as flat arrays (similarities <q, v>, whatever the index's vectors). */
export function usearchHeads(index: UsearchLike, threads: number, vectors?: IndexVectors): HeadSearch {
  return (q, fetch) => {
    const r = index.search(vectors ? augmentQueries(q, index.dimensions() - 1) : q, fetch, threads);
    const sims = Float32Array.from(r.distances, (d) => similarityOf(d, vectors));
    if (r.counts) return { keys: r.keys, sims, stride: fetch, counts: r.counts };
    return { keys: r.keys, sims, stride: fetch, counts: [r.keys.length] };
  };
}

/** The exact scan over every head vector [V, P] (small corpora, or usearch missing). */
export function bruteForceHeads(vectors: Float32Array, size: number): HeadSearch {
  const v = vectors.length / size;
  const dots = new Float32Array(v);
  return (q, fetch) => {
    const nq = q.length / size;
    const keys = new Int32Array(nq * fetch), sims = new Float32Array(nq * fetch);
    for (let i = 0; i < nq; i++) {
      innerProducts(vectors, size, q.subarray(i * size, (i + 1) * size), dots);
      const top = topK(dots, fetch, undefined, 'last');
      top.forEach((r, j) => { keys[i * fetch + j] = r; sims[i * fetch + j] = dots[r]; });
    }
    return { keys, sims, stride: fetch, counts: new Array<number>(nq).fill(Math.min(fetch, v)) };
  };
}
