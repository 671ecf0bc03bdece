// `npm run bench -- retrieve [--size S|M | --items N] [--epochs 1 | --steps N] [--items32 N] [--queries 100]
//   [--dir .retrieve] [--models dssm,inttower,inttower32,ranktower] [--no-ml1m] [--no-compare] [--reuse]
//   [--head-index hnsw,centroids] [--centroids C] [--html report.html]`: retrieval over the whole corpus.
// Corpora: ML-1M partial (configs/data/ml-1m-partial.json: every movie) and a synthetic log written by `prerank data
// synth`'s generator (src/data/synth-log.ts, seed 1; reused when the folder holds the same counts): --size names one
// of its sizes (S: 1M events, 100k items, 200k users; M: 10M events, 1M items, 2M users; the default is M), --items N
// instead a log of N items with events = max(200k, 2 x N) and users = max(10k, N / 2).
// Per corpus and model: --epochs passes over the training split (default 1; batch 2048, Adam, from the encoded
// cache; --steps N instead a fixed count) so the item reps leave their initialisation, then the export: item tower
// over every item (the item reps), the retrieval index as a bundle gets it (timed: index build s, bytes);
// --reuse: a bundle an earlier run left in the folder is measured as it is (no training, no build time), and a bundle
// that is not there yet is exported from the run the folder kept. --centroids C: the centroid head index gets C
// centroids instead of the export's default (its own bundle, named with C, so runs with several counts sit side by side).
// IntTower 32 x 64 indexes the first --items32 items (default min(items, 200k)): 32 head vectors per item.
// Then the service's scorer (Deployment, memory store) answers --queries users drawn at random, each given by its id
// only (its other features missing): exact mode (every item through the native plan: the truth, and exact p50),
// then the index path at several settings: p50/p99 latency of the whole request and recall@100 against exact, each
// setting's timed pass after its first 10 queries ran once untimed.
// --compare (default on up to 100k items): IntTower's head index as one index over N x H vectors in f32, f16 and i8
// vs one index per head (f32): build s, bytes, recall@100 at k' = ef = 128. Last line: one JSON object.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { SYNTH_SIZES, writeSynthLog, type CachedDataset, type Dataset, type SynthSize } from '../src/data/index.js';
import type { Batch } from '../src/data/batch.js';
import { exportBundle } from '../src/export/index.js';
import { fromRunDir, type ExportOptions, type ExportSource } from '../src/export/export-bundle.js';
import type { BundleManifest, SearchDefaults } from '../src/export/manifest.js';
import { Deployment } from '../src/serve/service.js';
import type { UserFeatures } from '../src/serve/scorer.js';
import { buildModel, createOptimizer, loadData, parseTrainConfig, saveCheckpoint } from '../src/train/index.js';
import { runConfigJson } from '../src/train/config.js';
import { trainStep } from '../src/train/step.js';
import { percentile } from '../src/util/stats.js';
import { peakRssMiB } from '../src/util/proc.js';
import { cpuModel } from './proc.js';
import { compareHeadIndexes } from './retrieve-compare.js';
import { K, round, sweep, timed, truthOf, type Truth } from './retrieve-sweep.js';
import { renderRetrieveReport, settingLabel } from './retrieve-html.js';

const BATCH = 2048;
/** Untimed searches for other users before a bundle's settings are timed. */
const WARM_QUERIES = 300;
// The dropout, CIR weight and temperature the committed results were measured with (the defaults before 2026-12-05).
const MODELS = {
  dssm: { kind: 'dssm', config: { dropout: 0.3 } },
  inttower: { kind: 'int-tower', config: { dropout: 0.3, cirWeight: 0.1 } },
  inttower32: { kind: 'int-tower', config: { heads: 32, headSize: 64, dropout: 0.3, cirWeight: 0.1 } },
  ranktower: { kind: 'rank-tower', config: { dropout: 0.3, temperature: 0.2 } },
} as const;
type ModelKey = keyof typeof MODELS;
type Row = Record<string, number | string | null>;

/** The value of `--name V` or `--name=V`. */
export const opt = (args: string[], name: string): string | undefined => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
};

/**
 * A corpus's data as a run of its config gets it (cached when the config has a cache section, else in memory), so a
 * run the bench saved loads back (fromRunDir) on the same split and vocabularies.
 */
