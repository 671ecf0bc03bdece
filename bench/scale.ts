// `npm run bench -- scale --size S|M|L [--dir .scale] [--steps 200] [--requests 500] [--ann-items 1000000] [--stages a,b,...]`: the whole path at
// a named size of `prerank data synth` (S 1M events / 100k items, M 10M / 1M, L 100M / 10M), stage by stage, each
// stage in its own process so its peak RSS (VmHWM) is its own:
//   synth     the Parquet log (reused when the folder already holds this size and seed)
//   encode    ingest + fit in DuckDB + the encoded on-disk cache (built from scratch): rows/s, seconds
//   train     DSSM and IntTower, --steps steps of batch 4096 after 20 warm-up steps, from the cache (samples/s); at
//             M and L the same on S as well, in this run, for the ratio the issue asks (`train_samples_per_s_S`)
//   export    the DSSM run as a float32 bundle with its HNSW index, and the same model over the first 10k items
//   load      Bundle.load of the full bundle in a fresh process, as `prerank serve` loads it (the mapped files'
//             sha256 deferred, then timed on its own); then `prerank serve --workers 2` over it, k = 1,000 random
//             candidates, and the second worker's private memory (`second_worker_rss_mib`, bench/mmap.ts)
//   serve     k = 1,000 random candidates per request through the service's scorer (fresh id strings, through JSON
//             as a request body brings them), the full table and the 10k one alternating in blocks of 50: p50 / p99,
//             and how much of the mapped files is resident and how much of that mapped with 2 MiB entries
//   ann       usearch over the item table's first --ann-items rows (all of S and M), built as the export builds it
//             (every core), recall@100 against exact search for 200 queries
//   redis     the same requests through a 3-master Redis Cluster (test/redis-cluster-fixture.ts), default URL settings: the
//             first start publishes the table (its writes bounded by ?publishTimeout=, not the 1,000 ms lookup bound)
// Prints each stage as it ends and, last, one JSON object. Not in CI: M takes minutes, L hours.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { CachedDataset, loadDataConfig, SYNTH_SIZES, writeSynthLog, type SynthSize } from '../src/data/index.js';
import { exportBundle, Bundle } from '../src/export/index.js';
import { annThreads, saveAnnIndex } from '../src/export/ann-index.js';
import { fromRunDir } from '../src/export/export-bundle.js';
import { firstIds } from '../src/export/id-table.js';
import { decodeAll } from '../src/export/item-table.js';
import { BruteForceIndex, buildAnnIndex } from '../src/serve/ann.js';
import { Deployment } from '../src/serve/service.js';
import { buildModel, createOptimizer, parseTrainConfig, saveCheckpoint } from '../src/train/index.js';
import { runConfigJson } from '../src/train/config.js';
import { trainStep } from '../src/train/step.js';
import { peakRssMiB } from '../src/util/proc.js';
import { cpuModel, fileMappedMiB } from './proc.js';
import { privateMiB, workersMemory } from './mmap.js';
import { alternatingLatency, clusterServeLatency } from './redis-cluster.js';
import { startRedisCluster } from '../test/redis-cluster-fixture.js';

/** The ANN stage indexes at most this many items (the first rows of the table): its build grows with N log N. */
const ANN_ITEMS = 1_000_000;
const STAGES = ['synth', 'encode', 'train', 'export', 'load', 'serve', 'ann', 'redis'] as const;
type Stage = (typeof STAGES)[number];
type Result = Record<string, number | string | boolean | null>;
const BATCH = 4096;
const WARM = 20;

interface Paths { root: string; data: string; config: string; run: (kind: string) => string; bundle: string; bundle10k: string }
const paths = (root: string): Paths => ({
  root, data: join(root, 'data'), config: join(root, 'data', 'config.json'), run: (kind) => join(root, 'runs', kind),
  bundle: join(root, 'bundle'), bundle10k: join(root, 'bundle-10k'),
});

const round = (x: number, d = 2): number => Number(x.toFixed(d));
const peak = (): number => round(peakRssMiB() ?? NaN, 0);
const seconds = (t0: number): number => (performance.now() - t0) / 1000;

