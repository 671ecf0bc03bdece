// Candidate generators for retrieval: from a user rep, the table rows worth scoring exactly. Inner product (DSSM-like
// scores): the HNSW index over the item reps, searched with the user rep. Multi-vector (max-sim scores: IntTower,
// RankTower): the index over every item head vector (key = row * H + head), searched with each user query vector;
// the items found are gathered and, past the cap, kept by a proxy score (per query vector the best similarity it
// found on the item, summed: ColBERT's gather step). Whatever a generator returns is rescored exactly by the scorer.
// Shape letters: N items, H item heads, P head size, Q query vectors, K top-k.
import { topK } from '../eval/top-k.js';
import type { Bundle } from '../export/bundle.js';
import { addRows, newUsearch, type UsearchLike } from '../export/ann-index.js';
import { decodeAll, type ItemTable } from '../export/item-table.js';
import type { MultiVectorLayout, RetrievalIndexInfo, SearchDefaults } from '../export/manifest.js';
import { HEAD_INDEX_PARAMS, headVectors, queryVectors, retrievalIndexOf } from '../export/retrieval-index.js';
import { BruteForceIndex, buildAnnIndex, type AnnIndex, type AnnKind } from './ann.js';

export interface CandidateSource {
  /** The search back-end: usearch's HNSW, or an exact scan with the same interface. */
  readonly kind: AnnKind;
  readonly index: 'inner-product' | 'multi-vector';
  /** Settings a request leaves out (the bundle's recorded defaults). */
  readonly defaults: SearchDefaults;
  /** Distinct rows to rescore for the user rep (at most s.maxCandidates), ascending. */
  candidates(rep: Float32Array, k: number, s: SearchDefaults): Int32Array;
  close(): void;
}

export class InnerProductSource implements CandidateSource {
  readonly index = 'inner-product';

  constructor(private readonly ann: AnnIndex, readonly defaults: SearchDefaults) {}

  get kind(): AnnKind {
    return this.ann.kind;
  }

  candidates(rep: Float32Array, k: number, s: SearchDefaults): Int32Array {
    return this.ann.search(rep, Math.min(Math.max(k, s.perHead), s.maxCandidates)).sort();
  }

  close(): void {
    this.ann.close();
  }
}

/** Per query vector, its hits (index vector numbers, similarities) best first. */
type HeadSearch = (q: Float32Array, fetch: number) => { keys: ArrayLike<number | bigint>; sims: ArrayLike<number>; stride: number; counts: ArrayLike<number | bigint> };

export class MultiVectorSource implements CandidateSource {
  readonly index = 'multi-vector';

  constructor(readonly kind: AnnKind, private readonly layout: MultiVectorLayout, readonly defaults: SearchDefaults,
    private readonly vectors: number, private search: HeadSearch | null) {}

  candidates(rep: Float32Array, _k: number, s: SearchDefaults): Int32Array {
    if (!this.search) throw new Error('multi-vector index is closed');
    const l = this.layout;
    const perHead = Math.min(s.perHead, this.vectors);
    if (perHead <= 0) return new Int32Array(0);
    const r = this.search(queryVectors(rep, l), Math.min(Math.max(perHead, s.ef), this.vectors));
    const proxy = new Map<number, number>(); // row -> sum over queries of its best similarity to that query
    const best = new Map<number, number>();
    for (let q = 0; q < l.queries; q++) {
      best.clear();
      const found = Math.min(perHead, Number(r.counts[q]));
      for (let j = 0; j < found; j++) {
        const row = Math.floor(Number(r.keys[q * r.stride + j]) / l.heads);
        const sim = r.sims[q * r.stride + j];
        if (!(best.get(row)! >= sim)) best.set(row, sim);
      }
      for (const [row, sim] of best) proxy.set(row, (proxy.get(row) ?? 0) + sim);
    }
    const rows = Int32Array.from(proxy.keys());
    if (rows.length <= s.maxCandidates) return rows.sort();
    const scores = Float32Array.from(proxy.values());
    return Int32Array.from(topK(scores, s.maxCandidates, undefined, 'last'), (i) => rows[i]).sort();
  }

  close(): void {
    this.search = null;
  }
}

