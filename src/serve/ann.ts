// Approximate nearest neighbours over the item table for /v1/retrieve: inner product, valid for models whose score is
// an increasing affine function of <user, item> (the export records whether it is: manifest items.retrieval).
// usearch (HNSW, prebuilt native addon) when it loads; else an exact brute-force scan with the same interface.
// Shape letters: N items, I rep width, K top-k.
import { topK } from '../eval/top-k.js';
import { addRows, newUsearch, type UsearchLike, type UsearchParams } from '../export/ann-index.js';
import type { IndexVectors } from '../export/manifest.js';
import { augmentQuery, innerProducts } from '../export/mips.js';

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
    return topK(innerProducts(this.reps, this.dim, q), k, undefined, 'last');
  }

  close(): void {}
}

export class UsearchIndex implements AnnIndex {
  readonly kind = 'usearch';
  /** vectors: how the index holds the rows (augmented: queries get a 0 appended). */
  constructor(private index: UsearchLike | null, private readonly vectors?: IndexVectors) {}

  get size(): number {
    return this.index?.size() ?? 0;
  }

  search(q: Float32Array, k: number): Int32Array {
    if (!this.index) throw new Error('usearch index is closed');
    const kk = Math.min(k, this.size);
    if (kk <= 0) return new Int32Array(0);
    const r = this.index.search(this.vectors ? augmentQuery(q) : q, kk, 1);
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
export async function buildAnnIndex(reps: Float32Array | LazyReps, dim: number, prefer: AnnKind = 'usearch', saved: string | null = null, vectors?: IndexVectors): Promise<{ index: AnnIndex; note?: string }> {
  const lazy: LazyReps = reps instanceof Float32Array ? { rows: reps.length / dim, get: () => reps } : reps;
  if (prefer === 'brute-force') return { index: new BruteForceIndex(lazy.get(), dim) };
  let empty: UsearchLike;
  try {
    empty = await newUsearch(vectors ? dim + 1 : dim);
  } catch (e) {
    return { index: new BruteForceIndex(lazy.get(), dim), note: `usearch unavailable (${(e as Error).message}); brute-force retrieval` };
  }
  const r = await openUsearch(empty, lazy, saved, { vectors });
  return { index: new UsearchIndex(r.index, vectors), note: r.note };
}

/**
 * `empty` (a new usearch index of width dim; dim - 1 + the augmented coordinate when `vectors` says so) filled with
 * `rows` [N, dim]: the saved index mapped read-only instead when
 * it holds N x dim, else built in slices of `slice` rows, with a note saying why the saved one was not used (`names`:
 * what the index and its rows are called there).
 */
export async function openUsearch(empty: UsearchLike, rows: LazyReps, saved: string | null,
  o: { params?: UsearchParams; slice?: number; names?: [index: string, rows: string]; vectors?: IndexVectors } = {}): Promise<{ index: UsearchLike; note?: string }> {
  const dim = empty.dimensions();
  const names = o.names ?? ['ANN index', 'item table'];
  let index = empty;
  let note: string | undefined;
  if (saved) {
    let problem: string;
    try {
      index.view(saved);
      if (index.size() === rows.rows && index.dimensions() === dim) return { index };
      problem = `holds ${index.size()} x ${index.dimensions()}, the ${names[1]} ${rows.rows} x ${dim}`;
    } catch (e) {
      problem = `cannot be loaded (${(e as Error).message})`;
    }
    note = `saved ${names[0]} ${saved} ${problem}: rebuilt`;
    index = await newUsearch(dim, o.params);
  }
  await addRows(index, rows.get(), o.vectors ? dim - 1 : dim, o.slice, 1, undefined, o.vectors);
  return { index, note };
}
