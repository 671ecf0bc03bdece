// Publishing a directory atomically: build it under a temporary name beside the target, then swap it in with
// renames, so readers see the old complete directory or the new complete one, never a half-written one
// (`writeDirAtomic`). A writer killed between the two renames leaves the target missing and its previous version
// under a `.old` name: `recoverSwap` (run by the next writer, and by readers that find the target missing) puts it
// back. Small files the same way: `writeFileAtomic`.
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Fault-injection tests (test/fault-scenarios.ts) widen the crash windows — between the two renames of a swap, and
 * between a published version's rename and its CURRENT pointer — by PRERANK_TEST_SWAP_PAUSE_MS milliseconds, so that
 * a SIGKILL at a random moment lands inside them often. Unset (0) everywhere else.
 */
const PAUSE_MS = Number(process.env.PRERANK_TEST_SWAP_PAUSE_MS) || 0;
export const crashWindow = (): Promise<void> => (PAUSE_MS > 0 ? new Promise((r) => setTimeout(r, PAUSE_MS)) : Promise.resolve());

/** Writes `path` through a temporary file beside it and a rename: a reader sees the old content or the new, whole. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Temporary directories this process is writing now: never taken for a dead writer's leftovers. */
const active = new Set<string>();

/** True while process `pid` exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A fresh temporary directory beside `dir` (same file system, so the final rename is atomic). */
export async function makeTempBeside(dir: string): Promise<string> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(tmp, { recursive: true });
  active.add(tmp);
  return tmp;
}

/** Replaces `dir` with the completed temporary directory `tmp` (the old one, if any, is removed afterwards). */
export async function swapInto(tmp: string, dir: string): Promise<void> {
  const old = `${tmp}.old`;
  try {
    await rename(dir, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await crashWindow();
    await rename(tmp, dir);
  } finally {
    active.delete(tmp);
  }
  await rm(old, { recursive: true, force: true });
}

/**
 * Entries beside `dir` left by writers that are gone (`.<name>.tmp-<pid>-<ms>-<rand>`, and its `.old`): another
 * process's whose pid no longer runs, or this process's that it is not writing now. Oldest first.
 */
function deadLeftovers(dir: string): string[] {
  const parent = dirname(dir);
  if (!existsSync(parent)) return [];
  const prefix = `.${basename(dir)}.tmp-`;
  const live = [...active].map((a) => basename(a));
  const out: { name: string; ms: number }[] = [];
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-(\d+)-/.exec(name.slice(prefix.length));
    const pid = m ? Number(m[1]) : NaN;
    if (pid === process.pid ? live.some((a) => name.startsWith(a)) : Number.isInteger(pid) && pidAlive(pid)) continue;
    out.push({ name, ms: m ? Number(m[2]) : 0 });
  }
  return out.sort((a, b) => a.ms - b.ms).map((e) => e.name);
}

/**
 * The previous version of `dir` that an interrupted swap (a writer killed between its two renames) left under its
 * `.old` name while `dir` is missing, when that writer is gone; else null. Only swapInto makes a `.old`, by renaming
 * the complete `dir`, so whatever it holds (a bundle's manifest.json, an online checkpoint's state.json) is whole.
 */
export function pendingRestore(dir: string): string | null {
  if (existsSync(dir)) return null;
  const old = deadLeftovers(dir).filter((n) => n.endsWith('.old')).map((n) => join(dirname(dir), n)).reverse();
  return old[0] ?? null;
}

/**
 * After a crash (kill -9) of a writer: puts back the previous version of `dir` when an interrupted swap left it under
 * the `.old` name (pendingRestore), and removes the leftovers of writers that are gone. Live writers' temporary
 * directories (this process's, or a running process's) are left alone, so readers and writers may call it at any
 * time. Returns true when `dir` exists.
 */
export async function recoverSwap(dir: string): Promise<boolean> {
  const old = pendingRestore(dir);
  if (old) {
    await rename(old, dir).catch((e: NodeJS.ErrnoException) => {
      if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(e.code ?? '')) throw e; // another recovery or a new version won
    });
  }
  for (const n of deadLeftovers(dir)) await rm(join(dirname(dir), n), { recursive: true, force: true });
  return existsSync(dir);
}

/** An fs error naming `path` (Node's write errors name only the syscall), with its code kept. */
export function errorNaming(e: unknown, what: string, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof err.code !== 'string' || err.message.includes(path)) return e;
  return Object.assign(new Error(`${what} ${path}: ${err.message}`, { cause: err }), { code: err.code });
}

/**
 * Writes the directory `dir` atomically: fill(tmp) fills a fresh temporary directory beside it, which then replaces
 * `dir` (swapInto). Leftovers of interrupted earlier writes are recovered first (recoverSwap). When fill or the swap
 * fails, the temporary directory is removed, `dir` keeps its previous version, and file-system errors name `dir`.
 */
export async function writeDirAtomic(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  await recoverSwap(dir);
  const tmp = await makeTempBeside(dir);
  try {
    await fill(tmp);
    await swapInto(tmp, dir);
  } catch (e) {
    active.delete(tmp);
    await rm(tmp, { recursive: true, force: true });
    throw errorNaming(e, 'cannot write', dir);
  }
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

/** Bytes per write of writeArrayFile: a Uint8Array view is capped at 2^32 elements, a typed array's bytes need not be. */
const WRITE_SLICE = 1 << 30;

/** Writes the bytes of a typed array of any byte size (a float32 table of 10M x 128 is 5 GB) in 1 GiB slices. */
export async function writeArrayFile(path: string, a: ArrayBufferView, slice = WRITE_SLICE): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < a.byteLength; at += slice) {
      const n = Math.min(slice, a.byteLength - at);
      for (let done = 0; done < n;) done += (await fh.write(new Uint8Array(a.buffer, a.byteOffset + at + done, n - done))).bytesWritten;
    }
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
