// Bytes of a binary bundle file read in place: the whole file in memory (one read), or an open file read with pread
// at each lookup (nothing read at load; the page cache, shared by every process on the host, holds the hot parts).
// Multi-byte values are little-endian; u32 and f64 reads must be aligned to their size.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

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
}

export class MemoryBytes implements ByteSource {
  /** The bytes, and the same as u32 words: for readers that index them directly. */
  readonly buf: Buffer;
  readonly words: Uint32Array;
  private readonly f64s: Float64Array;

  /** `bytes` must start at an 8-byte aligned offset of its buffer (copied otherwise). */
  constructor(bytes: Uint8Array) {
    const b = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
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
    return this.buf.toString('utf8', at, at + n);
  }

  close(): void {}
}

export class FileBytes implements ByteSource {
  private fd: number | null;
  readonly byteLength: number;
  private readonly word = Buffer.alloc(8);
  private readonly block = new Uint32Array(16);
  private readonly blockBytes = new Uint8Array(this.block.buffer);
  private scratch = Buffer.alloc(256);

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    this.byteLength = fstatSync(this.fd).size;
  }

  private fill(at: number, out: Uint8Array, n: number): void {
    if (this.fd === null) throw new Error(`${this.path}: read after close`);
    if (at < 0 || at + n > this.byteLength) throw new Error(`${this.path}: read of ${n} bytes at ${at} is past the end (${this.byteLength} bytes)`);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, out, got, n - got, at + got);
      if (r === 0) throw new Error(`${this.path}: file ended at ${at + got} (truncated while open?)`);
      got += r;
    }
  }

  u32(at: number): number {
    this.fill(at, this.word, 4);
    return this.word.readUInt32LE(0);
  }

  u32s(at: number, n: number): Uint32Array {
    if (n > 16) throw new RangeError(`u32s: ${n} values, at most 16`);
    this.fill(at, this.blockBytes, 4 * n);
    return this.block.subarray(0, n);
  }

  f64(at: number): number {
    this.fill(at, this.word, 8);
    return this.word.readDoubleLE(0);
  }

  read(at: number, out: Uint8Array): Uint8Array {
    this.fill(at, out, out.length);
    return out;
  }

  equals(at: number, key: Uint8Array, n: number): boolean {
    const b = this.bytes(at, n);
    for (let i = 0; i < n; i++) if (b[i] !== key[i]) return false;
    return true;
  }

  text(at: number, n: number): string {
    return this.bytes(at, n).toString('utf8', 0, n);
  }

  /** The n bytes at `at` in the shared scratch buffer (valid until the next read). */
  private bytes(at: number, n: number): Buffer {
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, this.scratch.length * 2));
    this.fill(at, this.scratch, n);
    return this.scratch;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
