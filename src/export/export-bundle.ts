// exportBundle: a trained model and its dataset -> a self-contained serving bundle (manifest, encoders, weights,
// item representation table or, for single-tower models, the encoded item features; plus what the training
// strategy declares it adds, e.g. OneBP's stored user encodings under users/). Written into a temporary
// directory and renamed into place (writeDirAtomic), so a reader never sees half a bundle. Shape letters: N items, I item rep
// width, U user rep width, S sampled pairs.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeArrayFile, writeDirAtomic } from '../util/atomic-dir.js';
import { Tensor } from '../core/index.js';
import { loadDataConfig, readItemAttributes, recipeConfig, type RecipeName } from '../data/index.js';
import type { StrategyExport } from '../train/strategies/types.js';
import { buildModel, buildStrategy, inMemory, loadData, loadTrainConfig } from '../train/run.js';
import { hasCheckpoint, loadCheckpoint } from '../train/checkpoint.js';
import { NoDrawRng } from '../nn/init.js';
import { saveTensors } from '../nn/state.js';
import { decodeAll } from './item-table.js';
import { BUNDLE_FORMAT, FILES, fileHash, modelHash, modelVersionOf, type BundleManifest, type ItemsInfo, type StrategyInfo } from './manifest.js';
import { writeRetrievalIndex } from './retrieval-index.js';
import { writeEncodersBin } from './encoders-bin.js';
import { writeEncodersBinFromTables } from './encoders-bin-tables.js';
import { writeIdTable } from './id-table-write.js';
import { attributesJson, MAX_ATTRIBUTE_BYTES, type ItemAttributesInfo } from './item-attributes.js';
import { datasetItems, twoTowerItems, type ExportItems, type ExportOptions, type ExportSource } from './export-items.js';

export type { ExportItems, ExportOptions, ExportSource } from './export-items.js';

export interface ExportResult {
  dir: string;
  manifest: BundleManifest;
  /** Seconds spent building the retrieval index (0: none built). */
  indexSeconds: number;
  /** Wall seconds of each part of the export, in the order they ran (load: the run directory; index: the retrieval index). */
  seconds: Record<string, number>;
}

/** Loads a training run directory (config.json + best/ checkpoint, summary.json when present). */
export async function fromRunDir(runDir: string): Promise<ExportSource> {
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`export: ${runDir} is not a training run (no config.json)`);
  const cfg = loadTrainConfig(cfgPath);
  const ckpt = ['best', 'last'].map((d) => join(runDir, d)).find(hasCheckpoint);
  if (!ckpt) throw new Error(`export: ${runDir} has no checkpoint (best/ or last/)`);
  // the export reads only a sample of test rows: a cache's row files (most of its bytes) are checked per split, when read
  const dataset = await loadData(cfg, undefined, 'entities');
  // every weight comes from the checkpoint: drawing initial values first would be wasted (~1 s per 10M parameters);
  // a strategy may probe the model when it is built (OneBP checks its score), so then the weights are drawn as trained
  const model = buildModel(cfg, dataset, cfg.strategy ? undefined : new NoDrawRng(0));
  const strategy = await buildStrategy(cfg, model, dataset);
  await loadCheckpoint(ckpt, model, null, strategy);
  const summary = join(runDir, 'summary.json');
  const training = existsSync(summary) ? JSON.parse(readFileSync(summary, 'utf8')) : undefined;
  const dataConfig = 'recipe' in cfg.data ? recipeConfig(cfg.data.recipe as RecipeName) : loadDataConfig(cfg.data.config);
  return { model, dataset, config: cfg.model, training, strategy, dataConfig };
}

/** Writes items/attributes.json when the data config has an items file; what the manifest records, if anything. */
async function writeAttributes(src: ExportSource, keys: readonly string[], dir: string): Promise<ItemAttributesInfo | undefined> {
  const a = src.dataConfig ? await readItemAttributes(src.dataConfig, keys, { maxBytes: MAX_ATTRIBUTE_BYTES }) : null;
  if (!a) return undefined;
  const r = 'skipped' in a ? a : attributesJson(a);
  if ('skipped' in r) {
    console.error(`export: ${r.skipped}`);
    return undefined;
  }
  await writeFile(join(dir, FILES.itemAttributes), r.json);
  return r.info;
}

/** Encoded item features of every item entity, as tensors (single-tower serving gathers them per candidate). */
function itemFeatureTensors(items: ExportItems): Map<string, Tensor> {
  const n = items.keys.length;
  const b = items.fill(items.batch(Math.max(1, n)), Int32Array.from({ length: n }, (_, i) => i));
  const t = new Map<string, Tensor>();
  const wrap = (d: Int32Array | Float32Array, shape: number[]) => new Tensor(d, shape, { register: false });
  for (const [k, v] of Object.entries(b.sparse)) t.set(`sparse.${k}`, wrap(v, [n]));
  for (const [k, v] of Object.entries(b.dense)) t.set(`dense.${k}`, wrap(v, [n]));
  for (const [k, s] of Object.entries(b.sequence)) {
    t.set(`sequence.${k}.ids`, wrap(s.ids, [n, s.maxLen]));
    t.set(`sequence.${k}.lengths`, wrap(s.lengths, [n]));
  }
  return t;
}

