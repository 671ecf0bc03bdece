// The centroid candidate generator for max-sim retrieval (PLAID's; src/export/head-centroids.ts): the query vectors
// score every centroid (one GEMM), each probes the inverted lists of its `nprobe` best centroids, and the union of
// the items found is cut to `maxCandidates` by the centroid max-sim score (each item head replaced by its centroid,
// every query vector against every head: native centroidMaxSim) before the exact rescoring.
// Shape letters: N items, H item heads, P head size, C centroids, Q query vectors, R = Q padded to a multiple of 16.
import { kernelsFor } from '../core/index.js';
import { topK } from '../eval/top-k.js';
import type { HeadCentroids } from './head-centroids.js';
import type { MultiVectorLayout, SearchDefaults } from './manifest.js';
import type { CandidateSource, QueryVectors } from './candidate-source.js';
import { nativeAddon } from '../core/kernels/native.js';

/** out[k] = sum over the R columns of max over h of st[codes[rows[k] * H + h], column] (the native kernel's contract). */
export function centroidMaxSimReference(st: Float32Array, rpad: number, codes: Uint16Array, heads: number, rows: Int32Array, out: Float32Array): void {
  for (let k = 0; k < rows.length; k++) {
    let s = 0;
    for (let r = 0; r < rpad; r++) {
      let m = -Infinity;
      for (let h = 0; h < heads; h++) m = Math.max(m, st[codes[rows[k] * heads + h] * rpad + r]);
      s += m;
    }
    out[k] = s;
  }
}

/**
 * The nprobe best centroids of each of the first q columns of st [C, R] (column a at a * nprobe...), as topK ranks
 * them (higher first, ties to the lower centroid, NaN last). st is read row by row: a column walk strides a whole
 * row per element. columns [q, C] is scratch for nprobe > 1.
 */
export function probesOf(st: Float32Array, rpad: number, c: number, q: number, nprobe: number, columns: Float32Array): Int32Array {
  const probes = new Int32Array(q * nprobe);
  if (nprobe === 1) {
    const best = new Float32Array(q);
    for (let a = 0; a < q; a++) best[a] = st[a];
    for (let j = 1, at = rpad; j < c; j++, at += rpad) {
      for (let a = 0; a < q; a++) {
        const v = st[at + a], b = best[a];
        // strictly higher wins (ties keep the lower centroid); a number beats a NaN, a NaN nothing
        if (v > b || (b !== b && v === v)) {
          best[a] = v;
          probes[a] = j;
        }
      }
    }
    return probes;
  }
  for (let j = 0, at = 0; j < c; j++, at += rpad)
    for (let a = 0; a < q; a++) columns[a * c + j] = st[at + a];
  for (let a = 0; a < q; a++) probes.set(topK(columns.subarray(a * c, (a + 1) * c), nprobe, undefined, 'last'), a * nprobe);
  return probes;
}

/** native centroidCandidates (native/serve_binding.cc): the probed lists' items, cut by centroid max-sim; the count written. */
type CentroidCandidates = (st: Float32Array, rpad: number, codes: Uint16Array, heads: number, offsets: Int32Array, lists: Int32Array,
  probes: Int32Array, stamp: Int32Array, tag: number, cap: number, out: Int32Array) => number;

export class CentroidSource implements CandidateSource {
  readonly kind = 'centroids';
  readonly index = 'multi-vector-centroids';
  private ix: HeadCentroids | null;
  private readonly items: number;
  private readonly c: number;
  private readonly rpad: number;
  /** [C, R]: each centroid's score with each query vector (columns past Q stay 0). */
  private readonly st: Float32Array;
  /** st transposed, [Q, C]: each query's scores for the top-nprobe selection (nprobe > 1). */
  private readonly columns: Float32Array;
  /** stamp[row] = the query that last gathered the row (dedup without clearing). */
  private readonly stamp: Int32Array;
  private query = 0;
  /** The native gather-and-cut, or null (no addon: the same in TypeScript, with the reference centroid max-sim). */
  private readonly native: CentroidCandidates | null;

  constructor(ix: HeadCentroids, private readonly layout: MultiVectorLayout, readonly defaults: SearchDefaults,
    private readonly queries: QueryVectors) {
    this.ix = ix;
    this.items = ix.codes.length / ix.heads;
    this.c = ix.centroids.length / ix.size;
    this.rpad = Math.ceil(layout.queries / 16) * 16;
    this.st = new Float32Array(this.c * this.rpad);
    this.columns = new Float32Array(this.c * layout.queries);
    this.stamp = new Int32Array(this.items);
    this.native = (nativeAddon() as unknown as { centroidCandidates?: CentroidCandidates } | null)?.centroidCandidates ?? null;
  }

  candidates(rep: Float32Array, _k: number, s: SearchDefaults): Int32Array {
    const ix = this.ix;
    if (!ix) throw new Error('centroid index is closed');
    const l = this.layout, c = this.c, rpad = this.rpad;
    const q = this.queries(rep);
    // [C, P] x [Q, P]^T -> st [C, R] (ldc R: the padding columns are never written)
    kernelsFor(ix.centroids, q).gemm(false, true, c, l.queries, l.size, 1, ix.centroids, l.size, q, l.size, 0, this.st, rpad, null, false);
    const nprobe = Math.min(c, Math.max(1, s.nprobe ?? this.defaults.nprobe ?? 1));
    if (++this.query === 2 ** 31 - 1) {
      this.query = 1;
      this.stamp.fill(0);
    }
    const tag = this.query;
    const probes = probesOf(this.st, rpad, c, l.queries, nprobe, this.columns);
    if (this.native) {
      const out = new Int32Array(s.maxCandidates);
      const m = this.native(this.st, rpad, ix.codes, ix.heads, ix.offsets, ix.lists, probes, this.stamp, tag, s.maxCandidates, out);
      return out.slice(0, m);
    }
    const found: number[] = [];
    for (const cent of probes) {
      for (let e = ix.offsets[cent]; e < ix.offsets[cent + 1]; e++) {
        const row = ix.lists[e];
        if (this.stamp[row] !== tag) {
          this.stamp[row] = tag;
          found.push(row);
        }
      }
    }
    const rows = Int32Array.from(found);
    if (rows.length <= s.maxCandidates) return rows.sort();
    const approx = new Float32Array(rows.length);
    centroidMaxSimReference(this.st, rpad, ix.codes, ix.heads, rows, approx);
    return Int32Array.from(topK(approx, s.maxCandidates, undefined, 'last'), (i) => rows[i]).sort();
  }

  close(): void {
    this.ix = null;
  }
}
