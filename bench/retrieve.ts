// `npm run bench -- retrieve [--items 1000000] [--items32 N] [--steps 300] [--queries 100] [--dir .retrieve]
//   [--models dssm,inttower,inttower32,ranktower] [--no-ml1m] [--no-compare] [--reuse]`: retrieval over the whole corpus.
// Corpora: ML-1M partial (configs/data/ml-1m-partial.json: every movie) and a synthetic log of --items items written
// by `prerank data synth`'s generator (src/data/synth-log.ts: events = max(200k, 2 x items), users = max(10k,
// items / 2), seed 1; reused when the folder holds the same counts). Per corpus and model: --steps training steps
// (batch 2048, Adam, from the encoded cache) so the towers are not at their initialisation, then the export:
// item tower over every item (the item reps), the retrieval index as a bundle gets it (timed: index build s, bytes);
// --reuse: a bundle an earlier run left in the folder is measured as it is (no training, no build time).
// IntTower 32 x 64 indexes the first --items32 items (default min(items, 200k)): 32 head vectors per item.
// Then the service's scorer (Deployment, memory store) answers --queries users drawn at random, each given by its id
// only (its other features missing): exact mode (every item through the native plan: the truth, and exact p50),
// then the index path at several k'/ef settings: p50/p99 latency of the whole request and recall@100 against exact.
// --compare (default on up to 100k items): IntTower's head index as one index over N x H vectors in f32, f16 and i8
// vs one index per head (f32): build s, bytes, recall@100 at k' = ef = 128. Last line: one JSON object.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { CachedDataset, loadDataConfig, writeSynthLog } from '../src/data/index.js';
import type { Batch } from '../src/data/batch.js';
import { exportBundle } from '../src/export/index.js';
import type { BundleManifest, SearchDefaults } from '../src/export/manifest.js';
import { Deployment } from '../src/serve/service.js';
import type { ScoreResponse, Scorer, UserFeatures } from '../src/serve/scorer.js';
import { buildModel, createOptimizer, parseTrainConfig } from '../src/train/index.js';
import { trainStep } from '../src/train/step.js';
import { percentile } from '../src/util/stats.js';
import { peakRssMiB } from '../src/util/proc.js';
import { cpuModel } from './proc.js';
import { compareHeadIndexes } from './retrieve-compare.js';

const K = 100;
const BATCH = 2048;
// The dropout, CIR weight and temperature the committed results were measured with (the defaults before 2026-12-05).
const MODELS = {
  dssm: { kind: 'dssm', config: { dropout: 0.3 } },
  inttower: { kind: 'int-tower', config: { dropout: 0.3, cirWeight: 0.1 } },
  inttower32: { kind: 'int-tower', config: { heads: 32, headSize: 64, dropout: 0.3, cirWeight: 0.1 } },
  ranktower: { kind: 'rank-tower', config: { dropout: 0.3, temperature: 0.2 } },
} as const;
type ModelKey = keyof typeof MODELS;
type Row = Record<string, number | string | null>;

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const opt = (args: string[], name: string): string | undefined => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
};

/** The synthetic corpus of `items` items (written once per folder and size). */
async function synthCorpus(dir: string, items: number): Promise<string> {
  const want = { events: Math.max(200_000, 2 * items), users: Math.max(10_000, Math.floor(items / 2)), items };
  const meta = join(dir, 'synth.json');
  const have = existsSync(meta) ? JSON.parse(readFileSync(meta, 'utf8')) as typeof want : null;
  if (!have || have.events !== want.events || have.items !== want.items || have.users !== want.users) {
    const t0 = performance.now();
    await writeSynthLog(dir, { ...want, seed: 1 });
    console.log(`synthetic log: ${JSON.stringify(want)} in ${round((performance.now() - t0) / 1000, 1)} s`);
  }
  return join(dir, 'config.json');
}

/**
 * --steps training steps of a model, then its bundle over the first `maxItems` items with the retrieval index (build
 * seconds, bytes); also the dataset's user ids and key column for the queries.
 */
