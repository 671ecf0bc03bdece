// Centroids of the item head vectors for multi-vector (max-sim) retrieval, as PLAID indexes ColBERTv2's token vectors
// (Santhanam et al. 2022, "PLAID: an efficient engine for late interaction retrieval"): k-means over a sample of the
// head vectors, every head vector assigned to its nearest centroid (its code), and inverted lists from each centroid
// to the items with a head there. A query scores every centroid with each of its query vectors (one small GEMM),
// takes the items of the best lists, ranks them by the max-sim score with each item head replaced by its centroid
// (native centroidMaxSim) and rescores the best exactly (src/export/centroid-source.ts). Unlike PLAID there
// are no residuals: the exact rescoring reads the item table itself.
// Saved as items/heads.ivf: a header of 8 int32 (magic, version, C, P, N, H, T = list entries, 0), then centroids
// float32 [C, P], offsets int32 [C + 1], lists int32 [T] (list c = lists[offsets[c], offsets[c + 1]), item rows
// ascending, each once) and codes uint16 [N, H].
// Shape letters: N items, H item heads, P head size, C centroids, V = N * H head vectors.
import { readFile, writeFile } from 'node:fs/promises';
import { kernelsFor, Rng } from '../core/index.js';

export interface HeadCentroids {
  /** [C, P] */
  centroids: Float32Array;
  size: number;
  heads: number;
  /** Nearest centroid of each head vector [N, H]. */
  codes: Uint16Array;
  /** [C + 1]: list c is lists[offsets[c], offsets[c + 1]). */
  offsets: Int32Array;
  lists: Int32Array;
}

/** Codes are uint16: at most this many centroids. */
export const MAX_CENTROIDS = 65_536;
const MAGIC = 0x46564950; // 'PIVF'
const VERSION = 1;
/** Head vectors scored against the centroids per GEMM (its score block is this many rows x C floats). */
const BLOCK = 2048;

/**
 * The centroids a head index of V vectors gets by default: the power of two nearest sqrt(V), in [16, 16,384]
 * (2,048 for IntTower's 8M head vectors at 1M items), never more than V.
 */
export const defaultCentroids = (v: number): number => Math.max(1, Math.min(v, 2 ** Math.min(14, Math.max(4, Math.round(Math.log2(Math.sqrt(v)))))));

/**
 * out[i] = the centroid nearest (L2) to row i of x [M, P], of centroids [C, P]: the largest <x_i, c> - |c|^2 / 2, by
 * the engine's GEMM and group max (native for float32), in blocks of BLOCK rows; ties go to the lower centroid.
 */
export function nearestCentroids(x: Float32Array, p: number, centroids: Float32Array, out: Int32Array | Uint16Array): void {
  const m = x.length / p, c = centroids.length / p;
  const bias = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let d = 0; d < p; d++) s += centroids[j * p + d] ** 2;
    bias[j] = -s / 2;
  }
  const k = kernelsFor(x, centroids);
  const scores = new Float32Array(Math.min(BLOCK, m) * c), best = new Float32Array(Math.min(BLOCK, m)), arg = new Int32Array(best.length);
  for (let at = 0; at < m; at += BLOCK) {
    const b = Math.min(BLOCK, m - at);
    // [b, P] x [C, P]^T + bias -> [b, C]
    k.gemm(false, true, b, c, p, 1, x.subarray(at * p, (at + b) * p), p, centroids, p, 0, scores, c, bias, false);
    k.groupMaxSum(1, b, c, scores.subarray(0, b * c), best.subarray(0, b), arg.subarray(0, b));
    out.set(arg.subarray(0, b), at);
  }
}

/**
 * C centroids of the rows of x [V, P] by Lloyd's k-means on a sample of `sample` rows (drawn with replacement), from
 * C sampled rows; a centroid left empty restarts at a random sampled row. Deterministic for a seed.
 */
export function kmeans(x: Float32Array, p: number, c: number, o: { iterations?: number; seed?: number; sample?: number } = {}): Float32Array {
  const v = x.length / p;
  if (!Number.isInteger(c) || c < 1 || c > v) throw new Error(`kmeans: centroids must be an integer in 1..${v} (the rows), got ${c}`);
  const rng = new Rng(o.seed ?? 1);
  const m = Math.max(c, Math.min(v, o.sample ?? 64 * c));
  const s = new Float32Array(m * p);
  for (let i = 0; i < m; i++) {
    const r = m === v ? i : rng.int(v);
    s.set(x.subarray(r * p, (r + 1) * p), i * p);
  }
  // the first C rows of a shuffled sample: distinct draws unless the rows repeat
  const order = Int32Array.from({ length: m }, (_, i) => i);
  for (let i = m - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cent = new Float32Array(c * p);
  for (let j = 0; j < c; j++) cent.set(s.subarray(order[j] * p, (order[j] + 1) * p), j * p);
  const assign = new Int32Array(m), sums = new Float64Array(c * p), counts = new Int32Array(c);
  for (let it = 0; it < (o.iterations ?? 8); it++) {
    nearestCentroids(s, p, cent, assign);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < m; i++) {
      const a = assign[i];
      counts[a]++;
      for (let d = 0; d < p; d++) sums[a * p + d] += s[i * p + d];
    }
    for (let j = 0; j < c; j++) {
      if (counts[j] === 0) {
        const r = rng.int(m);
        cent.set(s.subarray(r * p, (r + 1) * p), j * p);
      } else {
        for (let d = 0; d < p; d++) cent[j * p + d] = sums[j * p + d] / counts[j];
      }
    }
  }
  return cent;
}