/** The strategy's declared additions, checked against the model's reps; null when it adds nothing. */
function strategyPart(src: ExportSource, items: ItemsInfo): { info: StrategyInfo; userEncodings?: NonNullable<StrategyExport['userEncodings']> } | null {
  const { strategy, model, dataset: ds } = src;
  const part = strategy?.bundleExport(model, inMemory(ds, `strategy '${strategy.kind}'`));
  if (!strategy || !part) return null;
  const info: StrategyInfo = { kind: strategy.kind, ...(part.info ?? {}) };
  const e = part.userEncodings;
  if (!e) return { info };
  if (!items.cached) throw new Error(`export: strategy '${strategy.kind}' stores user encodings, but '${model.kind}' is a single-tower model`);
  if (e.dim !== items.userDim) throw new Error(`export: strategy '${strategy.kind}' stores ${e.dim}-wide user encodings, the user tower gives ${items.userDim}`);
  if (e.data.length !== e.keys.length * e.dim) throw new Error(`export: ${e.data.length} encoding values for ${e.keys.length} users x ${e.dim}`);
  info.userEncodings = { count: e.keys.length, dim: e.dim, dtype: 'float32', cold: 'tower' };
  return { info, userEncodings: e };
}

type Timer = <T>(name: string, fn: () => T | Promise<T>) => Promise<T>;

/** Wall seconds per named part: `time(name, fn)` runs fn and adds its duration under name. */
function stopwatch(): { seconds: Record<string, number>; time: Timer } {
  const seconds: Record<string, number> = {};
  const time: Timer = async (name, fn) => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      seconds[name] = (seconds[name] ?? 0) + (performance.now() - t0) / 1000;
    }
  };
  return { seconds, time };
}

/** Writes a bundle for a run directory or an in-memory model + dataset; replaces outDir atomically. */
export async function exportBundle(source: string | ExportSource, outDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const { seconds, time } = stopwatch();
  const src = typeof source === 'string' ? await time('load', () => fromRunDir(source)) : source;
  const o: Required<ExportOptions> = { itemDtype: 'float32', batchSize: 4096, samplePairs: 2048, seed: 1, annIndex: true, headQuantization: 'f16', headIndex: 'hnsw', centroids: 0, ...opts };
  const { model, dataset: ds } = src;
  if (model.kind !== src.config.kind) throw new Error(`export: model kind '${model.kind}' differs from config kind '${src.config.kind}'`);
  let manifest!: BundleManifest;
  await writeDirAtomic(outDir, async (tmp) => {
    const bin = join(tmp, FILES.encodersBin);
    const encoders = await time('encoders', () => (ds.encoderTables ? writeEncodersBinFromTables(ds.encoderTables(), bin, FILES.encodersBin)
      : writeEncodersBin(ds.encoders, bin, FILES.encodersBin)));
    await writeFile(join(tmp, FILES.encoders), JSON.stringify(encoders));
    await time('weights', () => saveTensors(join(tmp, 'weights'), model.stateTensors(), { kind: model.kind }));
    await mkdir(join(tmp, 'items'), { recursive: true });
    let items: ItemsInfo;
    if (model.twoTower && model.encodeUser && model.encodeItem && model.score) {
      const r = await time('items', () => twoTowerItems(src, o));
      items = r.info;
      await time('ids', () => writeIdTable(join(tmp, FILES.itemIds), r.keys, FILES.itemIds));
      await time('table', async () => {
        await writeArrayFile(join(tmp, FILES.itemReps), r.table.data);
        if (r.table.scales) await writeArrayFile(join(tmp, FILES.itemScales), r.table.scales);
      });
      const cached = r.info;
      if (cached.cached) cached.retrievalIndex = await time('index', () => writeRetrievalIndex(model, cached, decodeAll(r.table), tmp, { ...o, users: r.users }));
    } else {
      const its = src.items ?? datasetItems(ds);
      items = { cached: false, count: its.keys.length, reason: `'${model.kind}' is a single-tower model: item representations cannot be cached; serving scores full (user, item) pairs` };
      await time('ids', () => writeIdTable(join(tmp, FILES.itemIds), its.keys, FILES.itemIds));
      await time('items', () => saveTensors(join(tmp, 'items/features'), itemFeatureTensors(its)));
    }
    const attributes = await time('attributes', () => writeAttributes(src, (src.items ?? datasetItems(ds)).keys, tmp));
    const strategy = await time('strategy', () => strategyPart(src, items));
    if (strategy?.userEncodings) {
      const e = strategy.userEncodings;
      await mkdir(join(tmp, 'users'), { recursive: true });
      await writeIdTable(join(tmp, FILES.userIds), e.keys, FILES.userIds);
      await writeArrayFile(join(tmp, FILES.userEncodings), e.data);
    }
    const candidates = Object.values(FILES).filter((f) => existsSync(join(tmp, f)));
    const files: Record<string, string> = {};
    await time('hashes', async () => {
      for (const f of candidates) files[f] = await fileHash(tmp, f);
    });
    const base = { format: BUNDLE_FORMAT, model: { kind: model.kind, config: src.config.config, twoTower: model.twoTower }, features: ds.features, files,
      ...(strategy ? { strategy: strategy.info } : {}) };
    const hash = modelHash(base);
    manifest = { ...base, createdAt: new Date().toISOString(), modelVersion: modelVersionOf(model.kind, hash), hash,
      data: { name: ds.name }, items, ...(src.training !== undefined ? { training: src.training } : {}), ...(attributes ? { attributes } : {}) };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
  });
  return { dir: outDir, manifest, indexSeconds: seconds.index ?? 0, seconds };
}
