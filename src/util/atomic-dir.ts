// Publishing a directory atomically: build it under a temporary name beside the target, then swap it in with
// renames, so readers see the old complete directory or the new complete one, never a half-written one.
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

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
