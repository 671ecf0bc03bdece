// Fault scenarios for writers (test/fault-scenarios.ts): SIGKILL at random moments (export into a bundle directory,
// checkpoint save, the online trainer's publish into a versioned root) and a full file system.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle, exportBundle, listVersions, publishVersion, readCurrentVersion } from '../src/export/index.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { createOptimizer } from '../src/train/trainer.js';
import { leftoversBeside, loadRun, rootTemps, serveCheck, sleep, uniform, WRITER, type FaultResult } from './fault-common.js';

// ---- SIGKILL of a writer ----

interface KillTarget {
  mode: 'export' | 'checkpoint' | 'publish';
  /** Writes the first complete version in this process. */
  setup(): Promise<void>;
  /** After a kill: throws when the previous (or a newer) version is not intact as a reader sees it. */
  check(): Promise<void>;
  /** True when the kill landed inside a swap (the target's directory renamed away, or a version not yet named by CURRENT). */
  inWindow(): boolean;
  /** After a kill and its check: the next write, here; throws when it fails or leaves leftovers of the dead writer. */
  next(): Promise<void>;
}

async function killTarget(mode: KillTarget['mode'], runDir: string, work: string): Promise<{ target: string; t: KillTarget }> {
  const src = await loadRun(runDir);
  if (mode === 'export') {
    const target = join(work, 'bundle');
    return { target, t: {
      mode, setup: async () => void (await exportBundle(src, target)),
      check: () => serveCheck(target),
      inWindow: () => !existsSync(target),
      next: async () => {
        await exportBundle(src, target);
        await serveCheck(target);
        const left = leftoversBeside(target);
        if (left.length) throw new Error(`leftovers beside the bundle after the next export: ${left.join(', ')}`);
      },
    } };
  }
  if (mode === 'checkpoint') {
    const target = join(work, 'checkpoint');
    const opt = createOptimizer(src.model, src.cfg.optimizer);
    return { target, t: {
      mode, setup: () => saveCheckpoint(target, src.model, opt, { epoch: 0 }),
      check: async () => {
        if (!hasCheckpoint(target)) throw new Error(`hasCheckpoint(${target}) is false: a resumed run would start over`);
        await loadCheckpoint(target, src.model, createOptimizer(src.model, src.cfg.optimizer));
      },
      inWindow: () => !existsSync(target),
      next: async () => {
        await saveCheckpoint(target, src.model, opt, { epoch: 999 });
        const m = await loadCheckpoint(target, src.model, createOptimizer(src.model, src.cfg.optimizer));
        if (m.epoch !== 999) throw new Error(`the next checkpoint did not land (epoch ${m.epoch})`);
        const left = leftoversBeside(target);
        if (left.length) throw new Error(`leftovers beside the checkpoint after the next save: ${left.join(', ')}`);
      },
    } };
  }
  const target = join(work, 'versions');
  return { target, t: {
    mode, setup: async () => void (await publishVersion(target, async (dir) => void (await exportBundle(src, dir)))),
    check: async () => {
      const cur = readCurrentVersion(target);
      if (!cur) throw new Error('CURRENT is gone');
      await Bundle.load(cur.dir);
      await serveCheck(cur.dir);
    },
    inWindow: () => {
      const cur = readCurrentVersion(target);
      return listVersions(target).some((v) => v.version > (cur?.version ?? 0));
    },
    next: async () => {
      const before = Math.max(0, ...listVersions(target).map((v) => v.version));
      const v = await publishVersion(target, async (dir) => void (await exportBundle(src, dir)));
      if (v.version <= before) throw new Error(`the next publish made version ${v.version}, not past ${before}`);
      await serveCheck(readCurrentVersion(target)!.dir);
      const left = rootTemps(target);
      if (left.length) throw new Error(`temporary entries left in the root after the next publish: ${left.join(', ')}`);
    },
  } };
}

/** Starts the writer child; resolves once it is writing (its "ready" line). */
async function startWriter(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  while (!out.includes('ready\n')) {
    if (child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`fault-writer ${args[0]} did not start: ${err}`);
    await sleep(10);
  }
  return { child, out: () => out, err: () => err };
}

/**
 * SIGKILLs a writer (`mode`) `reps` times at random moments after it starts writing: every other writer runs with
 * PRERANK_TEST_SWAP_PAUSE_MS widening the rename windows, so kills also land inside swaps. After each kill the target
 * must read as a complete version (the previous or a newer one), and the next write (in this process) must succeed
 * and leave no leftovers of the dead writer.
 */