export type BenchData = Dataset | CachedDataset;
export const openData = async (cfgPath: string): Promise<BenchData> => await loadData({ data: { config: cfgPath } }) as BenchData;

/** Counts of a synthetic corpus: a named size of the generator, or `items` items with the counts scaled from them. */
function synthCounts(size: string | undefined, items: number | undefined): { name: string; events: number; users: number; items: number } {
  if (items !== undefined) {
    if (!Number.isSafeInteger(items) || items < 1) throw new Error(`--items: expected a positive integer, got ${items}`);
    return { name: String(items), events: Math.max(200_000, 2 * items), users: Math.max(10_000, Math.floor(items / 2)), items };
  }
  const s = size ?? 'M';
  if (!(s in SYNTH_SIZES)) throw new Error(`--size: expected one of ${Object.keys(SYNTH_SIZES).join(', ')}, got '${s}'`);
  return { name: s, ...SYNTH_SIZES[s as SynthSize] };
}

/** The synthetic corpus of those counts (written once per folder). */
async function synthCorpus(dir: string, want: { events: number; users: number; items: number }): Promise<string> {
  const meta = join(dir, 'synth.json');
  const have = existsSync(meta) ? JSON.parse(readFileSync(meta, 'utf8')) as typeof want : null;
  if (!have || have.events !== want.events || have.items !== want.items || have.users !== want.users) {
    const t0 = performance.now();
    await writeSynthLog(dir, { ...want, seed: 1 });
    console.log(`synthetic log: ${JSON.stringify(want)} in ${round((performance.now() - t0) / 1000, 1)} s`);
  }
  return join(dir, 'config.json');
}

/** The training budget: a fixed step count, or `epochs` passes over the training split at BATCH rows a step. */
type Budget = { steps: number } | { epochs: number };

/**
 * The training budget of a model, saved as a run under `run`; --reuse: a run already there is loaded instead (no
 * training). The model and its dataset, and the steps and seconds trained (NaN when loaded).
 */
async function trained(cfgPath: string, key: ModelKey, budget: Budget, run: string, reuse: boolean) {
  if (reuse && existsSync(join(run, 'best'))) {
    console.log(`  ${key}: the run in ${run}, exported again`);
    return { src: await fromRunDir(run) as ExportSource & { dataset: BenchData }, steps: NaN, trainS: NaN };
  }
  const ds = await openData(cfgPath);
  const cfg = parseTrainConfig({ model: MODELS[key], data: { config: cfgPath }, batchSize: BATCH, seed: 1, outDir: run });
  const model = buildModel(cfg, ds);
  const o = createOptimizer(model, cfg.optimizer);
  const steps = 'steps' in budget ? budget.steps : Math.ceil((budget.epochs * ds.splitSize('train')) / BATCH);
  const t0 = performance.now();
  let step = 0;
  for (let epoch = 0; step < steps; epoch++) {
    for (const b of ds.batches('train', { batchSize: BATCH, seed: 1 }).epoch(epoch)) {
      trainStep(model, o, b, undefined, `${key} step ${step}`);
      if (++step >= steps) break;
      if (step % 250 === 0) console.log(`  ${key}: step ${step} of ${steps}, ${round((performance.now() - t0) / 1000, 0)} s`);
    }
  }
  const trainS = (performance.now() - t0) / 1000;
  console.log(`  ${key}: ${steps} steps of ${BATCH} (${round((steps * BATCH) / ds.splitSize('train'), 2)} epochs) in ${round(trainS, 0)} s`);
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'config.json'), runConfigJson(cfg));
  await saveCheckpoint(join(run, 'best'), model, null, { epoch: 0 });
  return { src: { model, dataset: ds, config: cfg.model } as ExportSource & { dataset: BenchData }, steps, trainS };
}

