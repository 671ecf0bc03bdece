// The HNSW index (usearch) over a bundle's item table, for /v1/retrieve. Built at export time and saved in the bundle
// (items/ann.usearch, hashed like every other file), so a serving process only loads it: building 10k items takes
// 0.5-2.5 s of synchronous native work, which on a hot reload would stall every request in flight. Bundles without
// the file (older ones, or usearch missing at export) are built at load time in slices that yield to the event loop.
// Shape letters: N items, I rep width.
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/** The part of usearch's Index this project uses. */
export interface UsearchLike {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
  search(q: Float32Array, k: number, threads: number): { keys: BigUint64Array };
  size(): number;
  dimensions(): number;
  save(path: string): void;
  load(path: string): void;
}

/** Inner-product HNSW; keys are table rows. The same parameters at export and at load. */
const PARAMS = { metric: 'ip', connectivity: 16, quantization: 'f32', expansion_add: 128, expansion_search: 64, multi: false };

/** An empty index of width `dim`; throws when usearch cannot be loaded (its message says why). */
export async function newUsearch(dim: number): Promise<UsearchLike> {
  const mod = (await import('usearch')) as unknown as { default: { Index: new (c: object) => UsearchLike } };
  return new mod.default.Index({ ...PARAMS, dimensions: dim });
}

/**
 * Adds rows [0, N) of reps [N, I] to the index, `slice` rows per synchronous call with a turn of the event loop in
 * between (slice = N: one call).
 */
export async function addRows(index: UsearchLike, reps: Float32Array, dim: number, slice = 256): Promise<void> {
  const n = reps.length / dim;
  for (let at = 0; at < n; at += slice) {
    const m = Math.min(slice, n - at);
    index.add(BigUint64Array.from({ length: m }, (_, i) => BigInt(at + i)), reps.subarray(at * dim, (at + m) * dim), 1);
    if (at + m < n) await yieldToLoop();
  }
}

/** Builds the index over reps [N, I] and saves it to `path`; false (nothing written) when usearch is unavailable. */
export async function saveAnnIndex(reps: Float32Array, dim: number, path: string): Promise<boolean> {
  let index: UsearchLike;
  try {
    index = await newUsearch(dim);
  } catch {
    return false;
  }
  await addRows(index, reps, dim, reps.length / dim || 1);
  try {
    index.save(path);
  } catch (e) {
    // usearch reports only "Failed to serialize into stream": name the file, and the full disk when it is one
    const s = statfsSync(dirname(path));
    const full = s.bavail * s.bsize < reps.byteLength + 65536;
    throw Object.assign(new Error(`${full ? 'ENOSPC: no space left on device, ' : ''}cannot write the ANN index ${path} (usearch: ${(e as Error).message})`),
      full ? { code: 'ENOSPC' } : {});
  }
  return true;
}
