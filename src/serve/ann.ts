// Approximate nearest neighbours over the item table for /v1/retrieve: inner product, valid for models whose score is
// an increasing affine function of <user, item> (the export records whether it is: manifest items.retrieval).
// usearch (HNSW, prebuilt native addon) when it loads; else an exact brute-force scan with the same interface.
// Shape letters: N items, I rep width, K top-k.
import { topK } from '../eval/top-k.js';
import { addRows, newUsearch, type UsearchLike } from '../export/ann-index.js';

export interface AnnIndex {
  readonly kind: 'usearch' | 'brute-force';
  readonly size: number;
  /** Rows of the K items with the largest inner product with q [I], best first (fewer when N < K). */
  search(q: Float32Array, k: number): Int32Array;
  close(): void;
}

export class BruteForceIndex implements AnnIndex {
  readonly kind = 'brute-force';
  constructor(private readonly reps: Float32Array, private readonly dim: number) {}

  get size(): number {
    return this.reps.length / this.dim;
  }

  search(q: Float32Array, k: number): Int32Array {
    const n = this.size, d = this.dim, r = this.reps;
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += r[i * d + j] * q[j];
      scores[i] = s;
    }
    return topK(scores, k, undefined, 'last');
  }

  close(): void {}
}

export class UsearchIndex implements AnnIndex {
  readonly kind = 'usearch';
  constructor(private index: UsearchLike | null) {}

  get size(): number {
    return this.index?.size() ?? 0;
  }

  search(q: Float32Array, k: number): Int32Array {
    if (!this.index) throw new Error('usearch index is closed');
    const kk = Math.min(k, this.size);
    if (kk <= 0) return new Int32Array(0);
    const r = this.index.search(q, kk, 1);
    return Int32Array.from(r.keys, (x) => Number(x));
  }

  close(): void {
    this.index = null;
  }
}

export type AnnKind = 'usearch' | 'brute-force';

/** The table's rows as float32, decoded only when an index must be built from them (a saved index needs none). */
export interface LazyReps {
  rows: number;
  get(): Float32Array;
}

/**
 * An index over reps [N, I]: 'usearch' maps the bundle's saved index read-only when `saved` names one (checked
 * against N and I; the processes of one host share its pages) and otherwise builds it in slices that yield to the
 * event loop; it falls back to brute force (with the reason) when usearch does not load.
 */
export async function buildAnnIndex(reps: Float32Array | LazyReps, dim: number, prefer: AnnKind = 'usearch', saved: string | null = null): Promise<{ index: AnnIndex; note?: string }> {
  const lazy: LazyReps = reps instanceof Float32Array ? { rows: reps.length / dim, get: () => reps } : reps;
  if (prefer === 'brute-force') return { index: new BruteForceIndex(lazy.get(), dim) };
  let index: UsearchLike;
  try {
    index = await newUsearch(dim);
  } catch (e) {
    return { index: new BruteForceIndex(lazy.get(), dim), note: `usearch unavailable (${(e as Error).message}); brute-force retrieval` };
  }
  const n = lazy.rows;
  if (saved) {
    let problem: string;
    try {
      index.view(saved);
      if (index.size() === n && index.dimensions() === dim) return { index: new UsearchIndex(index) };
      problem = `holds ${index.size()} x ${index.dimensions()}, the item table ${n} x ${dim}`;
    } catch (e) {
      problem = `cannot be loaded (${(e as Error).message})`;
    }
    const note = `saved ANN index ${saved} ${problem}: rebuilt`;
    index = await newUsearch(dim);
    await addRows(index, lazy.get(), dim);
    return { index: new UsearchIndex(index), note };
  }
  await addRows(index, lazy.get(), dim);
  return { index: new UsearchIndex(index) };
}
