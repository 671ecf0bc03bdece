// The item representation table of a bundle: item ids in entity order and a [N, I] matrix stored as float32,
// bfloat16 or float16 (round to nearest even) or int8 with one float32 scale per row (x ≈ q * scale). The
// in-process store keeps one copy of the matrix as stored (mapped read-only from the bundle's file where the native
// addon can: src/export/item-file.ts), and the compiled serving plans read every dtype in place
// (bfloat16 max-sim and dot with the CPU's bf16 dot product where it has one); the Redis store keeps the same bytes
// per row and decodes them. Ids are a KeyIndex (row -> id and back): an array in memory at export, the bundle's
// id file read in place at serving (id-table.ts). Shape letters: N items, I item rep width.
import { idsOf, type Ids } from './id-table.js';

export type ItemDType = 'float32' | 'bfloat16' | 'float16' | 'int8';
export const ITEM_DTYPES: readonly ItemDType[] = ['float32', 'bfloat16', 'float16', 'int8'];

/** Stored as 16-bit words (a Uint16Array). */
export const is16Bit = (dtype: ItemDType): dtype is 'bfloat16' | 'float16' => dtype === 'bfloat16' || dtype === 'float16';

export interface ItemTable {
  /** Row r holds item ids.keyAt(r); ids.indexOf(id) is its row (-1: unknown). */
  ids: Ids;
  /** I: width of one representation. */
  dim: number;
  dtype: ItemDType;
  /** [N, I] in `dtype`. */
  data: Float32Array | Uint16Array | Int8Array;
  /** [N] per-row scales (int8 only). */
  scales?: Float32Array;
  /** data (and scales) are a read-only mapping of the bundle's files: never write into them (the process would fault). */
  mapped?: boolean;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE 754 half bits, round to nearest even; overflow -> inf, NaN kept. */
export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
export function toBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits -> the float32 value. */
export function fromBf16(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

const HALF = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  HALF[h] = e === 0 ? sign * m * 2 ** -24 : e === 0x1f ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Encodes a float32 matrix [N, I] into the table's storage type. */
export function quantize(keys: readonly string[] | Ids, reps: Float32Array, dim: number, dtype: ItemDType): ItemTable {
  const ids = idsOf(keys);
  const n = ids.size;
  if (reps.length !== n * dim) throw new Error(`quantize: ${reps.length} values for ${n} items x ${dim}`);
  if (dtype === 'float32') return { ids, dim, dtype, data: reps };
  if (is16Bit(dtype)) {
    const data = new Uint16Array(n * dim);
    const encode = dtype === 'float16' ? toHalf : toBf16;
    for (let i = 0; i < data.length; i++) data[i] = encode(reps[i]);
    return { ids, dim, dtype, data };
  }
  const data = new Int8Array(n * dim);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) max = Math.max(max, Math.abs(reps[j]));
    const s = max > 0 ? max / 127 : 1;
    scales[r] = s;
    for (let j = r * dim; j < (r + 1) * dim; j++) data[j] = Math.max(-127, Math.min(127, Math.round(reps[j] / s)));
  }
  return { ids, dim, dtype, data, scales };
}

/** Decodes row `row` of the table into out[at .. at + I). */
export function decodeRow(t: ItemTable, row: number, out: Float32Array, at: number): void {
  const { dim } = t;
  const from = row * dim;
  if (t.dtype === 'float32') out.set((t.data as Float32Array).subarray(from, from + dim), at);
  else if (t.dtype === 'float16') {
    const d = t.data as Uint16Array;
    for (let j = 0; j < dim; j++) out[at + j] = HALF[d[from + j]];
  } else if (t.dtype === 'bfloat16') {
    const d = t.data as Uint16Array;
    for (let j = 0; j < dim; j++) out[at + j] = fromBf16(d[from + j]);
  } else {
    const d = t.data as Int8Array;
    const s = t.scales![row];
    for (let j = 0; j < dim; j++) out[at + j] = d[from + j] * s;
  }
}

/** The whole table as float32 [N, I] (a view when it already is float32). */
export function decodeAll(t: ItemTable): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  const out = new Float32Array(t.ids.size * t.dim);
  for (let r = 0; r < t.ids.size; r++) decodeRow(t, r, out, r * t.dim);
  return out;
}

/** Bytes of one stored row: the values, plus a little-endian float32 scale in front for int8. */
export function rowBytes(dtype: ItemDType, dim: number): number {
  return dtype === 'float32' ? dim * 4 : is16Bit(dtype) ? dim * 2 : 4 + dim;
}

/** Decodes a blob written by rowBlob into out[at .. at + I). */
export function decodeBlob(dtype: ItemDType, dim: number, blob: Uint8Array, out: Float32Array, at: number): void {
  if (blob.byteLength !== rowBytes(dtype, dim)) throw new Error(`item blob has ${blob.byteLength} bytes, expected ${rowBytes(dtype, dim)} (${dtype} x ${dim})`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (dtype === 'float32') for (let j = 0; j < dim; j++) out[at + j] = dv.getFloat32(j * 4, true);
  else if (dtype === 'float16') for (let j = 0; j < dim; j++) out[at + j] = HALF[dv.getUint16(j * 2, true)];
  else if (dtype === 'bfloat16') for (let j = 0; j < dim; j++) out[at + j] = fromBf16(dv.getUint16(j * 2, true));
  else {
    const s = dv.getFloat32(0, true);
    for (let j = 0; j < dim; j++) out[at + j] = dv.getInt8(4 + j) * s;
  }
}

/** A typed array over bytes read from disk: in place when they start on a 4-byte boundary, else over an aligned copy. */
export function alignedView<A>(b: ArrayBufferView, make: new (buf: ArrayBuffer, at: number, n: number) => A, width: number): A {
  return b.byteOffset % 4 === 0
    ? new make(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength / width)
    : new make(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, 0, b.byteLength / width);
}

/**
 * Wraps raw bytes read from disk: in place when they start on a 4-byte boundary (a large file read whole has its
 * own ArrayBuffer), else copied into an aligned buffer (a copy of a big table is milliseconds on the event loop).
 */
export function tableFromBytes(keys: readonly string[] | Ids, dim: number, dtype: ItemDType, reps: ArrayBufferView, scales?: ArrayBufferView): ItemTable {
  const data = dtype === 'float32' ? alignedView(reps, Float32Array, 4) : is16Bit(dtype) ? alignedView(reps, Uint16Array, 2) : alignedView(reps, Int8Array, 1);
  return { ids: idsOf(keys), dim, dtype, data, scales: scales ? alignedView(scales, Float32Array, 4) : undefined };
}
