// A ByteSource over an open file, read with pread at each lookup (byte-source.ts says why).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ByteSource } from './byte-source.js';

export class FileBytes implements ByteSource {
  readonly lazy = true;
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
