// Bytes of a binary bundle file read in place: the whole file in memory (one read), or an open file read with pread
// at each lookup (nothing read at load; the page cache, shared by every process on the host, holds the hot parts).
// Multi-byte values are little-endian; u32 and f64 reads must be aligned to their size. MemoryBytes needs nothing of
// Node (pages read encoders and id tables with it); FileBytes is in file-bytes.ts.

export interface ByteSource {
  readonly byteLength: number;
  u32(at: number): number;
  /** n u32 values from `at`: a view valid until the next u32s call (at most 16 values). */
  u32s(at: number, n: number): Uint32Array;
  f64(at: number): number;
  /** Fills `out` with the bytes from `at`; returns it. */
  read(at: number, out: Uint8Array): Uint8Array;
  /** True when the `n` bytes at `at` equal key[0 .. n). */
  equals(at: number, key: Uint8Array, n: number): boolean;
  /** UTF-8 text of the `n` bytes at `at`. */
  text(at: number, n: number): string;
  close(): void;
  /** True when each read goes to the file (FileBytes): readers copy small tables into memory instead. */
  readonly lazy?: boolean;
}

const utf8 = new TextDecoder();

export class MemoryBytes implements ByteSource {
  /** The bytes, and the same as u32 words: for readers that index them directly. */
  readonly buf: Uint8Array;
  readonly words: Uint32Array;
  private readonly f64s: Float64Array;

  /** `bytes` must start at an 8-byte aligned offset of its buffer (copied otherwise). */
  constructor(bytes: Uint8Array) {
    const b = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
    this.buf = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    this.words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
    this.f64s = new Float64Array(b.buffer, b.byteOffset, b.byteLength >>> 3);
  }

  get byteLength(): number {
    return this.buf.byteLength;
  }

  /** The bytes [at, at + n) as a view. */
  view(at: number, n: number): Uint8Array {
    return this.buf.subarray(at, at + n);
  }

  u32(at: number): number {
    return this.words[at >>> 2];
  }

  u32s(at: number, n: number): Uint32Array {
    return this.words.subarray(at >>> 2, (at >>> 2) + n);
  }

  f64(at: number): number {
    return this.f64s[at >>> 3];
  }

  read(at: number, out: Uint8Array): Uint8Array {
    out.set(this.buf.subarray(at, at + out.length));
    return out;
  }

  equals(at: number, key: Uint8Array, n: number): boolean {
    const b = this.buf;
    for (let i = 0; i < n; i++) if (b[at + i] !== key[i]) return false;
    return true;
  }

  text(at: number, n: number): string {
    return utf8.decode(this.buf.subarray(at, at + n));
  }

  close(): void {}
}
