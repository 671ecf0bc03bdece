// Versioned bundle publishing: a root directory holding numbered versions v000001, v000002, ... and a pointer file
// CURRENT naming the one to serve. A version is written into a temporary directory inside the root (.tmp-<pid>-<rand>),
// every file and directory in it is fsynced, it is renamed to its final name and the root is fsynced; only then is
// CURRENT replaced (temp file + fsync + rename + fsync of the root). A reader that follows CURRENT therefore sees a
// complete, durable version or the previous one, never a half-written one, even across a crash or kill -9 at any
// moment. A crash leaves at most a .tmp-* directory (ignored by readers, removed by the next publish) or a complete
// vNNNNNN that CURRENT does not name yet (the next publish numbers past it); a publish that fails (a full disk, say)
// removes what it wrote. One publisher per root at a time.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crashWindow, fsyncPath, pidAlive } from '../util/atomic-dir.js';

export interface VersionRef {
  version: number;
  /** Directory name: 'v' + 6 digits. */
  name: string;
  /** Absolute or root-relative path of the version directory. */
  dir: string;
}

export interface PublishOptions {
  /** Versions to keep after publishing (the newest `keep`; the current one always survives). Default 5. */
  keep?: number;
}

export const CURRENT_FILE = 'CURRENT';
const VERSION_RE = /^v(\d{6,})$/;
const TMP_PREFIX = '.tmp-';

export function versionName(version: number): string {
  if (!Number.isInteger(version) || version < 1) throw new Error(`bundle version must be a positive integer, got ${version}`);
  return `v${String(version).padStart(6, '0')}`;
}

/** The version number of a directory name, or null when it is not a version name. */
export function parseVersionName(name: string): number | null {
  const m = VERSION_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/** The complete versions under root (directories named vNNNNNN), oldest first. Temporary directories are skipped. */
export function listVersions(root: string): VersionRef[] {
  if (!existsSync(root)) return [];
  const out: VersionRef[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const v = e.isDirectory() ? parseVersionName(e.name) : null;
    if (v !== null) out.push({ version: v, name: e.name, dir: join(root, e.name) });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * The version CURRENT names, or null when root has no CURRENT yet. Throws a clear error when CURRENT is malformed
 * or names a directory that does not exist.
 */
export function readCurrentVersion(root: string): VersionRef | null {
  const path = join(root, CURRENT_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  const name = text.trim();
  const version = parseVersionName(name);
  if (version === null) throw new Error(`${path}: expected a version name like v000001, found ${JSON.stringify(text.slice(0, 40))}`);
  const dir = join(root, name);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new Error(`${path} names version ${name} but ${dir} does not exist (deleted or never completed)`);
  return { version, name, dir };
}

/** fsyncs every file under dir, then each directory (children before parents). */
async function fsyncTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) await fsyncPath(p);
  }
  await fsyncPath(dir);
}

/** Temporary directories this process is writing right now (never cleaned by a concurrent publish in this process). */
const active = new Set<string>();

/**
 * Removes leftovers of interrupted publishes: temporary entries (ours, exportBundle's beside ours, CURRENT's) whose
 * writer process is gone, or is this process but no longer writing them.
 */
async function cleanTemps(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (!name.startsWith('.') || !name.includes('.tmp-')) continue;
    const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
    if (pid === process.pid) {
      if ([...active].some((a) => name.includes(basename(a)))) continue;
    } else if (Number.isInteger(pid) && pidAlive(pid)) {
      continue;
    }
    await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * Publishes a new version under root: write(tmpDir) fills a fresh temporary directory inside root, which is made
 * durable and renamed to the next version name (1 + the highest existing), then CURRENT is pointed at it. Old
 * versions beyond the newest `keep` are removed afterwards. If write throws, nothing is published and the
 * temporary directory is removed.
 */
export async function publishVersion(root: string, write: (dir: string) => Promise<void>, opts: PublishOptions = {}): Promise<VersionRef> {
  const keep = opts.keep ?? 5;
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`publishVersion: keep must be an integer >= 1, got ${keep}`);
  await mkdir(root, { recursive: true });
  await cleanTemps(root);
  const tmp = join(root, `${TMP_PREFIX}${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  active.add(tmp);
  // what a failure before CURRENT names the new version removes again (a full disk, say), so the root is as it was
  let made: string | null = null, ptrTmp: string | null = null, pointed = false;
  let current: VersionRef | null = null;
  try {
    current = readCurrentVersion(root);
  } catch {
    current = null; // a broken pointer is about to be replaced
  }
  try {
    await mkdir(tmp);
    await write(tmp);
    await fsyncTree(tmp);
    const existing = listVersions(root);
    const version = Math.max(0, current?.version ?? 0, ...existing.map((v) => v.version)) + 1;
    const name = versionName(version);
    const dir = join(root, name);
    await rename(tmp, dir);
    made = dir;
    await fsyncPath(root);
    await crashWindow();
    ptrTmp = join(root, `.${CURRENT_FILE}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    await writeFile(ptrTmp, `${name}\n`);
    await fsyncPath(ptrTmp);
    await rename(ptrTmp, join(root, CURRENT_FILE));
    pointed = true;
    await fsyncPath(root);
    await prune(root, keep, name);
    return { version, name, dir };
  } catch (e) {
    if (!pointed) {
      for (const p of [ptrTmp, made]) if (p) await rm(p, { recursive: true, force: true });
    }
    const err = e as NodeJS.ErrnoException;
    if (pointed || !(err instanceof Error) || typeof err.code !== 'string') throw e;
    const kept = current === null ? 'no version published' : `CURRENT still names ${current.name}`;
    throw Object.assign(new Error(`cannot publish a version under ${root} (${kept}): ${err.message}`, { cause: err }), { code: err.code });
  } finally {
    active.delete(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Removes all but the newest `keep` versions, never `current`. */
async function prune(root: string, keep: number, current: string): Promise<void> {
  const all = listVersions(root);
  for (const v of all.slice(0, Math.max(0, all.length - keep))) {
    if (v.name === current) continue;
    await rm(v.dir, { recursive: true, force: true });
  }
}
