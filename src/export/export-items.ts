// The items' part of a two-tower bundle: the item tower over every item entity ([N, I] reps), the table in its
// storage type, and the checks recorded in the manifest (export scores against training-time scores, the storage
// type's score error, the inner-product fit for retrieval), from S sampled (user, item) pairs. Shape letters: N items,
// I item rep width, U user rep width, S sampled pairs.
import { noGrad, Rng, scope, Tensor } from '../core/index.js';
import type { Batch, DataConfig, TrainingData } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import type { TrainingStrategy } from '../train/strategies/types.js';
import { innerProductFit } from '../models/common/base.js';
import { decodeRow, fromBf16, quantize, toBf16, type ItemDType, type ItemTable } from './item-table.js';
import type { AccuracyCost, ItemsInfo, RetrievalInfo } from './manifest.js';

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
  /** The data config: its items file gives the items' attributes (titles, genres) for people to read. */
  dataConfig?: DataConfig;
}

/** Item keys and a way to fill item-tower batches for them (default: the dataset's item entities). */
export interface ExportItems {
  keys: string[];
  batch(capacity: number): Batch;
  fill(b: Batch, ids: Int32Array): Batch;
  /** Two-tower models: the item representations [N, I] when the caller already has them (an online run's cache). */
  reps?: { data: Float32Array; dim: number };
}

export function datasetItems(ds: TrainingData): ExportItems {
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
  /**
   * The max-sim models' head index: 'hnsw' (one usearch graph over every head vector) or 'centroids' (k-means
   * centroids with inverted lists, PLAID's; docs/SERVING.md, "Retrieval") (default hnsw).
   */
  headIndex?: 'hnsw' | 'centroids';
  /** Centroids of the 'centroids' head index (default: head-centroids.ts, defaultCentroids). */
  centroids?: number;
}

/** Runs fn with the model in eval mode and no tape, restoring its mode afterwards. */
export function inference<T>(model: RecModel, fn: () => T): T {
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

export interface TwoTowerItems {
  info: ItemsInfo;
  table: ItemTable;
  /** The table's ids, in row order. */
  keys: readonly string[];
  /** The user reps [S, U] of the sampled training rows (anchors and search calibration of the retrieval index). */
  users: Float32Array;
}

export function twoTowerItems(src: ExportSource, o: Required<ExportOptions>): TwoTowerItems {
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
      return { info, table, keys: items.keys, users: (u.data as Float32Array).slice(0, S * userDim) };
    });
  });
}
