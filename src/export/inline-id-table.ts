// Layout 2 of an id file (id-table.ts writes the header's magic and version): ids of up to 11 UTF-8 bytes (most real
// ids: numbers, short codes) sit inline in their hash slot, so id -> row reads one cache line, where layout 1 reads
// three that each depend on the one before (slot, offsets, bytes). Longer ids keep their hash in the slot and are
// confirmed against the offsets and bytes, as in layout 1. Row -> id reads the offsets and bytes, as in layout 1.
// From the file's start, little-endian:
//   0-11     magic and version (id-table.ts)
//   12-15    u32 N, the id count
//   16-19    u32 C, the slot count (a power of two >= 1.5 N, >= 8)
//   20-23    u32 B, the bytes of all ids
//   24-63    zero
//   64-      slots [C] x 16 bytes, a cache line holding four: u32 1 + row (0: empty) | u8 L | 11 bytes, where L is the
//            id's UTF-8 byte count and the 11 bytes the id, zero-padded, when L <= 11; L = 255 and the 11 bytes the
//            u32 FNV-1a 32 of the id's bytes, then zeros, for a longer id. An id's probe starts at slot
//            fnv1a32(bytes) & (C - 1) and goes on linearly to the first slot with its 12 bytes 4-15, or an empty one.
//   then     offsets u32 [N + 1] (id r is blob[offsets[r] .. offsets[r + 1])), padded with zeros to 8 bytes
//   then     blob [B bytes], the ids' UTF-8 bytes in row order, padded with zeros to 8 bytes
import { nativeAddon } from '../core/kernels/native.js';
import type { KeyIndex } from '../data/vocabulary.js';
import type { MemoryBytes } from './byte-source.js';
import { align8, encodeKey, encoded, fnv1aBytes, keyLengths, sameBytes, utf8Length, wellFormed, writeUtf8 } from './string-table.js';

/** The longest id (in UTF-8 bytes) held inline in its slot. */
export const INLINE_ID_BYTES = 11;
export const INLINE_HEADER = 64;
const SLOT = 16;
const LONG = 255;
const MAX_U32 = 0xffffffff;

export interface InlineIdDesc {
  count: number;
  capacity: number;
  blobBytes: number;
}

/** Byte offsets of the offsets and the blob in the file, and the file's length. */
export function inlineLayout(d: InlineIdDesc): { offsets: number; blob: number; bytes: number } {
  const offsets = INLINE_HEADER + SLOT * d.capacity;
  const blob = offsets + align8(4 * (d.count + 1));
  return { offsets, blob, bytes: blob + align8(d.blobBytes) };
}

const tagBytes = new Uint8Array(12);
const tagWords = new Uint32Array(tagBytes.buffer);

/** Sets tagBytes to what the slot of the id bytes b[a .. a + n) with hash h holds in its bytes 4-15. */
function setTag(b: Uint8Array, a: number, n: number, h: number): void {
  tagBytes.fill(0);
  if (n <= INLINE_ID_BYTES) {
    tagBytes[0] = n;
    tagBytes.set(b.subarray(a, a + n), 1);
  } else {
    tagBytes[0] = LONG;
    tagBytes[1] = h & 0xff;
    tagBytes[2] = (h >>> 8) & 0xff;
    tagBytes[3] = (h >>> 16) & 0xff;
    tagBytes[4] = h >>> 24;
  }
}

function capacityFor(n: number): number {
  let c = 8;
  while (c < 1.5 * n) c *= 2;
  return c;
}

/** A layout-2 file of ids (distinct, well-formed), magic and version left zero; `what` names it in errors. */
export function inlineIdTableBytes(ids: readonly string[], what: string): Uint8Array {
  let blobBytes = 0;
  for (let i = 0; i < ids.length; i++) {
    if (!wellFormed(ids[i])) throw new Error(`${what}: key ${i} (${JSON.stringify(ids[i])}) is not well-formed UTF-16 (a lone surrogate)`);
    blobBytes += utf8Length(ids[i]);
  }
  return withSlots(ids.length, blobBytes, what, (offsets, blob) => {
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      at += writeUtf8(ids[i], blob, at);
      offsets[i + 1] = at;
    }
  });
}

/** The same file from ids already as offsets [N + 1] and UTF-8 bytes (a layout-1 table's, to convert it). */
export function inlineIdTableFrom(offsets: Uint32Array, blob: Uint8Array, what: string): Uint8Array {
  return withSlots(offsets.length - 1, blob.byteLength, what, (o, b) => {
    o.set(offsets);
    b.set(blob);
  });
}

