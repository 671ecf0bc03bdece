// What every candidate generator of retrieval offers: the multi-vector ones (multi-vector-source.ts,
// centroid-source.ts), the inner-product one (src/serve/candidates.ts, which opens a bundle's generator).
import type { SearchDefaults } from './manifest.js';

/** The query vectors [Q, P] of a user rep (src/export/retrieval-index.ts queryVectors, bound to a layout and model). */
export type QueryVectors = (rep: Float32Array) => Float32Array;

export interface CandidateSource {
  /** The search back-end: usearch's HNSW, an exact scan with the same interface, or centroids with inverted lists. */
  readonly kind: 'usearch' | 'brute-force' | 'centroids';
  readonly index: 'inner-product' | 'multi-vector' | 'multi-vector-centroids';
  /** Settings a request leaves out (the bundle's recorded defaults). */
  readonly defaults: SearchDefaults;
  /** Distinct rows to rescore for the user rep (at most s.maxCandidates, plus a bundle's shared rows), ascending. */
  candidates(rep: Float32Array, k: number, s: SearchDefaults): Int32Array;
  close(): void;
}

/** Ascending distinct rows: a and b (each ascending and distinct) merged. */
export function unionSorted(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i] : b[j];
    if (i < a.length && a[i] === x) i++;
    if (j < b.length && b[j] === x) j++;
    out[n++] = x;
  }
  return out.subarray(0, n);
}

/** `source` whose every answer also holds `rows` (a bundle's shared rows, ascending and distinct). */
export function withSharedRows(source: CandidateSource, rows: Int32Array): CandidateSource {
  if (rows.length === 0) return source;
  return {
    kind: source.kind, index: source.index, defaults: source.defaults,
    candidates: (rep, k, s) => unionSorted(source.candidates(rep, k, s), rows),
    close: () => source.close(),
  };
}
