// A bundle's id file (items/ids.bin, users/ids.bin): the ids in row order, so id -> row is a hash probe and row -> id
// reads that id's bytes, both in place in the file's bytes (mapped where the native addon can): opening costs the
// same at any count, nothing per id reaches the JS heap, and the serving processes of a host share the pages. Two
// layouts, told apart by the header's version; export writes layout 2, and both are read:
//   0-7    magic PRIDSBIN
//   8-11   u32 layout version: 1 or 2
//   12-15  u32 N, the id count
//   16-19  u32 C, the slot count (a power of two >= 1.5 N, >= 8)
//   20-23  u32 B, the blob's byte count
// Layout 1: bytes 24-31 zero, then from 32 a string table (string-table.ts: offsets u32 [N + 1], slots u32 [C][2],
// blob). Layout 2: ids of up to 11 bytes inline in 16-byte slots, one cache line per lookup (inline-id-table.ts).
import { ArrayKeyIndex, type KeyIndex } from '../data/vocabulary.js';
import { MemoryBytes } from './byte-source.js';
import { INLINE_HEADER, InlineIdTable, inlineIdTableBytes, inlineIdTableFrom, inlineLayout } from './inline-id-table.js';
import { buildStringTable, StringTable, tableLayout } from './string-table.js';

export const ID_TABLE_MAGIC = 'PRIDSBIN';
/** The layout export writes; the layouts this prerank reads are 1 and 2. */
export const ID_TABLE_VERSION = 2;
export type IdTableLayout = 1 | 2;
export const ID_TABLE_HEADER = 32;
const HEADER = ID_TABLE_HEADER;

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

/** An id file's bytes in a layout (default: the current one); `what` names it in errors (a duplicate or malformed id). */
export function idTableBytes(ids: readonly string[], what: string, layout: IdTableLayout = ID_TABLE_VERSION): Uint8Array {
  let bytes: Uint8Array;
  if (layout === 2) {
    bytes = inlineIdTableBytes(ids, what);
  } else {
    const t = buildStringTable(ids, what);
    bytes = new Uint8Array(HEADER + t.bytes.byteLength);
    bytes.set(t.bytes, HEADER);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(12, t.desc.count, true);
    dv.setUint32(16, t.desc.capacity, true);
    dv.setUint32(20, t.desc.blobBytes, true);
  }
  return stamp(bytes, layout);
}

function stamp(bytes: Uint8Array, layout: IdTableLayout): Uint8Array {
  for (let i = 0; i < 8; i++) bytes[i] = ID_TABLE_MAGIC.charCodeAt(i);
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, layout, true);
  return bytes;
}

/**
 * An id file's bytes in layout 2, from a file in either layout (checked as readIdTable does): the same ids in the
 * same rows. Converting a layout-1 file reuses its offsets and bytes; only the slots are built.
 */
export function upgradeIdTableBytes(bytes: Uint8Array, what: string): Uint8Array {
  const h = readHeader(bytes, what);
  checkedTable(bytes, h, h.count, what);
  if (h.version === 2) return bytes;
  const lay = tableLayout(h);
  const own = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  const offsets = new Uint32Array(own.buffer, own.byteOffset + HEADER, h.count + 1);
  const blob = own.subarray(HEADER + lay.blob, HEADER + lay.blob + h.blobBytes);
  return stamp(inlineIdTableFrom(offsets, blob, what), 2);
}

interface Header {
  version: number;
  count: number;
  capacity: number;
  blobBytes: number;
}

function readHeader(bytes: Uint8Array, what: string): Header {
  const fail = (msg: string) => new Error(`${what}: ${msg}`);
  if (bytes.byteLength < HEADER) throw fail(`${bytes.byteLength} bytes, shorter than the ${HEADER}-byte header`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== ID_TABLE_MAGIC) throw fail(`not an id table (magic ${JSON.stringify(magic)}, expected ${ID_TABLE_MAGIC})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
  const version = dv.getUint32(8, true);
  if (version !== 1 && version !== 2) throw fail(`layout version ${version}; this prerank reads versions 1 and 2 (a newer prerank wrote it, or the file is damaged)`);
  return { version, count: dv.getUint32(12, true), capacity: dv.getUint32(16, true), blobBytes: dv.getUint32(20, true) };
}

/** The table of a file whose header is h, after checking the count, the slot count and the file's length. */
function checkedTable(bytes: Uint8Array, h: Header, count: number, what: string): Ids {
  const fail = (msg: string) => new Error(`${what}: ${msg}`);
  if (h.count !== count) throw fail(`holds ${h.count} ids, the manifest says ${count}`);
  const c = h.capacity;
  if (c < 8 || (c & (c - 1)) !== 0 || c < 1.5 * h.count) throw fail(`slot count ${c} is not a power of two >= 1.5 x ${h.count}`);
  const want = h.version === 2 ? inlineLayout(h).bytes : HEADER + tableLayout(h).bytes;
  if (bytes.byteLength !== want) throw fail(`${bytes.byteLength} bytes, expected ${want} for ${h.count} ids of ${h.blobBytes} bytes (layout ${h.version})`);
  if (h.version === 2) {
    const header = bytes.subarray(24, INLINE_HEADER);
    if (header.some((x) => x !== 0)) throw fail('bytes 24-63 of a layout-2 header are not zero');
    return new InlineIdTable(new MemoryBytes(bytes), h, what);
  }
  return new StringTable(new MemoryBytes(bytes), { at: HEADER, ...h }, what);
}

/**
 * The ids of an id file's bytes (a mapping or a heap buffer starting on an 8-byte boundary), read in place. Checks
 * the header, that the count is `count` and that the table fills the file exactly; throws naming `what` otherwise.
 */
export function readIdTable(bytes: Uint8Array, count: number, what: string): Ids {
  return checkedTable(bytes, readHeader(bytes, what), count, what);
}
