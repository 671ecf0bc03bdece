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
  /** Distinct rows to rescore for the user rep (at most s.maxCandidates), ascending. */
  candidates(rep: Float32Array, k: number, s: SearchDefaults): Int32Array;
  close(): void;
}
