// exportBundle: a trained model and its dataset -> a self-contained serving bundle (manifest, encoders, weights,
// item representation table or, for single-tower models, the encoded item features; plus what the training
// strategy declares it adds, e.g. OneBP's stored user encodings under users/). Written into a temporary
// directory and renamed into place (writeDirAtomic), so a reader never sees half a bundle. Shape letters: N items, I item rep
// width, U user rep width, S sampled pairs.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeArrayFile, writeDirAtomic } from '../util/atomic-dir.js';
import { noGrad, Rng, scope, Tensor } from '../core/index.js';
import type { Batch, TrainingData } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import type { StrategyExport, TrainingStrategy } from '../train/strategies/types.js';
import { buildModel, buildStrategy, inMemory, loadData, loadTrainConfig } from '../train/run.js';
import { hasCheckpoint, loadCheckpoint } from '../train/checkpoint.js';
import { NoDrawRng } from '../nn/init.js';
import { saveTensors } from '../nn/state.js';
import { decodeAll, decodeRow, fromBf16, quantize, toBf16, type ItemDType, type ItemTable } from './item-table.js';
import { BUNDLE_FORMAT, FILES, fileHash, modelHash, modelVersionOf, type AccuracyCost, type BundleManifest,
  type ItemsInfo, type RetrievalInfo, type StrategyInfo } from './manifest.js';
import { innerProductFit } from '../models/common/base.js';
import { writeRetrievalIndex } from './retrieval-index.js';
import { writeEncodersBin } from './encoders-bin.js';
import { writeEncodersBinFromTables } from './encoders-bin-tables.js';
import { writeIdTable } from './id-table.js';

export interface ExportSource {
  model: RecModel;
  dataset: TrainingData;
  /** The registry name and config object the model was built with (a TrainConfig's `model`). */
  config: { kind: string; config: Record<string, unknown> };
  /** Training metrics to record (a run's summary.json). */
  training?: unknown;
  /** The training strategy with its trained state (e.g. OneBP's user encodings), when the run used one. */
  strategy?: TrainingStrategy;
  /** The items to export when they are not exactly the dataset's (an online run adds the items it met). */
  items?: ExportItems;
}

/** Item keys and a way to fill item-tower batches for them (default: the dataset's item entities). */
export interface ExportItems {
  keys: string[];
  batch(capacity: number): Batch;
  fill(b: Batch, ids: Int32Array): Batch;
  /** Two-tower models: the item representations [N, I] when the caller already has them (an online run's cache). */
  reps?: { data: Float32Array; dim: number };
}

function datasetItems(ds: TrainingData): ExportItems {
  return { keys: ds.itemKeys, batch: (c) => ds.itemBatch(c), fill: (b, ids) => ds.fillItems(b, ids) };
}

export interface ExportOptions {
  /** Storage type of the item table (default float32). */
  itemDtype?: ItemDType;
  /** Items per encodeItem call (default 4096). */
  batchSize?: number;
  /** Sampled (user, item) pairs for the export check, the quantization cost and the retrieval check (default 2048). */
  samplePairs?: number;
  seed?: number;
  /** Build and save the HNSW index for /v1/retrieve: over the item reps (inner product) or their heads (max-sim) (default true). */
  annIndex?: boolean;
  /** How the max-sim head index stores its vectors (default f16: docs/SERVING.md, "Retrieval"). */
  headQuantization?: 'f32' | 'f16' | 'i8';
}

export interface ExportResult {
  dir: string;
  manifest: BundleManifest;
  /** Seconds spent building the retrieval index (0: none built). */
  indexSeconds: number;
}

/** Loads a training run directory (config.json + best/ checkpoint, summary.json when present). */
export async function fromRunDir(runDir: string): Promise<ExportSource> {
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`export: ${runDir} is not a training run (no config.json)`);
  const cfg = loadTrainConfig(cfgPath);
  const ckpt = ['best', 'last'].map((d) => join(runDir, d)).find(hasCheckpoint);
  if (!ckpt) throw new Error(`export: ${runDir} has no checkpoint (best/ or last/)`);
  const dataset = await loadData(cfg);
  // every weight comes from the checkpoint: drawing initial values first would be wasted (~1 s per 10M parameters);
  // a strategy may probe the model when it is built (OneBP checks its score), so then the weights are drawn as trained
  const model = buildModel(cfg, dataset, cfg.strategy ? undefined : new NoDrawRng(0));
  const strategy = await buildStrategy(cfg, model, dataset);
  await loadCheckpoint(ckpt, model, null, strategy);
  const summary = join(runDir, 'summary.json');
  const training = existsSync(summary) ? JSON.parse(readFileSync(summary, 'utf8')) : undefined;
  return { model, dataset, config: cfg.model, training, strategy };
}