async function synth(p: Paths, size: SynthSize): Promise<Result> {
  const want = SYNTH_SIZES[size];
  const meta = join(p.data, 'synth.json');
  if (existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { events?: number; items?: number; users?: number };
    if (m.events === want.events && m.items === want.items && m.users === want.users) return { reused: true, peak_rss_mib: peak() };
  }
  const t0 = performance.now();
  await writeSynthLog(p.data, { ...want, seed: 1 });
  const s = seconds(t0);
  return { reused: false, synth_s: round(s, 1), synth_rows_per_s: Math.round(want.events / s), peak_rss_mib: peak() };
}

async function encode(p: Paths): Promise<Result> {
  const cfg = loadDataConfig(p.config);
  rmSync(join(p.data, '.prerank-cache'), { recursive: true, force: true });
  const t0 = performance.now();
  const ds = await CachedDataset.open(cfg);
  const s = seconds(t0);
  return { encode_s: round(s, 1), ingest_rows_per_s: Math.round(ds.size / s), rows: ds.size, train_rows: ds.splitSize('train'),
    users: ds.userCount, items: ds.itemCount, peak_rss_mib: peak() };
}

/** --steps training steps of `kind` from the cache; the DSSM run is saved for export. */
async function train(p: Paths, kind: string, steps: number): Promise<Result> {
  const ds = await CachedDataset.open(loadDataConfig(p.config), { verify: false });
  const cfg = parseTrainConfig({ model: { kind }, data: { config: p.config }, batchSize: BATCH, seed: 1, outDir: p.run(kind) });
  const model = buildModel(cfg, ds);
  const opt = createOptimizer(model, cfg.optimizer);
  let step = 0, samples = 0, t0 = performance.now();
  for (const b of ds.batches('train', { batchSize: BATCH, seed: 1 }).epoch(0)) {
    if (step === WARM) {
      t0 = performance.now();
      samples = 0;
    }
    trainStep(model, opt, b, undefined, `${kind} step ${step}`);
    samples += b.size;
    if (++step >= steps + WARM) break;
  }
  const s = seconds(t0);
  const params = model.namedParameters().reduce((a, [, t]) => a + t.data.length, 0);
  if (kind === 'dssm') {
    mkdirSync(cfg.outDir, { recursive: true });
    writeFileSync(join(cfg.outDir, 'config.json'), runConfigJson(cfg));
    await saveCheckpoint(join(cfg.outDir, 'best'), model, null, { epoch: 0 });
  }
  return { steps: step - WARM, samples_per_s: Math.round(samples / s), params_m: round(params / 1e6, 1), peak_rss_mib: peak() };
}

async function exportStage(p: Paths): Promise<Result> {
  rmSync(p.bundle, { recursive: true, force: true });
  rmSync(p.bundle10k, { recursive: true, force: true });
  const t0 = performance.now();
  const { seconds: parts } = await exportBundle(p.run('dssm'), p.bundle, { itemDtype: 'float32', annIndex: false });
  const exportS = seconds(t0);
  const src = await fromRunDir(p.run('dssm'));
  const ds = src.dataset;
  const keys = ds.itemKeys.slice(0, 10_000);
  await exportBundle({ ...src, items: { keys, batch: (c) => ds.itemBatch(c), fill: (b, ids) => ds.fillItems(b, ids) } }, p.bundle10k, { annIndex: false });
  const partsS = Object.fromEntries(Object.entries(parts).map(([k, v]) => [`export_${k}_s`, round(v, 1)]));
  return { export_s: round(exportS, 1), ...partsS, exported_items: ds.itemCount, peak_rss_mib: peak() };
}

async function load(p: Paths, requests: number): Promise<Result> {
  // as `prerank serve` loads: the mapped files' sha256 runs after the load, in the background
  const t0 = performance.now();
  const b = await Bundle.load(p.bundle, { verify: 'defer' });
  const s = seconds(t0);
  const t1 = performance.now();
  await b.verifyDeferred();
  const sha = seconds(t1);
  // what a second serving process adds: `prerank serve --workers 2` over the bundle (bench/mmap.ts's measurement)
  const ids = b.items!.ids;
  const { workers } = await workersMemory(p.bundle, (rng) => ids.keyAt(rng.int(ids.size)), Math.min(requests, 200));
  const second = workers[1] ?? workers[0];
  return { bundle_load_s: round(s, 3), deferred_sha256_s: round(sha, 2), items: b.manifest.items.count,
    second_worker_rss_mib: privateMiB(second), second_worker_pss_mib: second.mem.Pss, peak_rss_mib: peak() };
}