/** The bundle of a trained model over the first `maxItems` items with its retrieval index (build seconds, bytes). */
async function exported(src: ExportSource & { dataset: BenchData }, out: string, maxItems: number, exportOpts: ExportOptions) {
  const ds = src.dataset;
  const keys = ds.itemKeys.slice(0, maxItems);
  rmSync(out, { recursive: true, force: true });
  const items = { keys, batch: (c: number) => ds.itemBatch(c), fill: (b: Batch, ids: Int32Array) => ds.fillItems(b, ids) };
  const r = await exportBundle({ model: src.model, dataset: ds, config: src.config, items }, out, { itemDtype: 'float32', ...exportOpts });
  const info = r.manifest.items.cached ? r.manifest.items.retrievalIndex : undefined;
  const file = info && info.kind !== 'none' ? info.file : null;
  return { indexS: r.indexSeconds, indexBytes: file ? statSync(join(out, file)).size : 0, items: keys.length, kind: info?.kind ?? 'none',
    users: ds.userKeys, userKey: ds.encoders.spec.keys.user };
}

/** A bundle an earlier run exported (--reuse): its index as it is, build time unknown. */
function reused(out: string, users: string[], userKey: string) {
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as BundleManifest;
  const info = m.items.cached ? m.items.retrievalIndex : undefined;
  const file = info && info.kind !== 'none' ? info.file : null;
  console.log(`reusing ${out} (exported ${m.createdAt}; index ${info?.kind ?? 'none'}, ${info && 'vectors' in info && info.vectors ? 'augmented' : 'raw'} vectors)`);
  return { indexS: NaN, indexBytes: file ? statSync(join(out, file)).size : 0, items: m.items.count, kind: info?.kind ?? 'none', users, userKey };
}

const GRIDS: Record<string, Partial<SearchDefaults>[]> = {
  'inner-product': [{ perHead: 100, ef: 512 }, { perHead: 400, ef: 512 }, { ef: 1024 }, { ef: 2048 }, { ef: 4096 }],
  'multi-vector': [
    { perHead: 0, sumDepth: 256, sumGroups: 1, ef: 256 }, { perHead: 0, sumDepth: 1024, sumGroups: 3, ef: 1024 },
    { perHead: 0, sumDepth: 4096, sumGroups: 3, ef: 4096 }, { perHead: 64, sumDepth: 1024, sumGroups: 3, ef: 64 },
    { perHead: 128, sumDepth: 1024, sumGroups: 3, ef: 128 }, { perHead: 256, sumDepth: 256, sumGroups: 1, ef: 256, maxCandidates: 8192 },
    { perHead: 256, sumDepth: 1024, sumGroups: 3, ef: 256, maxCandidates: 8192 }, { perHead: 512, sumDepth: 512, sumGroups: 1, ef: 512, maxCandidates: 16384 },
  ],
  'multi-vector-centroids': [
    { nprobe: 2 }, { nprobe: 4 }, { nprobe: 8 }, { nprobe: 1, maxCandidates: 2048 }, { nprobe: 1, maxCandidates: 4096 },
    { nprobe: 1, maxCandidates: 16384 }, { nprobe: 2, maxCandidates: 4096 }, { nprobe: 2, maxCandidates: 16384 },
    { nprobe: 4, maxCandidates: 2048 }, { nprobe: 4, maxCandidates: 4096 }, { nprobe: 8, maxCandidates: 4096 },
  ],
};

async function measure(corpus: string, key: ModelKey, bundle: string, queries: UserFeatures[], warm: UserFeatures[], o: { compare: boolean; dir: string }): Promise<Row[]> {
  const d = await Deployment.open(bundle);
  try {
    const truth: Truth[] = [];
    const exactLat: number[] = [];
    for (const user of queries) {
      const [r, ms] = await timed(() => d.scorer.retrieve({ user, k: K, mode: 'exact' }));
      exactLat.push(ms);
      truth.push(truthOf(r));
    }
    const exactP50 = round(percentile(exactLat, 0.5), 3);
    console.log(`  ${corpus} ${key}: exact mode p50 ${exactP50} ms, p99 ${round(percentile(exactLat, 0.99), 3)} ms (${d.bundle.items!.ids.size} items)`);
    // Other users' searches, untimed, after the exact scans (which sweep the whole table through the caches): a
    // served index has been searched before, and the first searches of a freshly mapped one fault in its pages (the
    // first setting timed would pay that, the others not).
    if (d.ann) for (const user of warm) await d.scorer.retrieve({ user, k: K });
    const rows: Row[] = [];
    const defaults = d.ann?.defaults;
    for (const setting of d.ann ? [{}, ...GRIDS[d.ann.index]] : []) {
      const r = await sweep(d.scorer, queries, truth, setting);
      const shown = { ...defaults!, ...setting };
      const perHead = d.ann!.index === 'inner-product' ? Math.max(K, shown.perHead) : shown.perHead; // inner product: at least k
      const row: Row = { corpus, model: key, index: d.ann!.index, nprobe: shown.nprobe ?? null, per_head: perHead, sum_depth: shown.sumDepth ?? 0, sum_groups: shown.sumGroups ?? 1, ef: shown.ef ?? null, max_candidates: shown.maxCandidates ?? null, default: Object.keys(setting).length ? 0 : 1,
        p50_ms: r.p50, p99_ms: r.p99, recall_at_100: r.recall, exact_p50_ms: exactP50 };
      console.log(`    ${settingLabel(row)}: p50 ${r.p50} ms, p99 ${r.p99} ms, recall@${K} ${r.recall}, ${round(exactP50 / r.p50, 1)}x faster than exact`);
      rows.push(row);
    }
    if (o.compare && d.ann?.index === 'multi-vector') await compareHeadIndexes(d, queries, truth, join(o.dir, 'compare'));
    return rows;
  } finally {
    await d.close();
  }
}