/** Inverted lists of codes [N, H] over C centroids: the items with a head at each centroid, ascending, each once. */
export function invertedLists(codes: Uint16Array, heads: number, c: number): { offsets: Int32Array; lists: Int32Array } {
  const n = codes.length / heads;
  const offsets = new Int32Array(c + 1);
  const first = (r: number, h: number): boolean => {
    for (let g = 0; g < h; g++) if (codes[r * heads + g] === codes[r * heads + h]) return false;
    return true;
  };
  for (let r = 0; r < n; r++) for (let h = 0; h < heads; h++) if (first(r, h)) offsets[codes[r * heads + h] + 1]++;
  for (let j = 0; j < c; j++) offsets[j + 1] += offsets[j];
  const lists = new Int32Array(offsets[c]);
  const fill = offsets.slice(0, c);
  for (let r = 0; r < n; r++) for (let h = 0; h < heads; h++) if (first(r, h)) lists[fill[codes[r * heads + h]]++] = r;
  return { offsets, lists };
}

/** The centroid index of head vectors [N * H, P] (row r * H + h: head h of item r) with C centroids. */
export function buildHeadCentroids(vectors: Float32Array, p: number, heads: number, c: number, o: { iterations?: number; seed?: number; sample?: number } = {}): HeadCentroids {
  if (c > MAX_CENTROIDS) throw new Error(`head centroids: at most ${MAX_CENTROIDS} centroids (uint16 codes), got ${c}`);
  const centroids = kmeans(vectors, p, c, o);
  const codes = new Uint16Array(vectors.length / p);
  nearestCentroids(vectors, p, centroids, codes);
  return { centroids, size: p, heads, codes, ...invertedLists(codes, heads, c) };
}

/** Writes the index to `path` (the format above). */
export async function saveHeadCentroids(h: HeadCentroids, path: string): Promise<void> {
  const c = h.centroids.length / h.size, n = h.codes.length / h.heads;
  const header = Int32Array.of(MAGIC, VERSION, c, h.size, n, h.heads, h.lists.length, 0);
  const parts = [header, h.centroids, h.offsets, h.lists, h.codes].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  await writeFile(path, Buffer.concat(parts));
}

/** Reads an index written by saveHeadCentroids, checked whole against the table's N, H and P; errors name the file. */
export async function loadHeadCentroids(path: string, want: { items: number; heads: number; size: number }): Promise<HeadCentroids> {
  const buf = await readFile(path);
  const bytes = new Uint8Array(new ArrayBuffer(buf.length));
  bytes.set(buf);
  const fail = (what: string): never => {
    throw new Error(`${path}: not a head centroid index for this table: ${what}`);
  };
  if (bytes.length < 32) fail(`${bytes.length} bytes, shorter than its header`);
  const [magic, version, c, p, n, heads, t] = new Int32Array(bytes.buffer, 0, 8);
  if (magic !== MAGIC || version !== VERSION) fail(`magic/version ${magic}/${version}, expected ${MAGIC}/${VERSION}`);
  if (n !== want.items || heads !== want.heads || p !== want.size) fail(`it holds ${n} items x ${heads} heads of ${p}, the table ${want.items} x ${want.heads} of ${want.size}`);
  if (!(c >= 1 && c <= MAX_CENTROIDS) || !(t >= 0)) fail(`${c} centroids, ${t} list entries`);
  const expect = 32 + 4 * (c * p + c + 1 + t) + 2 * n * heads;
  if (bytes.length !== expect) fail(`${bytes.length} bytes, expected ${expect}`);
  let at = 32;
  const take = <T>(make: (b: ArrayBuffer, o: number, l: number) => T, len: number, width: number): T => {
    const a = make(bytes.buffer, at, len);
    at += len * width;
    return a;
  };
  const centroids = take((b, o, l) => new Float32Array(b, o, l), c * p, 4);
  const offsets = take((b, o, l) => new Int32Array(b, o, l), c + 1, 4);
  const lists = take((b, o, l) => new Int32Array(b, o, l), t, 4);
  const codes = take((b, o, l) => new Uint16Array(b, o, l), n * heads, 2);
  if (offsets[0] !== 0 || offsets[c] !== t) fail(`offsets run from ${offsets[0]} to ${offsets[c]}, expected 0 to ${t}`);
  for (let j = 0; j < c; j++) if (offsets[j + 1] < offsets[j]) fail(`offsets[${j + 1}] < offsets[${j}]`);
  for (let i = 0; i < t; i++) if (!(lists[i] >= 0 && lists[i] < n)) fail(`lists[${i}] = ${lists[i]} is not an item row`);
  for (let i = 0; i < codes.length; i++) if (codes[i] >= c) fail(`codes[${i}] = ${codes[i]} is not below ${c} centroids`);
  return { centroids, size: p, heads, codes, offsets, lists };
}