/** Runs fn with the model in eval mode and no tape, restoring its mode afterwards. */
function inference<T>(model: RecModel, fn: () => T): T {
  const was = model.training;
  model.eval();
  try {
    return noGrad(fn);
  } finally {
    model.train(was);
  }
}

/** encodeItem over every item entity, in batches: [N, I]. */
function itemReps(model: RecModel, items: ExportItems, batchSize: number): { reps: Float32Array; dim: number } {
  const n = items.keys.length;
  if (items.reps) {
    if (items.reps.data.length !== n * items.reps.dim) throw new Error(`export: ${items.reps.data.length} cached item rep values for ${n} items x ${items.reps.dim}`);
    return { reps: items.reps.data, dim: items.reps.dim };
  }
  const b = items.batch(Math.min(batchSize, Math.max(1, n)));
  const all = Int32Array.from({ length: n }, (_, i) => i);
  let reps = new Float32Array(0);
  let dim = 0;
  for (let at = 0; at < n; at += batchSize) {
    const m = Math.min(batchSize, n - at);
    scope(() => {
      const out = model.encodeItem!(items.fill(b, all.subarray(at, at + m)));
      if (at === 0) {
        dim = out.cols;
        reps = new Float32Array(n * dim);
      }
      reps.set(out.data.subarray(0, m * dim) as Float32Array, at * dim);
    });
  }
  return { reps, dim };
}

/** Up to S rows drawn at random from the test split (the train split when test is empty). */
function sampleRows(ds: TrainingData, s: number, rng: Rng): Batch {
  const split = ds.splitSize('test') ? 'test' : 'train';
  const n = Math.max(1, Math.min(s, ds.splitSize(split)));
  const first = ds.batches(split, { batchSize: n, shuffle: true, seed: rng.int(2 ** 31) }).epoch(0).next();
  if (first.done) throw new Error('export: the dataset has no rows to sample');
  return first.value;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } => {
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (!(d <= max)) max = d;
  }
  return { max, mean: a.length ? sum / a.length : 0 };
};

/**
 * The user reps a quantized table is scored with when served: rounded to bfloat16 for a bf16 table under a dot or
 * max-sim score (the compiled plans do so, src/serve/compiled.ts), as they are otherwise.
 */
function bf16User(model: RecModel, dtype: ItemDType, u: Tensor): Tensor {
  if (dtype !== 'bfloat16' || !model.servingPlan) return u;
  let kind: string;
  try {
    kind = model.servingPlan().spec.score.kind;
  } catch {
    return u; // no plan for this configuration: the tensor path serves it, unrounded
  }
  if (kind !== 'dot' && kind !== 'maxsim') return u;
  const src = u.data as Float32Array;
  const out = new Float32Array(u.shape[0] * u.shape[1]);
  for (let i = 0; i < out.length; i++) out[i] = fromBf16(toBf16(src[i]));
  return Tensor.from(out, [u.shape[0], u.shape[1]]);
}

interface TwoTowerItems {
  info: ItemsInfo;
  table: ItemTable;
  /** The table's ids, in row order. */
  keys: readonly string[];
}

