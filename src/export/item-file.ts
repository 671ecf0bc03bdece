// Bundle files read in place (bundleFile: the item table, id tables, weights, stored user encodings), and opening
// the item table. items/reps.bin is the [N, I] matrix from byte 0 (items/scales.bin the [N] float32
// scales of an int8 table), so a mapping puts the matrix on a page boundary; the serving kernels read rows with
// unaligned SIMD loads, so a row's own offset (r * I * bytes) needs no alignment. Mapped, opening costs the same at
// any N and the processes of one host share the pages; without the native addon the files are read into the heap.
// The sha256 check of a mapped file may be deferred: it reads every page, which is what a size-independent open avoids.
import { join } from 'node:path';
import type { Ids } from './id-table.js';
import { ITEM_DTYPES, rowBytes, tableFromBytes, type ItemTable } from './item-table.js';
import { FILES, sha256Async, type BundleManifest } from './manifest.js';
import { canMap, mapFile, type MapAdvice } from './mapped-file.js';

/** 'load': every file's sha256 is checked before the table is returned; 'defer': the mapped files' checks are left to the caller. */
export type ItemVerify = 'load' | 'defer';

/** A mapped file whose sha256 has not been checked against the manifest yet. */
export interface UncheckedFile {
  rel: string;
  buf: ArrayBuffer;
}

export interface ItemFileOptions {
  /** Map the files (default: when the addon can); false reads them into the heap. */
  map?: boolean;
  verify?: ItemVerify;
  /** Reads a bundle file into the heap, checked against the manifest (the bundle's own reader). */
  read: (rel: string) => Promise<Buffer>;
  /** The bundle's error for a message about it. */
  fail: (message: string) => Error;
}

/**
 * A bundle file's bytes, read in place: mapped read-only (its sha256 checked now, or added to `unchecked` when
 * verify is 'defer'), or read into the heap and checked when mapping is off or unavailable. A DataView, not a
 * Uint8Array: a typed array view is capped at 2^32 elements, a mapped table may be larger (a Float32Array over it is not).
 */
export async function bundleFile(dir: string, m: BundleManifest, rel: string, o: ItemFileOptions, unchecked: UncheckedFile[],
  advice: MapAdvice = 'random'): Promise<ArrayBufferView> {
  if (!(o.map ?? canMap())) return o.read(rel);
  if (!m.files[rel]) throw o.fail(`manifest.json lists no hash for ${rel}`);
  let buf: ArrayBuffer;
  try {
    buf = mapFile(join(dir, rel), advice);
  } catch (e) {
    throw o.fail(`cannot map ${rel}: ${(e as Error).message}`);
  }
  if ((o.verify ?? 'load') === 'load') await checkMapped(m, [{ rel, buf }], o.fail);
  else unchecked.push({ rel, buf });
  return new DataView(buf);
}

/** The table of a bundle whose manifest says items are cached, and the files still to check when verify = 'defer'. */
export async function openItemTable(dir: string, m: BundleManifest, ids: Ids, o: ItemFileOptions): Promise<{ table: ItemTable; unchecked: UncheckedFile[] }> {
  if (!m.items.cached) throw o.fail('the manifest says the item table is not cached');
  const { dim, dtype } = m.items;
  if (!ITEM_DTYPES.includes(dtype)) throw o.fail(`unknown item table dtype '${dtype}'`);
  const n = ids.size;
  const repsWant = n * (dtype === 'int8' ? dim : rowBytes(dtype, dim));
  const unchecked: UncheckedFile[] = [];
  // sizes are checked before any hash: a mapped file of the wrong size is refused without reading it
  const file = async (rel: string, want: number, what: string): Promise<ArrayBufferView> => {
    const b = await bundleFile(dir, m, rel, { ...o, verify: 'defer' }, unchecked);
    if (b.byteLength !== want) throw o.fail(`${rel} has ${b.byteLength} bytes, expected ${want} (${what})`);
    return b;
  };
  const reps = await file(FILES.itemReps, repsWant, `${n} items x ${dim} ${dtype}`);
  const scales = dtype === 'int8' ? await file(FILES.itemScales, n * 4, `${n} float32 scales`) : undefined;
  if ((o.verify ?? 'load') === 'load') await checkMapped(m, unchecked.splice(0), o.fail);
  const table = tableFromBytes(ids, dim, dtype, reps, scales);
  if (o.map ?? canMap()) table.mapped = true;
  return { table, unchecked };
}

/** Checks mapped files against the manifest's sha256; throws the bundle's error naming the first that differs. */
export async function checkMapped(m: BundleManifest, files: readonly UncheckedFile[], fail: (message: string) => Error): Promise<void> {
  for (const f of files) {
    const expected = m.files[f.rel];
    const got = await sha256Async(new DataView(f.buf));
    if (got !== expected) throw fail(`${f.rel} does not match the manifest (sha256 ${got.slice(0, 16)}…, expected ${String(expected).slice(0, 16)}…): the file was changed or is corrupt`);
  }
}
