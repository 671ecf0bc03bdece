// `npm run bench -- mmap [--items 1000000] [--dim 128] [--requests 400] [--ann-items 0]`: what a mapped item table
// costs at size. A DSSM bundle (untrained: the weights do not matter here) gets a synthetic random table of --items
// rows; the bench times Bundle.load (table mapped, its sha256 deferred) against reading it into the heap, times the
// deferred check, then runs `prerank serve --workers 2` with k = 1,000 random candidates per request and reads each
// worker's memory from /proc/<pid>/smaps_rollup: Private_* (what the worker alone holds) and Pss (its share of what
// it maps). --ann-items N also times the usearch build of N random rows on 1 thread and on every core.
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { Dataset, writeSyntheticLog } from '../src/data/index.js';
import { Bundle, exportBundle, writeIdTable } from '../src/export/index.js';
import { addRows, newUsearch } from '../src/export/ann-index.js';
import { openItemTable } from '../src/export/item-file.js';
import { FILES, type BundleManifest } from '../src/export/manifest.js';
import { MODELS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { serveChild } from './load.js';

const opt = (args: string[], name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

/** A DSSM bundle whose item table is replaced by n random rows of width dim (written and hashed in chunks). */
async function syntheticBundle(work: string, n: number, dim: number): Promise<string> {
  const cfg = writeSyntheticLog(join(work, 'data'), { users: 50, items: 40, interactionsPerUser: 10 });
  writeFileSync(join(work, 'data', 'config.json'), JSON.stringify(cfg));
  const data = await Dataset.load(join(work, 'data', 'config.json'));
  const config = { embedDim: 8, tower: [64, dim], dropout: 0 };
  const model = MODELS.dssm({ features: data.features, rng: new Rng(1) }, config) as RecModel;
  const dir = join(work, 'bundle');
  await exportBundle({ model, dataset: data, config: { kind: 'dssm', config } }, dir, { annIndex: false });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  await writeIdTable(join(dir, FILES.itemIds), Array.from({ length: n }, (_, i) => `i${i}`), FILES.itemIds);
  const h = createHash('sha256');
  const fd = openSync(join(dir, FILES.itemReps), 'w');
  const rng = new Rng(7);
  const rows = 65536;
  const chunk = new Float32Array(rows * dim);
  for (let at = 0; at < n; at += rows) {
    const m2 = Math.min(rows, n - at);
    for (let j = 0; j < m2 * dim; j++) chunk[j] = rng.uniform() - 0.5;
    const bytes = new Uint8Array(chunk.buffer, 0, m2 * dim * 4);
    h.update(bytes);
    writeSync(fd, bytes);
  }
  closeSync(fd);
  if (!m.items.cached) throw new Error('bench mmap: DSSM exported no item table');
  m.items.count = n;
  m.files[FILES.itemIds] = createHash('sha256').update(readFileSync(join(dir, FILES.itemIds))).digest('hex');
  m.files[FILES.itemReps] = h.digest('hex');
  delete m.files[FILES.itemAnn];
  try {
    unlinkSync(join(dir, FILES.itemAnn));
  } catch { /* none written */ }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}

const seconds = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t0 = performance.now();
  const r = await fn();
  return [(performance.now() - t0) / 1000, r];
};

/** smaps_rollup fields of a process, MiB. */
function memory(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(Rss|Pss|Private_Clean|Private_Dirty|Shared_Clean|Anonymous):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Math.round(Number(m[2]) / 1024);
  }
  return out;
}

export interface WorkerMemory {
  pid: number;
  mem: Record<string, number>;
}

/** What a worker alone holds (Private_Clean + Private_Dirty of its smaps_rollup), MiB. */
export const privateMiB = (w: WorkerMemory): number => (w.mem.Private_Clean ?? 0) + (w.mem.Private_Dirty ?? 0);

/**
 * `prerank serve --workers 2 --ann off` over a bundle, `requests` requests of k = 1,000 candidates drawn by
 * `candidate`, then each worker's memory.
 */