export async function benchRetrieve(args: string[]): Promise<void> {
  const corpus = synthCounts(opt(args, 'size'), opt(args, 'items') === undefined ? undefined : Number(opt(args, 'items')));
  const items = corpus.items;
  const items32 = Number(opt(args, 'items32') ?? Math.min(items, 200_000));
  const budget: Budget = opt(args, 'steps') !== undefined ? { steps: Number(opt(args, 'steps')) } : { epochs: Number(opt(args, 'epochs') ?? 1) };
  const n = 'steps' in budget ? budget.steps : budget.epochs;
  if (!(n > 0) || !Number.isFinite(n) || ('steps' in budget && !Number.isInteger(n))) throw new Error(`--${'steps' in budget ? 'steps' : 'epochs'}: expected a positive number, got ${n}`);
  const nq = Number(opt(args, 'queries') ?? 100);
  const dir = resolve(opt(args, 'dir') ?? '.retrieve');
  const keys = (opt(args, 'models') ?? Object.keys(MODELS).join(',')).split(',') as ModelKey[];
  for (const k of keys) if (!(k in MODELS)) throw new Error(`--models: unknown model '${k}' (known: ${Object.keys(MODELS).join(', ')})`);
  const compare = !args.includes('--no-compare') && items <= 100_000;
  const reuse = args.includes('--reuse');
  const headIndexes = (opt(args, 'head-index') ?? 'hnsw,centroids').split(',');
  const centroids = opt(args, 'centroids') === undefined ? 0 : Number(opt(args, 'centroids'));
  if (!(Number.isInteger(centroids) && centroids >= 0)) throw new Error(`--centroids: expected a count of centroids, got '${opt(args, 'centroids')}'`);
  for (const h of headIndexes) if (h !== 'hnsw' && h !== 'centroids') throw new Error(`--head-index: unknown kind '${h}' (known: hnsw, centroids)`);
  const info = engineInfo();
  const t0 = performance.now();
  console.log(`CPU: ${cpuModel()}; ISA path: ${info.isa}; pool threads: ${info.threads}; corpus ${corpus.name} (${corpus.events} events, ${items} items, ${corpus.users} users; IntTower 32 x 64: ${items32} items); training ${'steps' in budget ? `${budget.steps} steps` : `${budget.epochs} epoch(s)`} of batch ${BATCH}; ${nq} queries; top-${K}`);
  const corpora: [string, string][] = [];
  if (!args.includes('--no-ml1m')) corpora.push(['ml-1m-partial', resolve('configs/data/ml-1m-partial.json')]);
  corpora.push([`synth-${corpus.name}`, await synthCorpus(join(dir, `synth-${corpus.name}`), { events: corpus.events, users: corpus.users, items })]);
  const rows: Row[] = [];
  const builds: Row[] = [];
  for (const [corpus, cfgPath] of corpora) {
    for (const key of keys) {
      // max-sim models: one bundle per head index kind, from the same trained model (HNSW: the bundle's name alone)
      const kinds = key === 'dssm' ? ['hnsw'] : headIndexes;
      const name = (kind: string) => join(dir, 'bundles', `${corpus}-${key}${kind === 'hnsw' ? '' : `-${kind}${centroids ? centroids : ''}`}`);
      let model: Awaited<ReturnType<typeof trained>> | null = null;
      for (const kind of kinds) {
        const out = name(kind);
        let b: Awaited<ReturnType<typeof exported>> & { steps?: number; trainS?: number };
        if (reuse && existsSync(join(out, 'manifest.json'))) {
          const ds = await openData(cfgPath);
          b = reused(out, ds.userKeys, ds.encoders.spec.keys.user);
        } else {
          model ??= await trained(cfgPath, key, budget, join(dir, 'runs', `${corpus}-${key}`), reuse);
          b = { ...await exported(model.src, out, key === 'inttower32' ? items32 : Infinity, { headIndex: kind as 'hnsw' | 'centroids', centroids }), steps: model.steps, trainS: model.trainS };
        }
        console.log(`${corpus} ${key}: ${b.items} items, ${b.kind} index built in ${round(b.indexS, 1)} s, ${round(b.indexBytes / 2 ** 20, 1)} MiB; peak RSS ${round(peakRssMiB() ?? NaN, 0)} MiB`);
        builds.push({ corpus, model: key, items: b.items, train_steps: b.steps ?? null, train_s: b.trainS === undefined ? null : round(b.trainS, 0), index: b.kind,
          index_build_s: round(b.indexS, 1), index_mib: round(b.indexBytes / 2 ** 20, 1) });
        const rng = new Rng(7);
        const queries = Array.from({ length: nq }, () => ({ [b.userKey]: b.users[rng.int(b.users.length)] }));
        const other = new Rng(8);
        const warm = Array.from({ length: WARM_QUERIES }, () => ({ [b.userKey]: b.users[other.int(b.users.length)] }));
        rows.push(...await measure(corpus, key, out, queries, warm, { compare: compare && key === 'inttower' && kind === 'hnsw' && corpus.startsWith('synth'), dir }));
      }
    }
  }
  // the bundle default of a model's synthetic rows (max-sim: of the centroid index when there is one, else HNSW)
  const synth = rows.filter((r) => String(r.corpus).startsWith('synth'));
  const pick = (model: ModelKey, index?: string): Row | undefined => synth.find((r) => r.model === model && r.default === 1 && (!index || r.index === index));
  const it = pick('inttower', 'multi-vector-centroids') ?? pick('inttower'), ds = pick('dssm'), itHnsw = pick('inttower', 'multi-vector');
  // the fastest setting (by p99) of each synthetic row that reaches the recall target
  const atTarget = (model: ModelKey, target: number): Row | null => synth.filter((r) => r.model === model && Number(r.recall_at_100) >= target)
    .sort((a, b) => Number(a.p99_ms) - Number(b.p99_ms))[0] ?? null;
  console.log(`total ${round((performance.now() - t0) / 1000, 0)} s; peak RSS ${round(peakRssMiB() ?? NaN, 0)} MiB`);
  const result = {
    cpu: info.cpu, cpu_model: cpuModel(), isa: info.isa, corpus: corpus.name, events: corpus.events, items, date: new Date().toISOString().slice(0, 10),
    inttower_recall_at_100: it?.recall_at_100 ?? null, inttower_p99_ms: it?.p99_ms ?? null, exact_p50_ms: it?.exact_p50_ms ?? null,
    inttower_index: it?.index ?? null, inttower_speedup_p99_vs_exact_p50: it ? round(Number(it.exact_p50_ms) / Number(it.p99_ms), 1) : null,
    inttower_hnsw_recall_at_100: itHnsw?.recall_at_100 ?? null, inttower_hnsw_p99_ms: itHnsw?.p99_ms ?? null,
    dssm_recall_at_100: ds?.recall_at_100 ?? null, dssm_p99_ms: ds?.p99_ms ?? null,
    inttower_fastest_at_0_95: atTarget('inttower', 0.95), dssm_fastest_at_0_98: atTarget('dssm', 0.98), builds, curve: rows,
  };
  const html = opt(args, 'html');
  if (html) writeFileSync(html, renderRetrieveReport([{ ...result, label: `${corpus.name}, ${result.date}` }]));
  console.log(JSON.stringify(result));
}
