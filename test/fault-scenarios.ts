// Fault injection, shared by test/faults.test.ts (few repetitions, for CI) and `npm run bench -- faults` (many): each
// scenario injects real faults — redis-server SIGKILLed under load and restarted empty, a writer SIGKILLed at random
// moments (export, checkpoint, online publish), a full file system, a missing or truncated ANN index — and returns
// how many faults it injected, how many the code survived, and one line per fault it did not.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, statSync, truncateSync, unlinkSync, writeFileSync, cpSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Bundle, exportBundle, listVersions, publishVersion, readCurrentVersion, type ExportSource } from '../src/export/index.js';
import { createServer } from '../src/serve/server.js';
import { Deployment } from '../src/serve/service.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { buildModel, loadData, loadTrainConfig } from '../src/train/run.js';
import { createOptimizer } from '../src/train/trainer.js';
import { redisAvailable, REDIS_SKIP, startRedis, type RedisServer } from './serve-fixture.js';

export interface FaultResult {
  name: string;
  /** Faults injected. */
  faults: number;
  /** Of those, the ones the code survived (every check held). */
  survived: number;
  detail: string;
  /** One line per fault not survived. */
  failures: string[];
  /** Why the scenario did not run (faults = 0). */
  skipped?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const WRITER = join(process.cwd(), 'dist/test/fault-writer.js');

/** A seeded uniform [0, 1) (the scenarios' kill moments and fill levels). */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

/** The model of a training run (its best checkpoint), its dataset and config: an ExportSource. */
export async function loadRun(runDir: string): Promise<ExportSource & { cfg: ReturnType<typeof loadTrainConfig> }> {
  const cfg = loadTrainConfig(join(runDir, 'config.json'));
  const dataset = await loadData(cfg);
  const model = buildModel(cfg, dataset);
  await loadCheckpoint(['best', 'last'].map((d) => join(runDir, d)).find(hasCheckpoint)!, model, null);
  return { model, dataset, config: cfg.model, cfg };
}

/** Leftovers of interrupted writes beside `dir` (`.<name>.tmp-*`). */
const leftoversBeside = (dir: string): string[] => (existsSync(dirname(dir)) ? readdirSync(dirname(dir)).filter((n) => n.startsWith(`.${basename(dir)}.tmp-`)) : []);
/** Temporary entries in a versioned root. */
const rootTemps = (root: string): string[] => (existsSync(root) ? readdirSync(root).filter((n) => n.startsWith('.') && n.includes('.tmp-')) : []);

async function serveCheck(dir: string): Promise<void> {
  const d = await Deployment.open(dir, {});
  await d.close();
}

// ---- 1. redis-server killed and restarted under load ----

interface Shot {
  start: number;
  end: number;
  status: number;
  body: { error?: string; message?: string; items?: unknown; unknown?: unknown } | null;
  error?: string;
}

/**
 * A server on the Redis item store (commands time out after `timeoutMs`), 4 clients sending requests back to back;
 * each cycle SIGKILLs redis-server, holds it down `downMs`, restarts it empty on the same port. Per cycle: every
 * request answers within timeoutMs + 1.5 s (nothing hangs), with 200 and the same answer as before the fault or 503
 * `item store unavailable` with a message; requests started while redis is down are 503; /healthz answers; within
 * `recoverMs` of the restart every request is 200 again with the same answer, without restarting the server.
 */
export async function redisRestartScenario(o: { bundle: string; user: Record<string, string>; candidates: string[]; cycles: number; timeoutMs?: number; downMs?: number;
  recoverMs?: number }): Promise<FaultResult> {
  const name = 'redis-server SIGKILL + restart under load';
  if (!redisAvailable()) return { name, faults: 0, survived: 0, detail: '', failures: [], skipped: REDIS_SKIP };
  const timeoutMs = o.timeoutMs ?? 300, downMs = o.downMs ?? 1000, recoverMs = o.recoverMs ?? 5000;
  const bound = timeoutMs + 1500;
  let redis: RedisServer = await startRedis();
  const port = redis.port;
  const srv = await createServer({ bundle: o.bundle, store: `${redis.url}?timeout=${timeoutMs}`, ann: 'off', underPressure: false, defaultMetrics: false });
  const failures: string[] = [];
  let survived = 0;
  const recoveries: number[] = [];
  let down503 = 0, slowest = 0;
  const messages = new Set<string>();
  try {
    const address = await srv.app.listen({ port: 0, host: '127.0.0.1' });
    const body = JSON.stringify({ user: o.user, candidates: o.candidates });
    const call = async (): Promise<Shot> => {
      const start = performance.now();
      try {
        const r = await fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(bound) });
        const text = await r.text();
        let parsed: Shot['body'] = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
        return { start, end: performance.now(), status: r.status, body: parsed };
      } catch (e) {
        return { start, end: performance.now(), status: 0, body: null, error: (e as Error).message };
      }
    };
    const base = await call();
    if (base.status !== 200) throw new Error(`baseline request: ${base.status} ${JSON.stringify(base.body)}`);
    const expected = JSON.stringify([base.body!.items, base.body!.unknown]);
    const shots: Shot[] = [];
    let stop = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) shots.push(await call());
    });
    try {
      for (let c = 0; c < o.cycles; c++) {
        await sleep(300);
        const from = performance.now();
        await redis.kill();
        const killedAt = performance.now();
        let health = 0, healthBad = 0;
        while (performance.now() - killedAt < downMs) {
          const h = await fetch(`${address}/healthz`, { signal: AbortSignal.timeout(bound) }).then((r) => r.status, () => 0);
          health++;
          if (h !== 200) healthBad++;
          await sleep(100);
        }
        redis = await startRedis(port);
        const restartedAt = performance.now();
        // recovered: the first moment after which every request started is a correct 200 (at least 5 of them)
        let recovered: number | null = null;
        while (performance.now() - restartedAt < recoverMs + 1000) {
          await sleep(100);
          const since = shots.filter((s) => s.start >= restartedAt);
          let firstBad = -1;
          since.forEach((s, i) => {
            if (!(s.status === 200 && JSON.stringify([s.body?.items, s.body?.unknown]) === expected)) firstBad = i;
          });
          const good = since.slice(firstBad + 1);
          if (good.length >= 5) {
            recovered = good[0].start - restartedAt;
            break;
          }
        }
        await sleep(200);
        const until = performance.now();
        const mine = shots.filter((s) => s.start >= from && s.start < until);
        const bad: string[] = [];
        if (healthBad) bad.push(`/healthz failed ${healthBad} of ${health} times while redis was down`);
        for (const s of mine) {
          const ms = s.end - s.start;
          slowest = Math.max(slowest, ms);
          if (s.error) bad.push(`a request got no answer in ${bound} ms (${s.error})`);
          else if (ms > bound) bad.push(`a request took ${ms.toFixed(0)} ms (bound ${bound})`);
          else if (s.status === 200 && JSON.stringify([s.body?.items, s.body?.unknown]) !== expected) bad.push(`a 200 with a wrong answer: ${JSON.stringify(s.body).slice(0, 160)}`);
          else if (s.status === 503 && !(s.body?.error === 'item store unavailable' && /redis/.test(s.body?.message ?? ''))) bad.push(`a 503 without a clear message: ${JSON.stringify(s.body)}`);
          else if (s.status !== 200 && s.status !== 503) bad.push(`status ${s.status}: ${JSON.stringify(s.body).slice(0, 160)}`);
        }
        for (const s of mine) if (s.status === 503) messages.add(String(s.body?.message).replace(/\d+ items/, 'N items').replace(/:\d+/, ':PORT'));
        const whileDown = mine.filter((s) => s.start >= killedAt + timeoutMs + 100 && s.end < restartedAt);
        down503 += whileDown.filter((s) => s.status === 503).length;
        if (!whileDown.length) bad.push('no request completed while redis was down');
        else if (whileDown.some((s) => s.status !== 503)) bad.push(`requests while redis was down: ${whileDown.filter((s) => s.status !== 503).length} of ${whileDown.length} not 503`);
        if (recovered === null) bad.push(`not recovered within ${recoverMs} ms of the restart (last: ${JSON.stringify(shots.at(-1)?.body).slice(0, 200)})`);
        else recoveries.push(recovered);
        const uniq = [...new Set(bad)];
        if (uniq.length) failures.push(`cycle ${c + 1}: ${uniq.slice(0, 4).join('; ')}`);
        else survived++;
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
  } finally {
    await srv.app.close();
    await redis.stop();
  }
  const rec = recoveries.length ? `${(Math.max(...recoveries) / 1000).toFixed(2)} s` : 'n/a';
  return { name, faults: o.cycles, survived, failures,
    detail: `store timeout ${timeoutMs} ms, down ${downMs} ms: ${down503} requests 503 while down, slowest answer ${slowest.toFixed(0)} ms, recovered <= ${rec} after restart; 503 messages: ${[...messages].map((m) => JSON.stringify(m)).join(' | ')}` };
}