async function trainAndExport(cfgPath: string, key: ModelKey, steps: number, out: string, maxItems: number, reuse: boolean) {
  const ds = await CachedDataset.open(loadDataConfig(cfgPath));
  if (reuse && existsSync(join(out, 'manifest.json'))) return reused(out, ds.userKeys, ds.encoders.spec.keys.user);
  const cfg = parseTrainConfig({ model: MODELS[key], data: { config: cfgPath }, batchSize: BATCH, seed: 1, outDir: out });
  const model = buildModel(cfg, ds);
  const o = createOptimizer(model, cfg.optimizer);
  let step = 0;
  for (let epoch = 0; step < steps; epoch++) {
    for (const b of ds.batches('train', { batchSize: BATCH, seed: 1 }).epoch(epoch)) {
      trainStep(model, o, b, undefined, `${key} step ${step}`);
      if (++step >= steps) break;
    }
  }
  const keys = ds.itemKeys.slice(0, maxItems);
  rmSync(out, { recursive: true, force: true });
  const items = { keys, batch: (c: number) => ds.itemBatch(c), fill: (b: Batch, ids: Int32Array) => ds.fillItems(b, ids) };
  const r = await exportBundle({ model, dataset: ds, config: cfg.model, items }, out, { itemDtype: 'float32' });
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
  console.log(`reusing ${out} (exported ${m.createdAt}; index ${info?.kind ?? 'none'}, ${info && info.kind !== 'none' && info.vectors ? 'augmented' : 'raw'} vectors)`);
  return { indexS: NaN, indexBytes: file ? statSync(join(out, file)).size : 0, items: m.items.count, kind: info?.kind ?? 'none', users, userKey };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

/** A query's exact answer: its top-K ids and the K-th best score. */
export interface Truth {
  ids: Set<string>;
  kth: number;
}

export const truthOf = (r: ScoreResponse): Truth => ({ ids: new Set(r.items.map((x) => String(x.id))), kth: r.items.at(-1)?.score ?? -Infinity });

/**
 * p50/p99 and recall@K against the exact answers of the same queries. An item the index path returns counts as found
 * when it is in the exact top-K or scores at least the exact K-th score (the path rescores exactly): items tied with
 * the K-th are equally right answers, and a briefly trained model over many items gives many such ties.
 */
export async function sweep(s: Scorer, queries: UserFeatures[], truth: Truth[], req: Partial<SearchDefaults> & { mode?: 'ann' | 'exact' }): Promise<{ p50: number; p99: number; recall: number }> {
  const lat: number[] = [];
  let hits = 0, total = 0;
  for (let q = 0; q < queries.length; q++) {
    const [r, ms] = await timed(() => s.retrieve({ user: queries[q], k: K, ...req }));
    lat.push(ms);
    const t = truth[q];
    hits += Math.min(t.ids.size, r.items.filter((x) => t.ids.has(String(x.id)) || x.score >= t.kth).length);
    total += t.ids.size;
  }
  return { p50: round(percentile(lat, 0.5), 3), p99: round(percentile(lat, 0.99), 3), recall: round(hits / total, 4) };
}

const GRIDS: Record<string, Partial<SearchDefaults>[]> = {
  'inner-product': [{ perHead: 100, ef: 512 }, { perHead: 400, ef: 512 }, { ef: 1024 }, { ef: 2048 }, { ef: 4096 }],
  'multi-vector': [
    { perHead: 0, sumDepth: 256, sumGroups: 1, ef: 256 }, { perHead: 0, sumDepth: 1024, sumGroups: 3, ef: 1024 },
    { perHead: 0, sumDepth: 4096, sumGroups: 3, ef: 4096 }, { perHead: 64, sumDepth: 1024, sumGroups: 3, ef: 64 },
    { perHead: 128, sumDepth: 1024, sumGroups: 3, ef: 128 }, { perHead: 256, sumDepth: 256, sumGroups: 1, ef: 256, maxCandidates: 8192 },
    { perHead: 256, sumDepth: 1024, sumGroups: 3, ef: 256, maxCandidates: 8192 }, { perHead: 512, sumDepth: 512, sumGroups: 1, ef: 512, maxCandidates: 16384 },
  ],
};

async function measure(corpus: string, key: ModelKey, bundle: string, queries: UserFeatures[], o: { compare: boolean; dir: string }): Promise<Row[]> {
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
    const rows: Row[] = [];
    const defaults = d.ann?.defaults;
    for (const setting of d.ann ? [{}, ...GRIDS[d.ann.index]] : []) {
      const r = await sweep(d.scorer, queries, truth, setting);
      const shown = { ...defaults!, ...setting };
      const label = Object.keys(setting).length ? '' : ' (bundle default)';
      const perHead = d.ann!.index === 'inner-product' ? Math.max(K, shown.perHead) : shown.perHead; // inner product: at least k
      console.log(`    k'=${perHead} sum=${shown.sumDepth ?? 0}x${shown.sumGroups ?? 1} ef=${shown.ef} cap=${shown.maxCandidates}${label}: p50 ${r.p50} ms, p99 ${r.p99} ms, recall@${K} ${r.recall}, ${round(exactP50 / r.p50, 1)}x faster than exact`);
      rows.push({ corpus, model: key, per_head: perHead, sum_depth: shown.sumDepth ?? 0, sum_groups: shown.sumGroups ?? 1, ef: shown.ef ?? null, max_candidates: shown.maxCandidates ?? null, default: label ? 1 : 0,
        p50_ms: r.p50, p99_ms: r.p99, recall_at_100: r.recall, exact_p50_ms: exactP50 });
    }
    if (o.compare && d.ann?.index === 'multi-vector') await compareHeadIndexes(d, queries, truth, join(o.dir, 'compare'));
    return rows;
  } finally {
    await d.close();
  }
}

