// A string table: N distinct keys in a fixed order, searched in place by an open-addressing hash table. Layout from
// the table's start (8-byte aligned), all integers u32 little-endian:
//   offsets  [N + 1]      key i is blob[offsets[i] .. offsets[i+1]) (UTF-8); padded with zeros to 8 bytes
//   slots    [C][2]       C a power of two >= 1.5 N (>= 8); slot = (h, 1 + key index), (0, 0) when empty, where
//                         h = fnv1a32(the key's UTF-8 bytes); a key starts at slot h & (C - 1) and probes linearly
//   blob     [B bytes]    the keys' UTF-8 bytes, padded with zeros to 8 bytes
// A lookup reads a run of slots (one read of up to 8), and only for a slot with the key's hash that key's offsets
// and bytes, whatever N is. Keys must be well-formed UTF-16 (no lone surrogates), so that text and bytes correspond
// one to one; a lookup of a malformed key finds nothing.
import { nativeAddon } from '../core/kernels/native.js';
import type { KeyIndex } from '../data/index.js';
import { MemoryBytes, type ByteSource } from './byte-source.js';

export interface StringTableDesc {
  /** Byte offset of the table in its file. */
  at: number;
  count: number;
  capacity: number;
  blobBytes: number;
}

export const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Byte offsets of the three parts inside a table, and its whole length. */
export function tableLayout(d: Pick<StringTableDesc, 'count' | 'capacity' | 'blobBytes'>): { slots: number; blob: number; bytes: number } {
  const slots = align8(4 * (d.count + 1));
  const blob = slots + 8 * d.capacity;
  return { slots, blob, bytes: blob + align8(d.blobBytes) };
}

const MAX_U32 = 0xffffffff;

