// A bundle's id file (items/ids.bin, users/ids.bin): the ids in row order as one string table (string-table.ts), so
// id -> row is a hash probe and row -> id reads that key's bytes, both in place in the file's bytes (mapped where
// the native addon can): opening costs the same at any count, nothing per id reaches the JS heap, and the serving
// processes of a host share the pages. Layout, little-endian:
//   0-7    magic PRIDSBIN
//   8-11   u32 layout version (1)
//   12-15  u32 N, the id count
//   16-19  u32 C, the slot count (a power of two >= 1.5 N, >= 8)
//   20-23  u32 B, the blob's byte count
//   24-31  zero
//   32-    the string table: offsets u32 [N + 1], slots u32 [C][2], blob (string-table.ts)
import { ArrayKeyIndex, type KeyIndex } from '../data/vocabulary.js';
import { MemoryBytes } from './byte-source.js';
import { StringTable, tableLayout } from './string-table.js';

export const ID_TABLE_MAGIC = 'PRIDSBIN';
export const ID_TABLE_VERSION = 1;
export const ID_TABLE_HEADER = 32;

/** Ids as a KeyIndex: row -> id (keyAt) and id -> row (indexOf, -1 when unknown). */
export type Ids = KeyIndex;

/** A string array as Ids (the id -> row map is built on the first lookup); Ids pass through. */
export function idsOf(ids: readonly string[] | Ids): Ids {
  return Array.isArray(ids) ? new ArrayKeyIndex(ids as readonly string[]) : (ids as Ids);
}

/** The first n ids (n is clamped to the count). */
export function firstIds(ids: Ids, n: number): string[] {
  return Array.from({ length: Math.min(n, ids.size) }, (_, r) => ids.keyAt(r));
}

/**
 * The ids of an id file's bytes (a mapping or a heap buffer starting on an 8-byte boundary), read in place. Checks
 * the header, that the count is `count` and that the table fills the file exactly; throws naming `what` otherwise.
 */
export function readIdTable(bytes: Uint8Array, count: number, what: string): Ids {
  const fail = (msg: string) => new Error(`${what}: ${msg}`);
  if (bytes.byteLength < ID_TABLE_HEADER) throw fail(`${bytes.byteLength} bytes, shorter than the ${ID_TABLE_HEADER}-byte header`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== ID_TABLE_MAGIC) throw fail(`not an id table (magic ${JSON.stringify(magic)}, expected ${ID_TABLE_MAGIC})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, ID_TABLE_HEADER);
  const version = dv.getUint32(8, true);
  if (version !== ID_TABLE_VERSION) throw fail(`layout version ${version}; this prerank reads version ${ID_TABLE_VERSION} (re-export the bundle)`);
  const desc = { at: ID_TABLE_HEADER, count: dv.getUint32(12, true), capacity: dv.getUint32(16, true), blobBytes: dv.getUint32(20, true) };
  if (desc.count !== count) throw fail(`holds ${desc.count} ids, the manifest says ${count}`);
  const { capacity: c } = desc;
  if (c < 8 || (c & (c - 1)) !== 0 || c < 1.5 * desc.count) throw fail(`slot count ${c} is not a power of two >= 1.5 x ${desc.count}`);
  const want = ID_TABLE_HEADER + tableLayout(desc).bytes;
  if (bytes.byteLength !== want) throw fail(`${bytes.byteLength} bytes, expected ${want} for ${desc.count} ids of ${desc.blobBytes} bytes`);
  return new StringTable(new MemoryBytes(bytes), desc, what);
}
