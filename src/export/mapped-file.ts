// Files mapped read-only into the process by the native addon (native/mmap.cc): an ArrayBuffer over the file's pages,
// so opening a table costs the same at any size and the processes of one host share one copy in the page cache.
// A write through such a buffer faults the process: only tables that are read, never written, are mapped.
import { nativeAddon } from '../core/kernels/native.js';
import { sha256Async } from './manifest.js';

/** How the pages will be read: 'random' (serving: rows in any order, no read-ahead) or 'sequential' (one pass). */
export type MapAdvice = 'random' | 'sequential' | 'normal';

interface MmapAddon {
  mapFile(path: string, advice: MapAdvice): ArrayBuffer;
}

/** True when files can be mapped here (the native addon loaded, on a POSIX system). */
export function canMap(): boolean {
  const a = nativeAddon() as unknown as Partial<MmapAddon> | null;
  return typeof a?.mapFile === 'function';
}

/** The whole file mapped read-only; throws naming the file (open, mmap) or when mapping is unavailable. */
export function mapFile(path: string, advice: MapAdvice = 'random'): ArrayBuffer {
  const a = nativeAddon() as unknown as Partial<MmapAddon> | null;
  if (typeof a?.mapFile !== 'function') throw new Error(`cannot map ${path}: the native addon is not loaded`);
  return a.mapFile(path, advice);
}

/** sha256 of a file through a sequential mapping (no heap copy; files past Node's 2 GiB readFile limit work). */
export async function sha256File(path: string): Promise<string> {
  return sha256Async(new DataView(mapFile(path, 'sequential')));
}