/** FNV-1a 32 over bytes [0, n). */
export function fnv1aBytes(b: Uint8Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

export const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const utf8 = new TextEncoder();

/** Bytes of a well-formed string in UTF-8. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4; // a surrogate pair: one code point of four bytes
      i++;
    } else n += 3;
  }
  return n;
}

/** Writes s's UTF-8 bytes at `at` of `into` (which has room); returns their count. */
export const writeUtf8 = (s: string, into: Uint8Array, at: number): number => utf8.encodeInto(s, into.subarray(at)).written;

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Keys encoded at once: joined, their UTF-8 bytes written in one call (an ASCII run's byte offsets are its char offsets). */
const JOIN_KEYS = 1 << 16;

/**
 * Serializes keys (distinct, well-formed) into one table's bytes; `what` names the table in errors. The slots are
 * filled by the native addon when it is loaded (and `native` is not false), else in TypeScript: the same bytes.
 */
export function buildStringTable(keys: readonly string[], what: string, o: { native?: boolean } = {}): { desc: Omit<StringTableDesc, 'at'>; bytes: Uint8Array } {
  const n = keys.length;
  const offsets = new Uint32Array(n + 1);
  const blobBytes = byteOffsets(keys, offsets, what);
  if (blobBytes > MAX_U32 || n >= MAX_U32) throw new Error(`${what}: ${n} keys of ${blobBytes} bytes exceed the table's u32 offsets`);
  let capacity = 8;
  while (capacity < 1.5 * n) capacity *= 2;
  const desc = { count: n, capacity, blobBytes };
  const lay = tableLayout(desc);
  const bytes = new Uint8Array(lay.bytes);
  new Uint32Array(bytes.buffer, 0, n + 1).set(offsets);
  const blob = new Uint8Array(bytes.buffer, lay.blob, blobBytes);
  for (let i = 0; i < n; i += JOIN_KEYS) {
    const m = Math.min(JOIN_KEYS, n - i);
    const at = offsets[i];
    if (writeUtf8(keys.slice(i, i + m).join(''), blob, at) !== offsets[i + m] - at) throw new Error(`${what}: keys ${i}..${i + m - 1} changed while written`);
  }
  const native = o.native === false ? undefined : (nativeAddon() as unknown as Partial<FillSlotsAddon> | null)?.fillSlots;
  const twin = native ? native(bytes, n, capacity, blobBytes) : fillSlots(new Uint32Array(bytes.buffer, lay.slots, 2 * capacity), offsets, blob);
  if (twin) throw new Error(`${what}: key ${JSON.stringify(keys[twin[1]])} occurs twice (positions ${twin[0]} and ${twin[1]})`);
  return { desc, bytes };
}

/** native/key_lookup.cc: fillSlots as below, over a table whose offsets and blob are written. */
interface FillSlotsAddon {
  fillSlots(table: Uint8Array, count: number, capacity: number, blobBytes: number): [number, number] | null;
}

/** Fills offsets [N + 1] with each key's start in the blob; returns the blob's length. Checks every key is a well-formed string. */
function byteOffsets(keys: readonly string[], offsets: Uint32Array, what: string): number {
  const n = keys.length;
  let at = 0;
  for (let i = 0; i < n; i += JOIN_KEYS) {
    const m = Math.min(JOIN_KEYS, n - i);
    let chars = 0;
    for (let j = i; j < i + m; j++) {
      const k = keys[j];
      if (typeof k !== 'string') throw new TypeError(`${what}: key ${j} is a ${typeof k}, not a string`);
      chars += k.length;
      offsets[j + 1] = at + chars;
    }
    const joined = keys.slice(i, i + m).join('');
    if (utf8Length(joined) === chars) {
      at += chars; // ASCII only: one byte per char, offsets as set
      continue;
    }
    for (let j = i; j < i + m; j++) {
      if (!wellFormed(keys[j])) throw new Error(`${what}: key ${j} (${JSON.stringify(keys[j])}) is not well-formed UTF-16 (a lone surrogate)`);
      at += utf8Length(keys[j]);
      offsets[j + 1] = at;
    }
  }
  return at;
}

/**
 * Puts every key into the slots [C][2] by its FNV-1a, probing linearly, in key order; returns null, or [j, i] when
 * key i equals the earlier key j.
 */
function fillSlots(slots: Uint32Array, offsets: Uint32Array, blob: Uint8Array): [number, number] | null {
  const mask = slots.length / 2 - 1;
  for (let i = 0; i + 1 < offsets.length; i++) {
    const a = offsets[i], b = offsets[i + 1];
    const h = fnv1aBytes(blob.subarray(a, b), b - a);
    let s = h & mask;
    for (; slots[2 * s + 1] !== 0; s = (s + 1) & mask) {
      const j = slots[2 * s + 1] - 1;
      if (slots[2 * s] === h && offsets[j + 1] - offsets[j] === b - a && sameBytes(blob.subarray(a, b), blob.subarray(offsets[j], offsets[j + 1]))) return [j, i];
    }
    slots[2 * s] = h;
    slots[2 * s + 1] = i + 1;
  }
  return null;
}

/** A string table read in place from a ByteSource: the KeyIndex of a bundle's vocabulary or entity keys. */
export class StringTable implements KeyIndex {
  private readonly slots: number;
  private readonly blob: number;
  private readonly mask: number;
  /** Set when the bytes are in memory (read whole or mapped): lookups index them directly. */
  private readonly mem: MemoryBytes | null;

  constructor(private readonly src: ByteSource, private readonly d: StringTableDesc, private readonly what: string) {
    const lay = tableLayout(d);
    this.slots = d.at + lay.slots;
    this.blob = d.at + lay.blob;
    this.mask = d.capacity - 1;
    this.mem = src instanceof MemoryBytes ? src : null;
  }

  get size(): number {
    return this.d.count;
  }

  indexOf(key: string): number {
    const n = encodeKey(key);
    if (n < 0) return -1;
    if (this.mem) return this.indexInMemory(n, encoded.hash, this.mem);
    const { src, d } = this;
    const h = encoded.hash, scratch = encoded.bytes;
    for (let s = h & this.mask, seen = 0; seen < d.capacity;) {
      const run = Math.min(RUN, d.capacity - s);
      const w = src.u32s(this.slots + 8 * s, 2 * run);
      for (let j = 0; j < run; j++) {
        const v = w[2 * j + 1];
        if (v === 0) return -1;
        if (w[2 * j] !== h) continue;
        const i = v - 1;
        const [a, b] = this.bounds(i);
        if (b - a === n && src.equals(this.blob + a, scratch, n)) return i;
      }
      seen += run;
      s = (s + run) & this.mask;
    }
    return -1;
  }

  /** indexOf over bytes in memory: the same probe, reading slots, offsets and key bytes in place. */
  private indexInMemory(n: number, h: number, mem: MemoryBytes): number {
    const { words, buf } = mem;
    const scratch = encoded.bytes;
    const { count, capacity, blobBytes } = this.d;
    const slots = this.slots >>> 2, offsets = this.d.at >>> 2, blob = this.blob, mask = this.mask;
    for (let s = h & mask, seen = 0; seen < capacity; seen++, s = (s + 1) & mask) {
      const v = words[slots + 2 * s + 1];
      if (v === 0) return -1;
      if (words[slots + 2 * s] !== h) continue;
      const i = v - 1;
      if (i >= count) throw new Error(`${this.what}: corrupt table (a slot names key ${i} of ${count})`);
      const a = words[offsets + i], b = words[offsets + i + 1];
      if (b - a !== n) continue;
      if (!(a <= b && b <= blobBytes)) throw new Error(`${this.what}: corrupt table (key ${i} spans bytes ${a}..${b} of ${blobBytes})`);
      let j = 0;
      for (const at = blob + a; j < n && buf[at + j] === scratch[j]; j++);
      if (j === n) return i;
    }
    return -1;
  }

  /**
   * indexOf of many keys. Over bytes in memory with the native addon loaded, one call looks them all up with their
   * cache misses overlapped (native/key_lookup.cc); otherwise indexOf per key.
   */
  indexOfAll(keys: readonly string[], out = new Int32Array(keys.length)): Int32Array {
    if (out.length < keys.length) throw new RangeError(`${this.what}: indexOfAll of ${keys.length} keys into an array of ${out.length}`);
    const lookup = this.mem ? (nativeAddon() as unknown as Partial<KeyLookupAddon> | null)?.lookupKeys : undefined;
    if (!lookup) {
      for (let q = 0; q < keys.length; q++) out[q] = this.indexOf(keys[q]);
      return out;
    }
    const { at, count, capacity, blobBytes } = this.d;
    lookup(this.mem!.buf, at, count, capacity, blobBytes, keys.join(''), keyLengths(keys, this.what), out, this.what);
    return out;
  }

  keyAt(i: number): string {
    if (!(i >= 0 && i < this.d.count)) throw new RangeError(`${this.what}: key index ${i} is outside 0..${this.d.count - 1}`);
    const [a, b] = this.bounds(i);
    return this.src.text(this.blob + a, b - a);
  }

  /** Key i's byte range in the blob (one 8-byte read). */
  private bounds(i: number): [number, number] {
    if (i >= this.d.count) throw new Error(`${this.what}: corrupt table (a slot names key ${i} of ${this.d.count})`);
    this.src.read(this.d.at + 4 * i, pairBytes);
    const a = pair[0], b = pair[1];
    if (!(a <= b && b <= this.d.blobBytes)) throw new Error(`${this.what}: corrupt table (key ${i} spans bytes ${a}..${b} of ${this.d.blobBytes})`);
    return [a, b];
  }
}

/** native/key_lookup.cc: key q is `keys`' UTF-16 units after the lengths before it; out[q] = its index or -1. */
interface KeyLookupAddon {
  lookupKeys(table: Uint8Array, at: number, count: number, capacity: number, blobBytes: number, keys: string, lengths: Int32Array,
    out: Int32Array, what: string): void;
}

let lengths = new Int32Array(1024);

/** The UTF-16 lengths of keys (a view of a reused array), as the native batch lookups take them; a key that is not a string is refused. */
export function keyLengths(keys: readonly string[], what: string): Int32Array {
  if (lengths.length < keys.length) lengths = new Int32Array(Math.max(keys.length, 2 * lengths.length));
  for (let q = 0; q < keys.length; q++) {
    const k = keys[q];
    if (typeof k !== 'string') throw new TypeError(`${what}: key ${q} is a ${typeof k}, not a string`);
    lengths[q] = k.length;
  }
  return lengths.subarray(0, keys.length);
}

/** Slots read at once (one pread when the file is read lazily). */
const RUN = 8;
const pair = new Uint32Array(2);
const pairBytes = new Uint8Array(pair.buffer);

/** The last key encodeKey encoded: its UTF-8 bytes (a scratch buffer, reused) and FNV-1a 32. */
export const encoded = { bytes: new Uint8Array(1024), hash: 0 };

/**
 * Writes key's UTF-8 bytes into `encoded.bytes` and its FNV-1a into `encoded.hash`; returns the byte count, or -1 for a
 * malformed key. ASCII keys (most ids) are encoded here, others by TextEncoder.encodeInto.
 */
export function encodeKey(key: string): number {
  const n = key.length;
  if (encoded.bytes.length < 3 * n) encoded.bytes = new Uint8Array(3 * n + 1024);
  const scratch = encoded.bytes;
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) {
      if (!wellFormed(key)) return -1;
      const len = utf8.encodeInto(key, scratch).written;
      encoded.hash = fnv1aBytes(scratch, len);
      return len;
    }
    scratch[i] = c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  encoded.hash = h >>> 0;
  return n;
}