/** usearch's answer for one query or several, as flat arrays (ip distance = 1 - dot). */
function usearchHeads(index: UsearchLike, threads: number): HeadSearch {
  return (q, fetch) => {
    const r = index.search(q, fetch, threads) as { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array };
    const sims = Float32Array.from(r.distances, (d) => 1 - d);
    if (r.counts) return { keys: r.keys, sims, stride: fetch, counts: r.counts };
    return { keys: r.keys, sims, stride: fetch, counts: [r.keys.length] };
  };
}

/** The exact scan over every head vector [V, P] (small corpora, or usearch missing). */
function bruteForceHeads(vectors: Float32Array, size: number): HeadSearch {
  const v = vectors.length / size;
  const dots = new Float32Array(v);
  return (q, fetch) => {
    const nq = q.length / size;
    const keys = new Int32Array(nq * fetch), sims = new Float32Array(nq * fetch);
    for (let i = 0; i < nq; i++) {
      for (let r = 0; r < v; r++) {
        let s = 0;
        for (let j = 0; j < size; j++) s += vectors[r * size + j] * q[i * size + j];
        dots[r] = s;
      }
      const top = topK(dots, fetch, undefined, 'last');
      top.forEach((r, j) => { keys[i * fetch + j] = r; sims[i * fetch + j] = dots[r]; });
    }
    return { keys, sims, stride: fetch, counts: new Array<number>(nq).fill(Math.min(fetch, v)) };
  };
}

/** The exact-scan generator of a table's retrieval kind (null for kind 'none'): same answers as the index at full depth. */
export function bruteForceSource(table: ItemTable, info: RetrievalIndexInfo): CandidateSource | null {
  if (info.kind === 'none') return null;
  const reps = decodeAll(table);
  if (info.kind === 'inner-product') return new InnerProductSource(new BruteForceIndex(reps, table.dim), info.defaults);
  const l = info.layout;
  return new MultiVectorSource('brute-force', l, info.defaults, table.ids.size * l.heads, bruteForceHeads(headVectors(reps, table.dim, l), l.size));
}

/**
 * The bundle's candidate generator for retrieval, or null when it has none (exact mode only). usearch maps the
 * bundle's saved index when there is one (checked against its size), builds it from the table otherwise, and falls
 * back to the exact scan when it does not load; the note says when a fallback or rebuild happened.
 */
export async function openCandidateSource(bundle: Bundle, prefer: AnnKind): Promise<{ source: CandidateSource | null; note?: string }> {
  const items = bundle.items;
  const info = retrievalIndexOf(bundle.manifest.items, !!bundle.manifest.files['items/ann.usearch']);
  if (!items || info.kind === 'none') return { source: null };
  if (info.kind === 'inner-product') {
    const saved = prefer === 'usearch' && info.file ? await bundle.annIndexPath(info.file) : null;
    const r = await buildAnnIndex({ rows: items.ids.size, get: () => decodeAll(items) }, items.dim, prefer, saved);
    return { source: new InnerProductSource(r.index, info.defaults), note: r.note };
  }
  const l = info.layout;
  const n = items.ids.size * l.heads;
  if (prefer === 'brute-force') return { source: bruteForceSource(items, info) };
  const params = { ...HEAD_INDEX_PARAMS, quantization: info.quantization };
  let index: UsearchLike;
  try {
    index = await newUsearch(l.size, params);
  } catch (e) {
    return { source: bruteForceSource(items, info), note: `usearch unavailable (${(e as Error).message}); brute-force multi-vector retrieval` };
  }
  let note: string | undefined;
  const saved = info.file ? await bundle.annIndexPath(info.file) : null;
  if (saved) {
    index.view(saved);
    if (index.size() !== n || index.dimensions() !== l.size) {
      note = `saved head index ${saved} holds ${index.size()} x ${index.dimensions()}, the table ${n} x ${l.size}: rebuilt`;
      index = await newUsearch(l.size, params);
    }
  }
  if (index.size() === 0 && n > 0) await addRows(index, headVectors(decodeAll(items), items.dim, l), l.size, 4096);
  return { source: new MultiVectorSource('usearch', l, info.defaults, n, usearchHeads(index, 1)), note };
}
