// Opening a bundle's item table. items/reps.bin is the [N, I] matrix from byte 0 (items/scales.bin the [N] float32
// scales of an int8 table), so a mapping puts the matrix on a page boundary; the serving kernels read rows with
// unaligned SIMD loads, so a row's own offset (r * I * bytes) needs no alignment. Mapped, opening costs the same at
// any N and the processes of one host share the pages; without the native addon the files are read into the heap.
// The sha256 check of a mapped file may be deferred: it reads every page, which is what a size-independent open avoids.
import { join } from 'node:path';
import { ITEM_DTYPES, rowBytes, tableFromBytes, type ItemTable } from './item-table.js';
import { FILES, type BundleManifest } from './manifest.js';
import { canMap, mapFile, sha256Buffer } from './mapped-file.js';

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

/** The table of a bundle whose manifest says items are cached, and the files still to check when verify = 'defer'. */
export async function openItemTable(dir: string, m: BundleManifest, ids: string[], o: ItemFileOptions): Promise<{ table: ItemTable; unchecked: UncheckedFile[] }> {
  if (!m.items.cached) throw o.fail('the manifest says the item table is not cached');
  const { dim, dtype } = m.items;
  if (!ITEM_DTYPES.includes(dtype)) throw o.fail(`unknown item table dtype '${dtype}'`);
  const repsWant = ids.length * (dtype === 'int8' ? dim : rowBytes(dtype, dim));
  const sizeError = (rel: string, got: number, want: number, what: string) =>
    o.fail(`${rel} has ${got} bytes, expected ${want} (${what})`);
  if (!(o.map ?? canMap())) {
    const reps = await o.read(FILES.itemReps);
    if (reps.byteLength !== repsWant) throw sizeError(FILES.itemReps, reps.byteLength, repsWant, `${ids.length} items x ${dim} ${dtype}`);
    const scales = dtype === 'int8' ? await o.read(FILES.itemScales) : undefined;
    if (scales && scales.byteLength !== ids.length * 4) throw sizeError(FILES.itemScales, scales.byteLength, ids.length * 4, `${ids.length} float32 scales`);
    return { table: tableFromBytes(ids, dim, dtype, reps, scales), unchecked: [] };
  }
  const open = (rel: string, want: number, what: string): ArrayBuffer => {
    if (!m.files[rel]) throw o.fail(`manifest.json lists no hash for ${rel}`);
    let buf: ArrayBuffer;
    try {
      buf = mapFile(join(dir, rel), 'random');
    } catch (e) {
      throw o.fail(`cannot map ${rel}: ${(e as Error).message}`);
    }
    if (buf.byteLength !== want) throw sizeError(rel, buf.byteLength, want, what);
    return buf;
  };
  const reps = open(FILES.itemReps, repsWant, `${ids.length} items x ${dim} ${dtype}`);
  const scales = dtype === 'int8' ? open(FILES.itemScales, ids.length * 4, `${ids.length} float32 scales`) : undefined;
  const unchecked: UncheckedFile[] = [{ rel: FILES.itemReps, buf: reps }, ...(scales ? [{ rel: FILES.itemScales, buf: scales }] : [])];
  if ((o.verify ?? 'load') === 'load') await checkMapped(m, unchecked, o.fail);
  const data = dtype === 'float32' ? new Float32Array(reps) : dtype === 'int8' ? new Int8Array(reps) : new Uint16Array(reps);
  const table: ItemTable = { ids, dim, dtype, data, scales: scales ? new Float32Array(scales) : undefined, mapped: true };
  return { table, unchecked: o.verify === 'defer' ? unchecked : [] };
}

/** Checks mapped files against the manifest's sha256; throws the bundle's error naming the first that differs. */
export async function checkMapped(m: BundleManifest, files: readonly UncheckedFile[], fail: (message: string) => Error): Promise<void> {
  for (const f of files) {
    const expected = m.files[f.rel];
    const got = await sha256Buffer(f.buf);
    if (got !== expected) throw fail(`${f.rel} does not match the manifest (sha256 ${got.slice(0, 16)}…, expected ${String(expected).slice(0, 16)}…): the file was changed or is corrupt`);
  }
}