function twoTowerItems(src: ExportSource, o: Required<ExportOptions>): TwoTowerItems {
  const { model, dataset: ds } = src;
  const items = src.items ?? datasetItems(ds);
  const rng = new Rng(o.seed);
  return inference(model, () => {
    const { reps, dim } = itemReps(model, items, o.batchSize);
    const table = quantize(items.keys, reps, dim, o.itemDtype);
    const f32: ItemTable = { ids: table.ids, dim, dtype: 'float32', data: reps };
    return scope(() => {
      const batch = sampleRows(ds, o.samplePairs, rng);
      const S = batch.size;
      const u = model.encodeUser!(batch); // [S, U]
      const rows = (items: ArrayLike<number>, t: ItemTable): Tensor => {
        const out = new Float32Array(S * dim);
        for (let i = 0; i < S; i++) decodeRow(t, items[i], out, i * dim);
        return Tensor.from(out, [S, dim]);
      };
      const fwd = model.forward(batch).data as Float32Array;
      const own = model.score!(u, rows(batch.item, f32)).data as Float32Array;
      const exportCheck = { maxAbsError: maxAbsDiff(fwd.subarray(0, S), own.subarray(0, S)).max, pairs: S };
      const random = Int32Array.from({ length: S }, () => rng.int(items.keys.length));
      const v32 = rows(random, f32);
      const s32 = (model.score!(u, v32).data as Float32Array).slice(0, S);
      let accuracy: AccuracyCost | null = null;
      if (o.itemDtype !== 'float32') {
        const sq = model.score!(bf16User(model, o.itemDtype, u), rows(random, table)).data as Float32Array;
        const d = maxAbsDiff(s32, sq.subarray(0, S));
        accuracy = { dtype: o.itemDtype, maxAbsScoreError: d.max, meanAbsScoreError: d.mean, pairs: S };
      }
      const userDim = u.cols;
      const fit = userDim === dim ? innerProductFit(u.data as Float32Array, v32.data as Float32Array, dim, s32) : null;
      const retrieval: RetrievalInfo | null = fit ? { metric: 'ip', ...fit } : null;
      const info: ItemsInfo = { cached: true, count: items.keys.length, dim, userDim, dtype: o.itemDtype, exportCheck, accuracy, retrieval };
      return { info, table, keys: items.keys };
    });
  });
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

/** Writes a bundle for a run directory or an in-memory model + dataset; replaces outDir atomically. */
export async function exportBundle(source: string | ExportSource, outDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const src = typeof source === 'string' ? await fromRunDir(source) : source;
  const o: Required<ExportOptions> = { itemDtype: 'float32', batchSize: 4096, samplePairs: 2048, seed: 1, annIndex: true, headQuantization: 'f16', ...opts };
  const { model, dataset: ds } = src;
  if (model.kind !== src.config.kind) throw new Error(`export: model kind '${model.kind}' differs from config kind '${src.config.kind}'`);
  let manifest!: BundleManifest;
  let indexSeconds = 0;
  await writeDirAtomic(outDir, async (tmp) => {
    const bin = join(tmp, FILES.encodersBin);
    const encoders = ds.encoderTables ? writeEncodersBinFromTables(ds.encoderTables(), bin, FILES.encodersBin)
      : writeEncodersBin(ds.encoders, bin, FILES.encodersBin);
    await writeFile(join(tmp, FILES.encoders), JSON.stringify(encoders));
    await saveTensors(join(tmp, 'weights'), model.stateTensors(), { kind: model.kind });
    await mkdir(join(tmp, 'items'), { recursive: true });
    let items: ItemsInfo;
    if (model.twoTower && model.encodeUser && model.encodeItem && model.score) {
      const r = twoTowerItems(src, o);
      items = r.info;
      await writeIdTable(join(tmp, FILES.itemIds), r.keys, FILES.itemIds);
      await writeArrayFile(join(tmp, FILES.itemReps), r.table.data);
      if (r.table.scales) await writeArrayFile(join(tmp, FILES.itemScales), r.table.scales);
      const t0 = performance.now();
      if (items.cached) items.retrievalIndex = await writeRetrievalIndex(model, items, decodeAll(r.table), tmp, o);
      indexSeconds = (performance.now() - t0) / 1000;
    } else {
      const its = src.items ?? datasetItems(ds);
      items = { cached: false, count: its.keys.length, reason: `'${model.kind}' is a single-tower model: item representations cannot be cached; serving scores full (user, item) pairs` };
      await writeIdTable(join(tmp, FILES.itemIds), its.keys, FILES.itemIds);
      await saveTensors(join(tmp, 'items/features'), itemFeatureTensors(its));
    }
    const strategy = strategyPart(src, items);
    if (strategy?.userEncodings) {
      const e = strategy.userEncodings;
      await mkdir(join(tmp, 'users'), { recursive: true });
      await writeIdTable(join(tmp, FILES.userIds), e.keys, FILES.userIds);
      await writeArrayFile(join(tmp, FILES.userEncodings), e.data);
    }
    const candidates = Object.values(FILES).filter((f) => existsSync(join(tmp, f)));
    const files: Record<string, string> = {};
    for (const f of candidates) files[f] = await fileHash(tmp, f);
    const base = { format: BUNDLE_FORMAT, model: { kind: model.kind, config: src.config.config, twoTower: model.twoTower }, features: ds.features, files,
      ...(strategy ? { strategy: strategy.info } : {}) };
    const hash = modelHash(base);
    manifest = { ...base, createdAt: new Date().toISOString(), modelVersion: modelVersionOf(model.kind, hash), hash,
      data: { name: ds.name }, items, ...(src.training !== undefined ? { training: src.training } : {}) };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
  });
  return { dir: outDir, manifest, indexSeconds };
}