/** Serving latency on the full table and the 10k table, alternating blocks of 50 requests after 30 warm-up each. */
async function serve(p: Paths, requests: number): Promise<Result> {
  const deps = [await Deployment.open(p.bundle, { store: 'memory', ann: 'off' }), await Deployment.open(p.bundle10k, { store: 'memory', ann: 'off' })];
  try {
    const rng = new Rng(3);
    const [full, small] = await alternatingLatency(deps.map((deployment) => ({ deployment, itemIds: firstIds(deployment.bundle.items!.ids, Infinity) })),
      { user: () => ({ user_id: String(1 + rng.int(1000)) }), k: 1000, requests, seed: 7 });
    const files = fileMappedMiB();
    return { serve_k1000_p50_ms: round(full.p50), serve_k1000_p99_ms: round(full.p99),
      serve_k1000_p50_ms_10k_items: round(small.p50), serve_k1000_p99_ms_10k_items: round(small.p99),
      file_rss_mib: files?.all ?? null, file_pmd_mapped_mib: files?.pmd ?? null, peak_rss_mib: peak() };
  } finally {
    for (const d of deps) await d.close();
  }
}

/** usearch over the table vs exact search: recall@100 of 200 queries (item reps of random items plus noise). */
async function ann(p: Paths, maxItems: number): Promise<Result> {
  const b = await Bundle.load(p.bundle, { parts: 'item' });
  const t = b.items!;
  const n = Math.min(t.ids.size, maxItems);
  const reps = decodeAll(t).subarray(0, n * t.dim);
  // built as the export builds it (every core), then served from the saved file as a deployment does
  const saved = join(p.root, 'ann.usearch');
  const t0 = performance.now();
  if (!(await saveAnnIndex(reps, t.dim, saved, { progress: undefined }))) throw new Error('usearch is not available');
  const buildS = seconds(t0);
  const built = await buildAnnIndex(reps, t.dim, 'usearch', saved);
  const exact = new BruteForceIndex(reps, t.dim);
  const rng = new Rng(11);
  let hits = 0, total = 0;
  for (let q = 0; q < 200; q++) {
    const row = rng.int(n);
    const query = Float32Array.from(reps.subarray(row * t.dim, (row + 1) * t.dim), (x) => x + 0.1 * rng.normal());
    const truth = new Set(exact.search(query, 100));
    for (const r of built.index.search(query, 100)) if (truth.has(r)) hits++;
    total += truth.size;
  }
  return { ann_kind: built.index.kind, ann_items: n, ann_threads: annThreads(), ann_build_s: round(buildS, 1), ann_recall_at_100: round(hits / total, 4), peak_rss_mib: peak() };
}

async function redis(p: Paths, requests: number): Promise<Result> {
  const cluster = await startRedisCluster();
  try {
    const b = await Bundle.load(p.bundle, { parts: 'item' });
    const t0 = performance.now();
    const [l] = await clusterServeLatency(p.bundle, { urls: [cluster.url], user: { user_id: '1' }, itemIds: firstIds(b.items!.ids, Infinity), k: 1000, requests });
    return { redis_cluster_k1000_p50_ms: round(l.p50), redis_cluster_k1000_p99_ms: round(l.p99), redis_stage_s: round(seconds(t0), 1), peak_rss_mib: peak() };
  } finally {
    await cluster.stop();
  }
}

async function runStage(stage: string, p: Paths, o: { size: SynthSize; steps: number; requests: number; annItems: number; kind?: string }): Promise<Result> {
  switch (stage as Stage) {
    case 'synth': return synth(p, o.size);
    case 'encode': return encode(p);
    case 'train': return train(p, o.kind ?? 'dssm', o.steps);
    case 'export': return exportStage(p);
    case 'load': return load(p, o.requests);
    case 'serve': return serve(p, o.requests);
    case 'ann': return ann(p, o.annItems);
    case 'redis': return redis(p, o.requests);
  }
  throw new Error(`unknown stage '${stage}' (stages: ${STAGES.join(', ')})`);
}