// ---- 2. SIGKILL of a writer ----

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

// ---- 3. a full disk ----

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

// ---- 4. a missing or truncated ANN index ----

/** `prerank serve` as a child process until its start line or its exit. */
async function serveChild(args: string[]): Promise<{ child: ChildProcess; address: string | null; out: () => string; err: () => string; exit: Promise<{ code: number | null; signal: string | null }> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const t0 = Date.now();
  let address: string | null = null;
  while (!address && child.exitCode === null && child.signalCode === null && Date.now() - t0 < 60_000) {
    address = /on (http:\/\/[^\s]+) /.exec(out)?.[1] ?? null;
    if (!address) await sleep(25);
  }
  return { child, address, out: () => out, err: () => err, exit };
}

const DAMAGE: Record<string, (file: string) => void> = {
  missing: (f) => unlinkSync(f),
  'truncated to 10 bytes': (f) => truncateSync(f, 10),
  'truncated to half': (f) => truncateSync(f, Math.floor(statSync(f).size / 2)),
  empty: (f) => truncateSync(f, 0),
};

/**
 * Damages items/ann.usearch of a copy of `bundle` (each way in DAMAGE) and offers it to `prerank serve` three ways:
 * at start (must exit 1 naming the file, not crash), by POST /admin/reload (422 naming it; the old bundle keeps
 * answering /v1/retrieve) and as a newly published version under --watch (not served; the old version keeps
 * answering). `ways` limits the damages tried.
 */
