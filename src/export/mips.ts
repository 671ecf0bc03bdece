// Maximum inner product search as nearest-neighbour search (Bachrach et al. 2014, "Speeding up the Xbox recommender
// system using a Euclidean transformation for inner-product spaces"; Neyshabur & Srebro 2015): each index vector v
// gets one more coordinate sqrt(M^2 - |v|^2), M the largest norm, and the query q a 0 there. Every augmented vector
// then has norm M and <[q, 0], [v, .]> = <q, v>, so the nearest augmented vectors (by angle, which is what HNSW's
// graph is built for) are the largest inner products. On the raw vectors an inner-product graph links each vector
// mostly to long ones (inner product is not a distance: a short vector is not its own nearest neighbour), and the
// short vectors that are some query's best answer are never reached. The augmented vectors are stored divided by M
// (unit vectors): an index similarity s (usearch's inner product, 1 - distance) is <q, v> = s * M.
// Shape letters: N vectors, P vector width.
import type { IndexVectors } from './manifest.js';

/**
 * <rows[i], q> for every row of rows [N, P], summed in float64, into `out` when given (a Float64Array keeps the sums
 * exact enough that near-ties keep their order).
 */
export function innerProducts<T extends Float32Array | Float64Array = Float32Array>(rows: Float32Array, dim: number, q: ArrayLike<number>,
  out: T = new Float32Array(rows.length / dim) as T): T {
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += rows[i * dim + j] * q[j];
    out[i] = s;
  }
  return out;
}

/** The largest L2 norm among the rows [N, P] of x (0 for none). */
export function maxNorm(x: Float32Array, p: number): number {
  let m = 0;
  for (let at = 0; at < x.length; at += p) {
    let s = 0;
    for (let j = 0; j < p; j++) s += x[at + j] * x[at + j];
    if (s > m) m = s;
  }
  return Math.sqrt(m);
}

/** Rows [N, P] -> [N, P + 1]: [v, sqrt(M^2 - |v|^2)] / M (the zero vector when M is 0). */
export function augmentRows(x: Float32Array, p: number, m: number, out = new Float32Array((x.length / p) * (p + 1))): Float32Array {
  const inv = m > 0 ? 1 / m : 0;
  for (let r = 0, at = 0; at < x.length; r++, at += p) {
    let s = 0;
    const o = r * (p + 1);
    for (let j = 0; j < p; j++) {
      const v = x[at + j] * inv;
      out[o + j] = v;
      s += v * v;
    }
    out[o + p] = Math.sqrt(Math.max(0, 1 - s));
  }
  return out;
}

/** A query q [P] as the augmented index searches it: [q, 0]. */
export function augmentQuery(q: ArrayLike<number>): Float32Array {
  const out = new Float32Array(q.length + 1);
  out.set(q);
  return out;
}

/** How new indexes hold the rows [N, P] of x: augmented with their largest norm. */
export const augmentedVectors = (x: Float32Array, p: number): IndexVectors => ({ kind: 'augmented', maxNorm: maxNorm(x, p) });

/** The similarity <q, v> of an index hit from usearch's inner-product distance d (1 - the stored vectors' dot). */
export const similarityOf = (d: number, vectors: IndexVectors | undefined): number => (1 - d) * (vectors ? vectors.maxNorm : 1);
