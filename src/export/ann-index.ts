// The HNSW index (usearch) over a bundle's item table, for /v1/retrieve. Built at export time and saved in the bundle
// (items/ann.usearch, hashed like every other file), so a serving process only maps it (usearch's view: the workers of
// one host share its pages): building 10k items takes 0.5-2.5 s of synchronous native work, which on a hot reload
// would stall every request in flight. The export builds on every core (usearch's threads), or on one below 16k rows
// so that small exports repeat exactly. Bundles without the file (older ones, or usearch missing at export) are built
// at load time in slices that yield to the event loop.
// Shape letters: N items, I rep width.
import { statfsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { IndexVectors } from './manifest.js';
import { augmentRows } from './mips.js';

/** The part of usearch's Index this project uses. */
export interface UsearchLike {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
  /** One query: its hits; several ([Q, dim]): `k` slots per query, `counts` filled (ip distance = 1 - dot). */
  search(q: Float32Array, k: number, threads: number): { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array };
  size(): number;
  dimensions(): number;
  save(path: string): void;
  load(path: string): void;
  /** Maps a saved index read-only instead of reading it: the processes of one host share its pages. */
  view(path: string): void;
}

/** Inner-product HNSW; keys are table rows. The same parameters at export and at load. */
const PARAMS = { metric: 'ip', connectivity: 16, quantization: 'f32', expansion_add: 128, expansion_search: 512, multi: false };

/** usearch settings an index may override (the multi-vector head index: src/export/retrieval-index.ts). */
export interface UsearchParams {
  quantization?: 'f32' | 'f16' | 'i8';
  connectivity?: number;
  expansion_add?: number;
  expansion_search?: number;
}

/** An empty index of width `dim`; throws when usearch cannot be loaded (its message says why). */
export async function newUsearch(dim: number, params: UsearchParams = {}): Promise<UsearchLike> {
  const mod = (await import('usearch')) as unknown as { default: { Index: new (c: object) => UsearchLike } };
  return new mod.default.Index({ ...PARAMS, ...params, dimensions: dim });
}

/**
 * Threads an index build of `rows` vectors uses by default: one per core the process may run on, and one below
 * SERIAL_BUILD_ROWS. A multi-threaded build links the graph in whatever order the threads insert, so two exports of
 * the same table give different graphs and different approximate answers; a one-thread build is the same graph every
 * time, and below this size it costs at most about a second more (16k random 65-wide rows: 2.2 s on one Zen 5 core,
 * 1.6 s on two; 10k 33-wide: 0.8 s against 0.5 s).
 */
export const annThreads = (rows = Infinity): number => (rows < SERIAL_BUILD_ROWS ? 1 : availableParallelism());
export const SERIAL_BUILD_ROWS = 16_384;

/** Build progress: rows added so far of N, seconds since the build started. */
export type AnnProgress = (done: number, total: number, seconds: number) => void;

/**
 * Adds rows [0, N) of reps [N, I] to the index (augmented a slice at a time when `vectors` says so: the index is
 * then I + 1 wide), `slice` rows per synchronous call with a turn of the event loop in
 * between (slice = N: one call), each call spread over `threads` threads by usearch. One index must always be fed
 * with the same thread count: usearch sizes its per-thread state when it grows.
 */
export async function addRows(index: UsearchLike, reps: Float32Array, dim: number, slice = 256, threads = 1, progress?: AnnProgress, vectors?: IndexVectors): Promise<void> {
  const n = reps.length / dim;
  const t0 = performance.now();
  for (let at = 0; at < n; at += slice) {
    const m = Math.min(slice, n - at);
    const rows = reps.subarray(at * dim, (at + m) * dim);
    index.add(BigUint64Array.from({ length: m }, (_, i) => BigInt(at + i)), vectors ? augmentRows(rows, dim, vectors.maxNorm) : rows, threads);
    progress?.(at + m, n, (performance.now() - t0) / 1000);
    if (at + m < n) await yieldToLoop();
  }
}

/** A status line redrawn on stderr when it is a terminal (not under CI); undefined otherwise, so nothing is printed. */
export function ttyAnnProgress(): AnnProgress | undefined {
  if (!process.stderr.isTTY || process.env.CI) return undefined;
  let last = 0;
  return (done, total, seconds) => {
    if (done < total && seconds - last < 0.2) return;
    last = seconds;
    const pct = total ? Math.floor((100 * done) / total) : 100;
    process.stderr.write(`\r\x1b[KANN index: ${pct}% (${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} items, ${seconds.toFixed(1)} s)`);
    if (done === total) process.stderr.write('\n');
  };
}

export interface AnnBuildOptions {
  /** Threads of the build (default: annThreads(rows)). */
  threads?: number;
  /** Called after each slice of rows (default: ttyAnnProgress()). */
  progress?: AnnProgress;
}

/**
 * Builds the index over reps [N, I] (augmented when `vectors` says so), saves it to `path` and returns it (the graph
 * the file holds, for searches at export); null (nothing written) when usearch is unavailable.
 * Rows go in slices of ~1% (at least 1,024) so progress can be shown; each slice is spread over the threads.
 */
export async function saveAnnIndex(reps: Float32Array, dim: number, path: string, o: AnnBuildOptions & { params?: UsearchParams; vectors?: IndexVectors } = {}): Promise<UsearchLike | null> {
  let index: UsearchLike;
  try {
    index = await newUsearch(o.vectors ? dim + 1 : dim, o.params);
  } catch {
    return null;
  }
  const n = reps.length / dim;
  const progress = 'progress' in o ? o.progress : ttyAnnProgress();
  await addRows(index, reps, dim, Math.max(1024, Math.ceil(n / 100)), o.threads ?? annThreads(n), progress, o.vectors);
  try {
    index.save(path);
  } catch (e) {
    // usearch reports only "Failed to serialize into stream": name the file, and the full disk when it is one
    const s = statfsSync(dirname(path));
    const full = s.bavail * s.bsize < reps.byteLength + 65536;
    throw Object.assign(new Error(`${full ? 'ENOSPC: no space left on device, ' : ''}cannot write the ANN index ${path} (usearch: ${(e as Error).message})`),
      full ? { code: 'ENOSPC' } : {});
  }
  return index;
}