/** Runs one stage in a child process (its own peak RSS) and returns the JSON line it prints last. */
function child(args: string[]): Promise<Result> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, [process.argv[1], 'scale', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) fail(new Error(`stage ${args.join(' ')} exited ${code}:\n${out}`));
      else done(JSON.parse(last) as Result);
    });
  });
}

export async function benchScale(args: string[]): Promise<void> {
  const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
    ?? (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
  const size = (opt('size') ?? 'S').toUpperCase() as SynthSize;
  if (!Object.hasOwn(SYNTH_SIZES, size)) throw new Error(`--size must be S, M or L, got '${opt('size')}'`);
  const steps = Number(opt('steps') ?? 200);
  const requests = Number(opt('requests') ?? 500);
  const annItems = Number(opt('ann-items') ?? ANN_ITEMS);
  const root = resolve(opt('dir') ?? '.scale');
  const stage = opt('stage');
  if (stage) { // a child: one stage, one JSON line
    const r = await runStage(stage, paths(join(root, opt('at') ?? size)), { size: (opt('at') ?? size) as SynthSize, steps, requests, annItems, kind: opt('kind') });
    console.log(JSON.stringify(r));
    return;
  }
  const stages = (opt('stages') ?? STAGES.join(',')).split(',');
  for (const s of stages) if (!(STAGES as readonly string[]).includes(s)) throw new Error(`unknown stage '${s}' (stages: ${STAGES.join(', ')})`);
  const info = engineInfo();
  const cpu = `${cpuModel()} (${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB)`;
  console.log(`CPU: ${cpu}; kernels ${info.isa}; size ${size} (${JSON.stringify(SYNTH_SIZES[size])}); ${steps} steps; work dir ${root}`);
  const out: Result = { cpu, isa: info.isa, size, events: SYNTH_SIZES[size].events, items: SYNTH_SIZES[size].items, users: SYNTH_SIZES[size].users };
  const base = [`--dir=${root}`, `--steps=${steps}`, `--requests=${requests}`, `--ann-items=${annItems}`, `--size=${size}`];
  const run = async (name: string, extra: string[] = [], at: SynthSize = size): Promise<Result> => {
    const t0 = performance.now();
    const r = await child([...base, `--stage=${name}`, `--at=${at}`, ...extra]);
    console.log(`${`${name}${extra.length ? ` ${extra.join(' ')}` : ''}${at !== size ? ` (${at})` : ''}`.padEnd(28)} ${seconds(t0).toFixed(1).padStart(7)} s  ${JSON.stringify(r)}`);
    return r;
  };
  let peakGiB = 0;
  const track = (r: Result): Result => {
    peakGiB = Math.max(peakGiB, Number(r.peak_rss_mib) / 1024);
    return r;
  };
  for (const s of stages) {
    if (s === 'train') {
      for (const kind of ['dssm', 'int-tower']) {
        const key = kind === 'dssm' ? 'dssm' : 'inttower';
        const r = track(await run('train', [`--kind=${kind}`]));
        out[`train_samples_per_s_${key}`] = r.samples_per_s;
        if (size !== 'S') {
          if (kind === 'dssm') {
            await run('synth', [], 'S');
            await run('encode', [], 'S');
          }
          out[`train_samples_per_s_${key}_S`] = (await run('train', [`--kind=${kind}`], 'S')).samples_per_s;
        } else out[`train_samples_per_s_${key}_S`] = r.samples_per_s;
        out[`train_peak_rss_mib_${key}`] = r.peak_rss_mib;
      }
      out.train_samples_per_s = out.train_samples_per_s_dssm;
      out.train_samples_per_s_S = out.train_samples_per_s_dssm_S;
      continue;
    }
    const r = await run(s);
    if (s === 'encode') track(r);
    for (const [k, v] of Object.entries(r)) if (k !== 'peak_rss_mib' && k !== 'reused') out[k] = v;
    out[`${s}_peak_rss_mib`] = r.peak_rss_mib;
  }
  out.peak_rss_gib = round(peakGiB, 2); // ingest + encode + train, each stage's own process
  console.log(`work dir kept for reruns (synth and the cache are reused): ${root}`);
  console.log(JSON.stringify(out));
}