export async function annDamageScenario(o: { bundle: string; user: Record<string, string>; work: string; ways?: number }): Promise<FaultResult> {
  const name = 'ANN index missing / truncated';
  const root = join(o.work, 'ann-bundles');
  const vroot = join(o.work, 'ann-versions');
  mkdirSync(root, { recursive: true });
  cpSync(o.bundle, join(root, 'good'), { recursive: true });
  const damages = Object.entries(DAMAGE).slice(0, o.ways ?? Object.keys(DAMAGE).length);
  for (const [i, [, hurt]] of damages.entries()) {
    cpSync(o.bundle, join(root, `bad${i}`), { recursive: true });
    hurt(join(root, `bad${i}`, 'items', 'ann.usearch'));
  }
  const failures: string[] = [];
  let faults = 0, survived = 0;
  const FILE = /items\/ann\.usearch/;
  const retrieve = (address: string) => fetch(`${address}/v1/retrieve`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: o.user, k: 5 }), signal: AbortSignal.timeout(10_000) }).then((r) => r.status, (e: Error) => e.message);
  const verdict = (what: string, bad: string[]) => {
    faults++;
    if (bad.length) failures.push(`${what}: ${bad.join('; ')}`);
    else survived++;
  };
  // at start
  for (const [i, [how]] of damages.entries()) {
    const s = await serveChild(['--bundle', join(root, `bad${i}`)]);
    if (s.address) s.child.kill('SIGKILL');
    const { code, signal } = await s.exit;
    const bad: string[] = [];
    if (s.address) bad.push('started serving it');
    else if (signal) bad.push(`crashed (${signal}): ${s.err().slice(-300)}`);
    else if (code !== 1 || !FILE.test(s.err())) bad.push(`exit ${code} without naming the file: ${s.err().slice(-300)}`);
    verdict(`start, ${how}`, bad);
  }
  // reload
  const r = await serveChild(['--bundle', join(root, 'good')]);
  try {
    if (!r.address) throw new Error(`serve did not start: ${r.err()}`);
    for (const [i, [how]] of damages.entries()) {
      const bad: string[] = [];
      const res = await fetch(`${r.address}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bundle: join(root, `bad${i}`) }), signal: AbortSignal.timeout(30_000) }).then(async (x) => ({ status: x.status, body: await x.text() }), (e: Error) => ({ status: 0, body: e.message }));
      if (res.status !== 422 || !FILE.test(res.body)) bad.push(`reload answered ${res.status}: ${res.body.slice(0, 200)}`);
      const after = await retrieve(r.address);
      if (after !== 200) bad.push(`/v1/retrieve afterwards: ${after}${r.child.signalCode ? ` (server died: ${r.child.signalCode})` : ''}`);
      verdict(`reload, ${how}`, bad);
    }
  } finally {
    r.child.kill('SIGTERM');
    await r.exit;
  }
  // watch
  await publishVersion(vroot, async (dir) => cpSync(join(root, 'good'), dir, { recursive: true }));
  const w = await serveChild(['--watch', vroot, '--watch-poll-ms', '50']);
  try {
    if (!w.address) throw new Error(`serve --watch did not start: ${w.err()}`);
    for (const [i, [how]] of damages.entries()) {
      const v = await publishVersion(vroot, async (dir) => cpSync(join(root, `bad${i}`), dir, { recursive: true }), { keep: 100 });
      const bad: string[] = [];
      const t0 = Date.now();
      while (!w.err().includes(`version ${v.name} not served`) && Date.now() - t0 < 10_000 && w.child.exitCode === null) await sleep(25);
      const line = w.err().split('\n').find((l) => l.includes(`version ${v.name} not served`));
      if (!line) bad.push(`no refusal logged for ${v.name}: ${w.err().slice(-300)}`);
      else if (!FILE.test(line)) bad.push(`refusal does not name the file: ${line}`);
      const ready = await fetch(`${w.address}/readyz`).then(async (x) => (await x.json()) as { version: string }, () => null);
      if (ready?.version !== 'v000001') bad.push(`serving ${ready?.version ?? '(no answer)'}, not v000001`);
      const after = await retrieve(w.address);
      if (after !== 200) bad.push(`/v1/retrieve afterwards: ${after}`);
      verdict(`watch, ${how}`, bad);
    }
  } finally {
    w.child.kill('SIGTERM');
    await w.exit;
  }
  return { name, faults, survived, failures, detail: `${damages.map(([h]) => h).join(', ')} x (start, reload, watch)` };
}