export async function workersMemory(dir: string, candidate: (rng: Rng) => string, requests: number): Promise<{ workers: WorkerMemory[]; p50ms: number }> {
  const s = await serveChild(['--bundle', dir, '--workers', '2', '--ann', 'off']);
  try {
    const rng = new Rng(3);
    const lat: number[] = [];
    for (let i = 0; i < requests; i++) {
      const candidates = Array.from({ length: 1000 }, () => candidate(rng));
      const body = JSON.stringify({ user: {}, candidates, n: 10 });
      for (let tries = 0; ; tries++) {
        const t0 = performance.now();
        const r = await fetch(`${s.address}/v1/prerank`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body });
        await r.arrayBuffer();
        if (r.status === 200) {
          lat.push(performance.now() - t0);
          break;
        }
        // 503: shed while a worker's event loop lags (a busy machine); the request is retried, not timed
        if (r.status !== 503 || tries === 50) throw new Error(`bench mmap: /v1/prerank answered ${r.status}`);
        await new Promise((done) => setTimeout(done, 200));
      }
    }
    // the primary's children are the workers; each got every other connection
    const pids = readFileSync(`/proc/${s.pid}/task/${s.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    return { workers: pids.map((pid) => ({ pid, mem: memory(pid) })), p50ms: lat.sort((a, b) => a - b)[lat.length >> 1] };
  } finally {
    await s.stop();
  }
}

async function annBuild(n: number, dim: number): Promise<Record<string, number>> {
  const rng = new Rng(5);
  const reps = Float32Array.from({ length: n * dim }, () => rng.uniform() - 0.5);
  const out: Record<string, number> = {};
  for (const threads of [1, availableParallelism()]) {
    const index = await newUsearch(dim);
    const cpu0 = process.cpuUsage();
    const [s] = await seconds(() => addRows(index, reps, dim, Math.max(1024, Math.ceil(n / 100)), threads));
    const cpu = process.cpuUsage(cpu0);
    out[`threads_${threads}_s`] = s;
    out[`threads_${threads}_cpu_s`] = (cpu.user + cpu.system) / 1e6;
    console.log(`ANN build, ${n} x ${dim}, ${threads} thread(s): ${s.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`);
  }
  return out;
}

export async function benchMmap(args: string[]): Promise<void> {
  const n = opt(args, 'items', 1_000_000), dim = opt(args, 'dim', 128), requests = opt(args, 'requests', 400), annItems = opt(args, 'ann-items', 0);
  const cpu = engineInfo().cpu;
  console.log(`bench mmap: ${n} items x ${dim} float32 (${((n * dim * 4) / 2 ** 20).toFixed(0)} MiB), CPU ${cpu}, ${availableParallelism()} cores`);
  const work = mkdtempSync(join(tmpdir(), 'prerank-bench-mmap-'));
  try {
    const dir = await syntheticBundle(work, n, dim);
    execSync('sync'); // written pages still dirty in the page cache would count as the first mapper's private memory
    const [mapped, b] = await seconds(() => Bundle.load(dir, { verify: 'defer' }));
    const [check] = await seconds(() => b.verifyDeferred());
    const [heap] = await seconds(() => Bundle.load(dir, { map: false }));
    // the table alone (Bundle.load also opens the ids and reads the weights)
    const fail = (msg: string) => new Error(msg);
    const [open] = await seconds(() => openItemTable(dir, b.manifest, b.items!.ids, { verify: 'defer', read: async () => Buffer.alloc(0), fail }));
    console.log(`Bundle.load, table mapped (sha256 deferred): ${mapped.toFixed(3)} s; the deferred sha256: ${check.toFixed(2)} s; `
      + `table read into the heap and hashed: ${heap.toFixed(2)} s`);
    console.log(`the item table alone, mapped: ${(open * 1000).toFixed(2)} ms`);
    const { workers, p50ms } = await workersMemory(dir, (rng) => `i${rng.int(n)}`, requests);
    for (const w of workers) console.log(`worker ${w.pid}: ${JSON.stringify(w.mem)} MiB`);
    console.log(`${requests} requests of k = 1,000 random candidates over HTTP (a new connection each): p50 ${p50ms.toFixed(2)} ms`);
    const second = workers[1] ?? workers[0];
    const ann = annItems > 0 ? await annBuild(annItems, dim) : null;
    console.log(JSON.stringify({ cpu, items: n, dim, dtype: 'float32', table_mib: Math.round((n * dim * 4) / 2 ** 20), bundle_load_s: mapped, table_open_ms: open * 1000,
      deferred_sha256_s: check, heap_load_s: heap, second_worker_private_mib: privateMiB(second),
      second_worker_pss_mib: second.mem.Pss, http_k1000_p50_ms: p50ms, workers, ...(ann ? { ann_items: annItems, ann } : {}) }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