export async function benchRetrieve(args: string[]): Promise<void> {
  const items = Number(opt(args, 'items') ?? 1_000_000);
  const items32 = Number(opt(args, 'items32') ?? Math.min(items, 200_000));
  const steps = Number(opt(args, 'steps') ?? 300);
  const nq = Number(opt(args, 'queries') ?? 100);
  const dir = resolve(opt(args, 'dir') ?? '.retrieve');
  const keys = (opt(args, 'models') ?? Object.keys(MODELS).join(',')).split(',') as ModelKey[];
  for (const k of keys) if (!(k in MODELS)) throw new Error(`--models: unknown model '${k}' (known: ${Object.keys(MODELS).join(', ')})`);
  const compare = !args.includes('--no-compare') && items <= 100_000;
  const info = engineInfo();
  const t0 = performance.now();
  console.log(`CPU: ${cpuModel()}; ISA path: ${info.isa}; pool threads: ${info.threads}; items ${items} (IntTower 32 x 64: ${items32}); ${steps} training steps; ${nq} queries; top-${K}`);
  const corpora: [string, string][] = [];
  if (!args.includes('--no-ml1m')) corpora.push(['ml-1m-partial', resolve('configs/data/ml-1m-partial.json')]);
  corpora.push([`synth-${items}`, await synthCorpus(join(dir, `synth-${items}`), items)]);
  const rows: Row[] = [];
  const builds: Row[] = [];
  for (const [corpus, cfgPath] of corpora) {
    for (const key of keys) {
      const b = await trainAndExport(cfgPath, key, steps, join(dir, 'bundles', `${corpus}-${key}`), key === 'inttower32' ? items32 : Infinity, args.includes('--reuse'));
      console.log(`${corpus} ${key}: ${b.items} items, ${b.kind} index built in ${round(b.indexS, 1)} s, ${round(b.indexBytes / 2 ** 20, 1)} MiB; peak RSS ${round(peakRssMiB() ?? NaN, 0)} MiB`);
      builds.push({ corpus, model: key, items: b.items, index: b.kind, index_build_s: round(b.indexS, 1), index_mib: round(b.indexBytes / 2 ** 20, 1) });
      const rng = new Rng(7);
      const queries = Array.from({ length: nq }, () => ({ [b.userKey]: b.users[rng.int(b.users.length)] }));
      rows.push(...await measure(corpus, key, join(dir, 'bundles', `${corpus}-${key}`), queries, { compare: compare && key === 'inttower' && corpus.startsWith('synth'), dir }));
    }
  }
  const pick = (model: ModelKey): Row | undefined => rows.find((r) => r.model === model && r.default === 1 && String(r.corpus).startsWith('synth'));
  const it = pick('inttower'), ds = pick('dssm');
  // the fastest setting (by p99) of each synthetic row that reaches the recall target
  const atTarget = (model: ModelKey, target: number): Row | null => rows.filter((r) => r.model === model && String(r.corpus).startsWith('synth')
    && Number(r.recall_at_100) >= target).sort((a, b) => Number(a.p99_ms) - Number(b.p99_ms))[0] ?? null;
  console.log(`total ${round((performance.now() - t0) / 1000, 0)} s; peak RSS ${round(peakRssMiB() ?? NaN, 0)} MiB`);
  console.log(JSON.stringify({
    cpu: info.cpu, cpu_model: cpuModel(), isa: info.isa, items, date: new Date().toISOString().slice(0, 10),
    inttower_recall_at_100: it?.recall_at_100 ?? null, inttower_p99_ms: it?.p99_ms ?? null, exact_p50_ms: it?.exact_p50_ms ?? null,
    inttower_speedup_p99_vs_exact_p50: it ? round(Number(it.exact_p50_ms) / Number(it.p99_ms), 1) : null,
    dssm_recall_at_100: ds?.recall_at_100 ?? null, dssm_p99_ms: ds?.p99_ms ?? null,
    inttower_fastest_at_0_95: atTarget('inttower', 0.95), dssm_fastest_at_0_98: atTarget('dssm', 0.98), builds, curve: rows,
  }));
}