export async function killWriterScenario(o: { mode: KillTarget['mode']; runDir: string; work: string; reps: number; seed?: number; maxDelayMs?: number }): Promise<FaultResult> {
  const name = { export: 'SIGKILL during export (bundle dir)', checkpoint: 'SIGKILL during checkpoint save', publish: 'SIGKILL during online publish (versioned root)' }[o.mode];
  const work = join(o.work, `kill-${o.mode}`);
  mkdirSync(work, { recursive: true });
  const { target, t } = await killTarget(o.mode, o.runDir, work);
  await t.setup();
  const rand = uniform(o.seed ?? 7);
  const failures: string[] = [];
  let survived = 0, inWindow = 0, writes = 0;
  for (let k = 0; k < o.reps; k++) {
    const args = [o.mode, o.runDir, target, join(work, `online-${k}`)];
    const w = await startWriter(args, k % 2 ? { PRERANK_TEST_SWAP_PAUSE_MS: '60' } : {});
    await sleep(Math.floor(rand() * (o.maxDelayMs ?? 400)));
    if (w.child.exitCode !== null) {
      failures.push(`kill ${k + 1}: the writer exited by itself (${w.child.exitCode}): ${w.err().slice(0, 300)}`);
      continue;
    }
    const exited = new Promise((r) => w.child.once('exit', r));
    w.child.kill('SIGKILL');
    await exited;
    writes += (w.out().match(/^wrote /gm) ?? []).length;
    if (t.inWindow()) inWindow++;
    try {
      await t.check();
      await t.next();
      survived++;
    } catch (e) {
      failures.push(`kill ${k + 1}: ${(e as Error).message.slice(0, 300)}`);
    }
  }
  return { name, faults: o.reps, survived, failures, detail: `${writes} writes completed before the kills, ${inWindow} kills inside a swap; after each kill the target read complete and the next write recovered` };
}


// ---- a full disk ----

type DiskWriter = 'bundle' | 'publish' | 'checkpoint';

/**
 * A small tmpfs; the writer's first version fits; then a filler leaves `level` x (one version's size) free, for
 * `levels` levels spread over [0, 0.95), and the writer runs again: it must fail naming ENOSPC and the path, leave
 * the previous version intact (it loads, same hash) and no partial directory behind.
 */
export async function fullDiskScenario(o: { writer: DiskWriter; runDir: string; work: string; levels: number }): Promise<FaultResult> {
  const name = `full disk during ${o.writer === 'bundle' ? 'export (bundle dir)' : o.writer === 'publish' ? 'publish (versioned root)' : 'checkpoint save'}`;
  const mnt = join(o.work, `tmpfs-${o.writer}`);
  mkdirSync(mnt, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    const why = (m.error?.message ?? m.stderr ?? '').trim() || `exit ${m.status}`;
    return { name, faults: 0, survived: 0, detail: '', failures: [], skipped: `cannot mount a tmpfs to fill (${why}; needs root or CAP_SYS_ADMIN)` };
  }
  const failures: string[] = [];
  let faults = 0, survived = 0, notFull = 0;
  const messages = new Set<string>();
  try {
    const src = await loadRun(o.runDir);
    const opt = createOptimizer(src.model, src.cfg.optimizer);
    const target = join(mnt, o.writer);
    const write = async (): Promise<void> => {
      if (o.writer === 'bundle') await exportBundle(src, target);
      else if (o.writer === 'publish') await publishVersion(target, async (dir) => void (await exportBundle(src, dir)), { keep: 1 });
      else await saveCheckpoint(target, src.model, opt, { epoch: 1 });
    };
    /** The served version's identity: manifest hash / CURRENT + hash / the checkpoint's epoch. */
    const state = async (): Promise<string> => {
      if (o.writer === 'bundle') {
        await serveCheck(target);
        return (await Bundle.load(target)).manifest.hash;
      }
      if (o.writer === 'publish') {
        const cur = readCurrentVersion(target)!;
        await serveCheck(cur.dir);
        return `${cur.name} ${(await Bundle.load(cur.dir)).manifest.hash}`;
      }
      return String((await loadCheckpoint(target, src.model, createOptimizer(src.model, src.cfg.optimizer))).epoch);
    };
    const free = () => {
      const s = statfsSync(mnt);
      return s.bavail * s.bsize;
    };
    const empty = free();
    await write();
    const size = empty - free(); // one version, as the file system counts it
    const before = await state();
    for (let l = 0; l < o.levels; l++) {
      const want = Math.floor(size * 0.95 * (l / o.levels));
      try {
        writeFileSync(join(mnt, 'filler'), Buffer.alloc(Math.max(0, free() - want)));
      } catch {
        // already fuller than wanted
      }
      const entries = readdirSync(mnt).sort().join(',');
      let err: Error | null = null;
      try {
        await write();
      } catch (e) {
        err = e as Error;
      }
      rmSync(join(mnt, 'filler'), { force: true });
      if (!err) {
        notFull++;
        continue;
      }
      faults++;
      const bad: string[] = [];
      messages.add(err.message.replace(/tmp-[\w-]+/g, 'tmp-…').slice(0, 200));
      if (!/ENOSPC/.test(err.message)) bad.push(`error does not name ENOSPC: ${err.message.slice(0, 200)}`);
      if (!err.message.includes(target)) bad.push(`error does not name ${target}: ${err.message.slice(0, 200)}`);
      try {
        const now = await state();
        if (now !== before) bad.push(`the previous version changed: ${before} -> ${now}`);
      } catch (e) {
        bad.push(`the previous version does not load: ${(e as Error).message.slice(0, 200)}`);
      }
      const after = readdirSync(mnt).filter((n) => n !== 'filler').sort().join(',');
      if (after !== entries.split(',').filter((n) => n !== 'filler').join(',')) bad.push(`entries left behind: [${after}] (before: [${entries}])`);
      if (o.writer === 'publish' && rootTemps(target).length) bad.push(`temporary entries in the root: ${rootTemps(target).join(', ')}`);
      if (bad.length) failures.push(`${want} bytes free: ${bad.join('; ')}`);
      else survived++;
    }
  } finally {
    if (spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  const kinds = [...messages].map((m) => JSON.stringify(m)).join(' | ');
  return { name, faults, survived, failures, detail: `${faults} writes failed (${notFull} fitted); errors: ${kinds}` };
}

