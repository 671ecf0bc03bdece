// The on-disk columnar cache of an encoded dataset: flat little-endian binary files (one per column, split and entity
// table) and JSON Lines string files, listed in manifest.json with their byte counts and SHA-256 checksums, under a
// folder named by a key over the canonical data config and each source file's size and mtime. Files are written once
// through FileSink (hashing as they go) and read back in row ranges into caller-owned buffers (ColumnReader).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DataConfig } from './spec.js';

export const CACHE_FORMAT = 'prerank-data-cache';
export const CACHE_VERSION = 1;

export type DType = 'i32' | 'f32' | 'f64' | 'i8';
export type TypedColumn = Int32Array | Float32Array | Float64Array | Int8Array;
export const BYTES: Record<DType, number> = { i32: 4, f32: 4, f64: 8, i8: 1 };

export function allocColumn(dtype: DType, n: number): TypedColumn {
  return dtype === 'i32' ? new Int32Array(n) : dtype === 'f32' ? new Float32Array(n)
    : dtype === 'f64' ? new Float64Array(n) : new Int8Array(n);
}

export interface FileEntry {
  bytes: number;
  sha256: string;
}

export interface CacheManifest<M = unknown> {
  format: typeof CACHE_FORMAT;
  version: number;
  key: string;
  created: string;
  /** File name (relative to the cache folder) -> size and checksum. */
  files: Record<string, FileEntry>;
  meta: M;
}

/** Writes one file in pieces, hashing what it writes. */
export class FileSink {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(data: ArrayBufferView | string): void {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.hash.update(buf);
    let at = 0;
    while (at < buf.length) at += writeSync(this.fd, buf, at, buf.length - at);
    this.bytes += buf.length;
  }

  close(): FileEntry {
    closeSync(this.fd);
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** A column written value by value through a fixed buffer (`width` values per row). */
export class ColumnSink {
  private readonly buf: TypedColumn;
  private n = 0;
  private readonly sink: FileSink;

  constructor(path: string, readonly dtype: DType, capacity = 1 << 16) {
    this.buf = allocColumn(dtype, capacity);
    this.sink = new FileSink(path);
  }

  put(v: number): void {
    this.buf[this.n++] = v;
    if (this.n === this.buf.length) this.flush();
  }

  private flush(): void {
    if (this.n) this.sink.write(this.buf.subarray(0, this.n));
    this.n = 0;
  }

  close(): FileEntry {
    this.flush();
    return this.sink.close();
  }
}

/** Reads row ranges of one column file into caller-owned buffers (no allocation per read). */
export class ColumnReader {
  private readonly fd: number;

  constructor(readonly path: string, readonly dtype: DType, readonly width = 1) {
    this.fd = openSync(path, 'r');
  }

  /** Rows [row, row + n) into out[at*width ..]; returns out. */
  read(row: number, n: number, out: TypedColumn, at = 0): TypedColumn {
    const b = BYTES[this.dtype] * this.width;
    const view = new Uint8Array(out.buffer, out.byteOffset + at * b, n * b);
    let got = 0;
    while (got < view.length) {
      const k = readSync(this.fd, view, got, view.length - got, row * b + got);
      if (k === 0) throw new Error(`${this.path}: ends before row ${row + n}`);
      got += k;
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A whole binary file as a typed array (entity tables, history lists: sized by entities, not rows). */
export function readWhole(path: string, dtype: DType): TypedColumn {
  const buf = readFileSync(path);
  const n = buf.length / BYTES[dtype];
  const out = allocColumn(dtype, n);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/**
 * A JSON Lines file of strings (one JSON string per line) as an array. A line of ASCII bytes without a backslash is
 * a string without escapes, its bytes between the quotes (JSON escapes every quote and control character inside a
 * string), taken as they are; other lines go through JSON.parse.
 */
export function readStrings(path: string): string[] {
  const buf = readFileSync(path);
  const out: string[] = [];
  for (let at = 0; at < buf.length;) {
    let nl = at, plain = true;
    for (let c; nl < buf.length && (c = buf[nl]) !== 10; nl++) if (c >= 0x80 || c === 92) plain = false;
    out.push(plain && nl - at >= 2 && buf[at] === 34 && buf[nl - 1] === 34 ? buf.toString('latin1', at + 1, nl - 1) : JSON.parse(buf.toString('utf8', at, nl)) as string);
    at = nl + 1;
  }
  return out;
}

/** The folder of the splits' per-row columns inside a cache. */
export const ROWS_DIR = 'rows';

/** A split's column file, as the manifest names it (relative to the cache folder): rows/<split>.<column>.bin. */
export const rowFile = (split: string, column: string): string => `${ROWS_DIR}/${split}.${column}.bin`;

/** Whether a manifest file name is a split's row column: of any split, or of `split` when given. */
export const isRowFile = (name: string, split?: string): boolean => name.startsWith(`${ROWS_DIR}/${split === undefined ? '' : `${split}.`}`);

/** The first file whose size or SHA-256 differs from the manifest, with what differs; null when all match. */
export function verifyFiles(dir: string, files: Record<string, FileEntry>, only: (name: string) => boolean = () => true): string | null {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const [name, want] of Object.entries(files)) {
    if (!only(name)) continue;
    const path = join(dir, name);
    if (!existsSync(path)) return `${path} is missing`;
    const size = statSync(path).size;
    if (size !== want.bytes) return `${path} holds ${size} bytes, the manifest says ${want.bytes}`;
    const hash = createHash('sha256');
    const fd = openSync(path, 'r');
    try {
      for (let k; (k = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, k));
    } finally {
      closeSync(fd);
    }
    const got = hash.digest('hex');
    if (got !== want.sha256) return `${path}: checksum ${got.slice(0, 12)}… differs from the manifest's ${want.sha256.slice(0, 12)}…`;
  }
  return null;
}

/** Every source file of a config. */
export function sourceFiles(cfg: DataConfig): string[] {
  const s = cfg.sources;
  return [s.interactions.path, s.users?.path, s.items?.path, ...s.lists.map((l) => l.path)]
    .filter((p): p is string => !!p);
}

/**
 * The cache key: a hash over the format version, the config as parsed (minus settings that do not change the encoded
 * data: duckdb, cache) and each source file's path, size and modification time.
 */
export function cacheKey(cfg: DataConfig): string {
  const { duckdb: _d, cache: _c, ...data } = cfg;
  const sources = sourceFiles(cfg).map((p) => {
    const st = statSync(p);
    return [resolve(p), st.size, st.mtimeMs];
  });
  return createHash('sha256').update(JSON.stringify({ version: CACHE_VERSION, data, sources })).digest('hex').slice(0, 20);
}

/** The folder of a config's cache: cache.dir, else PRERANK_CACHE_DIR, else .prerank-cache beside the interactions. */
export function cacheFolder(cfg: DataConfig, key: string): string {
  const root = cfg.cache?.dir ?? process.env.PRERANK_CACHE_DIR
    ?? join(dirname(cfg.sources.interactions.path), '.prerank-cache');
  const slug = cfg.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'data';
  return join(root, `${slug}-${key}`);
}

export function readManifest<M>(dir: string): CacheManifest<M> | null {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return null;
  const m = JSON.parse(readFileSync(path, 'utf8')) as CacheManifest<M>;
  if (m.format !== CACHE_FORMAT) throw new Error(`${path}: not a ${CACHE_FORMAT} manifest`);
  return m;
}
