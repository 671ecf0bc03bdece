// Publishing a directory atomically: build it under a temporary name beside the target, then swap it in with
// renames, so readers see the old complete directory or the new complete one, never a half-written one. Small
// files the same way: `writeFileAtomic`.
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes `path` through a temporary file beside it and a rename: a reader sees the old content or the new, whole. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** A fresh temporary directory beside `dir` (same file system, so the final rename is atomic). */
export async function makeTempBeside(dir: string): Promise<string> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(tmp, { recursive: true });
  return tmp;
}

/** Replaces `dir` with the completed temporary directory `tmp` (the old one, if any, is removed afterwards). */
export async function swapInto(tmp: string, dir: string): Promise<void> {
  const old = `${tmp}.old`;
  await rename(dir, old).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/**
 * After a crash (kill -9) during `swapInto`, `dir` may be missing while its previous version waits under the
 * `.old` name: puts that back. Leftover temporary directories beside `dir` are removed. Returns true when `dir` exists.
 */
export async function recoverSwap(dir: string): Promise<boolean> {
  const { existsSync } = await import('node:fs');
  const { readdir } = await import('node:fs/promises');
  const parent = dirname(dir);
  if (!existsSync(parent)) return false;
  const prefix = `.${basename(dir)}.tmp-`;
  const leftovers = (await readdir(parent)).filter((n) => n.startsWith(prefix)).sort();
  if (!existsSync(dir)) {
    const old = leftovers.filter((n) => n.endsWith('.old')).pop();
    if (old) await rename(join(parent, old), dir);
  }
  for (const n of leftovers) await rm(join(parent, n), { recursive: true, force: true });
  return existsSync(dir);
}

/** Writes a file and fsyncs it before returning. */
export async function writeFileSynced(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a file or a directory (a directory's entries: what renames inside it made). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