/** Allocates the file, lets fill write the offsets and blob, then hashes every id into its slot. */
function withSlots(n: number, blobBytes: number, what: string, fill: (offsets: Uint32Array, blob: Uint8Array) => void): Uint8Array {
  if (blobBytes > MAX_U32 || n >= MAX_U32) throw new Error(`${what}: ${n} ids of ${blobBytes} bytes exceed the table's u32 offsets`);
  const desc = { count: n, capacity: capacityFor(n), blobBytes };
  const lay = inlineLayout(desc);
  const bytes = new Uint8Array(lay.bytes);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(12, n, true);
  dv.setUint32(16, desc.capacity, true);
  dv.setUint32(20, blobBytes, true);
  const offsets = new Uint32Array(bytes.buffer, lay.offsets, n + 1);
  const blob = new Uint8Array(bytes.buffer, lay.blob, blobBytes);
  fill(offsets, blob);
  const words = new Uint32Array(bytes.buffer, 0, INLINE_HEADER / 4 + 4 * desc.capacity);
  const mask = desc.capacity - 1;
  for (let i = 0; i < n; i++) {
    const a = offsets[i], b = offsets[i + 1];
    if (!(a <= b && b <= blobBytes)) throw new Error(`${what}: id ${i} spans bytes ${a}..${b} of ${blobBytes}`);
    const h = fnv1aBytes(blob.subarray(a, b), b - a);
    setTag(blob, a, b - a, h);
    let s = h & mask;
    for (let w = 16 + 4 * s; words[w] !== 0; s = (s + 1) & mask, w = 16 + 4 * s) {
      if (words[w + 1] !== tagWords[0] || words[w + 2] !== tagWords[1] || words[w + 3] !== tagWords[2]) continue;
      const j = words[w] - 1;
      if (b - a <= INLINE_ID_BYTES || sameBytes(blob.subarray(offsets[j], offsets[j + 1]), blob.subarray(a, b))) {
        throw new Error(`${what}: key ${JSON.stringify(new TextDecoder().decode(blob.subarray(a, b)))} occurs twice (positions ${j} and ${i})`);
      }
    }
    const w = 16 + 4 * s;
    words[w] = i + 1;
    words[w + 1] = tagWords[0];
    words[w + 2] = tagWords[1];
    words[w + 3] = tagWords[2];
  }
  return bytes;
}

/** native/id_lookup.cc: key q is `keys`' UTF-16 units after the lengths before it; out[q] = its row or -1. */
interface InlineLookupAddon {
  lookupInlineIds(table: Uint8Array, count: number, capacity: number, blobBytes: number, keys: string, lengths: Int32Array,
    out: Int32Array, what: string): void;
}

/** The ids of a layout-2 file in memory (read whole or mapped), looked up in place. */
export class InlineIdTable implements KeyIndex {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly offsets: number;
  private readonly blob: number;

  constructor(private readonly mem: MemoryBytes, private readonly d: InlineIdDesc, private readonly what: string) {
    const lay = inlineLayout(d);
    this.words = mem.words;
    this.mask = d.capacity - 1;
    this.offsets = lay.offsets >>> 2;
    this.blob = lay.blob;
  }

  get size(): number {
    return this.d.count;
  }

  indexOf(key: string): number {
    const n = encodeKey(key);
    if (n < 0) return -1;
    const h = encoded.hash, { words, mask } = this;
    setTag(encoded.bytes, 0, n, h);
    const t0 = tagWords[0], t1 = tagWords[1], t2 = tagWords[2];
    for (let s = h & mask, seen = 0; seen <= mask; seen++, s = (s + 1) & mask) {
      const w = 16 + 4 * s, v = words[w];
      if (v === 0) return -1;
      if (words[w + 1] !== t0 || words[w + 2] !== t1 || words[w + 3] !== t2) continue;
      if (v > this.d.count) throw new Error(`${this.what}: corrupt table (slot ${s} names row ${v - 1} of ${this.d.count})`);
      if (n <= INLINE_ID_BYTES || this.sameBytes(v - 1, n)) return v - 1;
    }
    return -1;
  }

  /** indexOf of many keys: one native call with the slots' misses overlapped when the addon is loaded. */
  indexOfAll(keys: readonly string[], out = new Int32Array(keys.length)): Int32Array {
    if (out.length < keys.length) throw new RangeError(`${this.what}: indexOfAll of ${keys.length} keys into an array of ${out.length}`);
    const lookup = (nativeAddon() as unknown as Partial<InlineLookupAddon> | null)?.lookupInlineIds;
    if (!lookup) {
      for (let q = 0; q < keys.length; q++) out[q] = this.indexOf(keys[q]);
      return out;
    }
    const { count, capacity, blobBytes } = this.d;
    lookup(this.mem.buf, count, capacity, blobBytes, keys.join(''), keyLengths(keys, this.what), out, this.what);
    return out;
  }

  keyAt(i: number): string {
    if (!(i >= 0 && i < this.d.count)) throw new RangeError(`${this.what}: key index ${i} is outside 0..${this.d.count - 1}`);
    const [a, b] = this.bounds(i);
    return this.mem.text(this.blob + a, b - a);
  }

  private bounds(i: number): [number, number] {
    const a = this.words[this.offsets + i], b = this.words[this.offsets + i + 1];
    if (!(a <= b && b <= this.d.blobBytes)) throw new Error(`${this.what}: corrupt table (id ${i} spans bytes ${a}..${b} of ${this.d.blobBytes})`);
    return [a, b];
  }

  /** Row i's bytes equal the n bytes of encoded.bytes. */
  private sameBytes(i: number, n: number): boolean {
    const [a, b] = this.bounds(i);
    if (b - a !== n) return false;
    const buf = this.mem.buf, k = encoded.bytes;
    let j = 0;
    for (const at = this.blob + a; j < n && buf[at + j] === k[j]; j++);
    return j === n;
  }
}
