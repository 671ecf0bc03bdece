// onnxruntime-node as the serving yardstick (`npm run bench -- serve`): the same online path as prerank's compiled
// plan, run on a model's exported ONNX graphs (src/export/onnx) on onnxruntime's CPU execution provider:
//   offline: item_tower.onnx over the whole catalogue once -> item reps [N, I], cached (as prerank's item table is);
//   a request: the user row's feeds -> user_tower.onnx -> user_rep [1, U]; scorer.onnx over the first k cached reps
//   [k, I] -> scores [k]; top-n of the scores in JS (eval's topK, the tensor path's cut).
// Times include onnxruntime-node's own per-call cost (InferenceSession.run validates the feeds and runs the graph
// after a setImmediate): what a Node service built on it pays.
// The session options are onnxruntime's best on this machine: every configuration below is timed on a short
// calibration at k = 1,000 (configurations alternating in blocks, so drift lands on all alike) and the fastest p50
// is kept per model. Before timing, scores must equal prerank's (checkScores) or the bench stops.
// Shape letters: N items, k candidates, U user rep width, I item rep width.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Batch, TrainingData } from '../src/data/index.js';
import { headOf } from '../src/data/batch.js';
import { encodeModel, exportOnnx, OnnxGraph, onnxModelOf } from '../src/export/onnx/index.js';
import { lengthInput } from '../src/export/onnx/features.js';
import type { RecModel } from '../src/models/types.js';
import { topK } from '../src/eval/index.js';
import { percentile } from '../src/util/stats.js';

export const ORT_LEVELS = ['disabled', 'basic', 'extended', 'layout', 'all'] as const;

export interface OrtConfig {
  threads: 1 | 2;
  level: (typeof ORT_LEVELS)[number];
  /** Whether idle intra-op threads spin-wait for work (onnxruntime's default) or sleep; 2 threads only. */
  spinning: boolean;
}

/** Scores must equal prerank's within this, relative to the largest |score| (the ONNX parity tests' bound). */
export const SCORE_TOLERANCE = 1e-5;

export const ortConfigName = (c: OrtConfig): string =>
  `${c.threads} intra-op thread${c.threads > 1 ? `s (${c.spinning ? 'spinning' : 'not spinning'})` : ''}, graph optimisation '${c.level}'`;

/** Every configuration the calibration tries: intra-op threads 1 and 2 (spinning or not) x each optimisation level. */
export function ortConfigs(): OrtConfig[] {
  return ORT_LEVELS.flatMap((level) => [
    { threads: 1, level, spinning: false },
    { threads: 2, level, spinning: true },
    { threads: 2, level, spinning: false },
  ] satisfies OrtConfig[]);
}

export const ortVersion = (): string => ort.env.versions.node ?? ort.env.versions.common;

/**
 * Feeds of a graph's feature inputs for batch rows [from, to): ids as int64, each sequence cut to the rows' longest
 * (at least 1: the sequence axis is dynamic, slots past a row's length are ignored), dense values as float32.
 */
export function rowFeeds(names: readonly string[], b: Batch, from: number, to: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const B = to - from;
  const ints = (a: Int32Array): BigInt64Array => BigInt64Array.from(a.subarray(from, to), BigInt);
  for (const name of names) {
    if (b.sparse[name]) feeds[name] = new ort.Tensor('int64', ints(b.sparse[name]), [B]);
    else if (b.dense[name]) feeds[name] = new ort.Tensor('float32', b.dense[name].slice(from, to), [B]);
    else if (b.sequence[name]) {
      const q = b.sequence[name];
      let L = 1;
      for (let r = from; r < to; r++) L = Math.max(L, q.lengths[r]);
      const ids = new BigInt64Array(B * L);
      for (let r = 0; r < B; r++) for (let j = 0; j < L; j++) ids[r * L + j] = BigInt(q.ids[(from + r) * q.maxLen + j]);
      feeds[name] = new ort.Tensor('int64', ids, [B, L]);
    } else {
      const seq = Object.keys(b.sequence).find((k) => lengthInput(k) === name);
      if (!seq) throw new Error(`onnxruntime bench: graph input '${name}' has no column in the batch (columns: ${[...Object.keys(b.sparse), ...Object.keys(b.dense), ...Object.keys(b.sequence)].join(', ')})`);
      feeds[name] = new ort.Tensor('int64', ints(b.sequence[seq].lengths), [B]);
    }
  }
  return feeds;
}

const sessionOptions = (c: OrtConfig): ort.InferenceSession.SessionOptions => ({
  executionProviders: ['cpu'], executionMode: 'sequential', intraOpNumThreads: c.threads, interOpNumThreads: 1,
  graphOptimizationLevel: c.level, extra: { session: { intra_op: { allow_spinning: c.spinning ? '1' : '0' } } },
});

/**
 * Writes the model's ONNX export to `dir`; the reason when the model kind has none (its row runs without
 * onnxruntime). A model kind joins the bench by having an entry in src/export/onnx's registry.
 */
export async function exportForOrt(model: RecModel, data: TrainingData, dir: string): Promise<{ skipped: string } | null> {
  try {
    onnxModelOf(model);
  } catch (e) {
    return { skipped: (e as Error).message };
  }
  if (!model.twoTower) return { skipped: `'${model.kind}' is a single-tower model: it has no item reps to cache` };
  await exportOnnx(model, data, dir, { producerVersion: 'bench' });
  return null;
}

/** item_tower.onnx over every item entity of the dataset, in batches: the cached item reps [N, I], in item-id order. */
export async function ortItemTable(dir: string, data: TrainingData, batchSize = 4096): Promise<{ table: Float32Array; dim: number }> {
  const s = await ort.InferenceSession.create(join(dir, 'item_tower.onnx'), sessionOptions({ threads: 2, level: 'all', spinning: false }));
  try {
    const n = data.itemKeys.length;
    const b = data.itemBatch(Math.min(batchSize, n));
    const all = Int32Array.from({ length: n }, (_, i) => i);
    let table = new Float32Array(0), dim = 0;
    for (let at = 0; at < n; at += batchSize) {
      const m = Math.min(batchSize, n - at);
      const rep = (await s.run(rowFeeds(s.inputNames, data.fillItems(b, all.subarray(at, at + m)), 0, m))).item_rep;
      if (at === 0) {
        dim = rep.dims[1] as number;
        table = new Float32Array(n * dim);
      }
      table.set(rep.data as Float32Array, at * dim);
    }
    return { table, dim };
  } finally {
    await s.release();
  }
}

/** One configuration's sessions of user_tower.onnx and scorer.onnx over a cached item table. */
export class OrtRanker {
  private readonly items = new Map<number, ort.Tensor>();

  private constructor(readonly config: OrtConfig, private readonly user: ort.InferenceSession, private readonly scorer: ort.InferenceSession,
    private readonly table: Float32Array, private readonly dim: number, private readonly n: number) {}

  static async open(dir: string, config: OrtConfig, table: Float32Array, dim: number, n: number): Promise<OrtRanker> {
    const o = sessionOptions(config);
    const [user, scorer] = await Promise.all(['user_tower.onnx', 'scorer.onnx'].map((f) => ort.InferenceSession.create(join(dir, f), o)));
    return new OrtRanker(config, user, scorer, table, dim, n);
  }

  /** A request: batch row `row`'s user tower, the scorer over the first k cached reps, top-n of its scores. */
  async rank(b: Batch, row: number, k: number): Promise<{ scores: Float32Array; top: Int32Array }> {
    let items = this.items.get(k);
    if (!items) this.items.set(k, (items = new ort.Tensor('float32', this.table.subarray(0, k * this.dim), [k, this.dim])));
    const { user_rep } = await this.user.run(rowFeeds(this.user.inputNames, b, row, row + 1));
    const scores = (await this.scorer.run({ user_rep, item_rep: items })).score.data as Float32Array;
    return { scores, top: topK(scores, this.n, undefined, 'last') };
  }

  async release(): Promise<void> {
    await Promise.all([this.user.release(), this.scorer.release()]);
  }
}

export interface Calibration {
  best: OrtRanker;
  /** Every configuration's p50 (ms) at the calibration k, fastest first. */
  tried: { config: OrtConfig; p50: number }[];
}

/**
 * Times every configuration's ranker on `rounds` x `block` requests of k candidates (after a warm-up block each),
 * the configurations alternating block by block; keeps the fastest p50 and releases the others.
 */
export async function calibrate(rankers: OrtRanker[], user: Batch, k: number, rounds: number, block: number): Promise<Calibration> {
  const ms = rankers.map(() => [] as number[]);
  for (const r of rankers) for (let i = 0; i < block; i++) await r.rank(user, 0, k);
  for (let round = 0; round < rounds; round++) {
    for (const [j, r] of rankers.entries()) {
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await r.rank(user, 0, k);
        ms[j].push(performance.now() - t0);
      }
    }
  }
  const tried = rankers.map((r, j) => ({ ranker: r, config: r.config, p50: percentile(ms[j], 0.5) })).sort((a, b) => a.p50 - b.p50);
  await Promise.all(tried.slice(1).map((t) => t.ranker.release()));
  return { best: tried[0].ranker, tried: tried.map(({ config, p50 }) => ({ config, p50 })) };
}

/** max |a - b| / max(max |b|, 1e-6). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0, mag = 1e-6;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return err / mag;
}

/**
 * onnxruntime's scores against prerank's for each check row of `users` at each k; throws naming the model, row and k
 * when they differ by more than SCORE_TOLERANCE (or in count). Returns the largest relative error seen.
 */
export async function checkScores(what: string, ranker: OrtRanker, users: Batch, ks: number[],
  prerank: (row: number, k: number) => Float32Array): Promise<number> {
  let worst = 0;
  for (let row = 0; row < users.size; row++) {
    for (const k of ks) {
      const want = prerank(row, k);
      const got = (await ranker.rank(users, row, k)).scores;
      const e = got.length === want.length ? relError(got, want) : Infinity;
      if (!(e <= SCORE_TOLERANCE)) {
        throw new Error(`${what}: onnxruntime's scores differ from prerank's for user row ${row} at k = ${k}: ` +
          (got.length !== want.length ? `${got.length} scores against ${want.length}` : `relative error ${e.toExponential(2)} > ${SCORE_TOLERANCE}`));
      }
      worst = Math.max(worst, e);
    }
  }
  return worst;
}

/**
 * onnxruntime-node's own cost of one run() (ms, p50 over `count` after a warm-up): a one-node graph (Identity on a
 * float [1]) in the given configuration. A request makes two runs.
 */
export async function ortCallFloor(model: RecModel, config: OrtConfig, count = 500): Promise<number> {
  const g = new OnnxGraph('floor', model);
  g.output(g.input('x', 'float32', [1]), 'y', 'float32', [1]);
  const s = await ort.InferenceSession.create(encodeModel(g, { doc: 'one Identity node', producerVersion: 'bench' }), sessionOptions(config));
  try {
    const x = { x: new ort.Tensor('float32', Float32Array.of(1), [1]) };
    const ms: number[] = [];
    for (let i = 0; i < count + 50; i++) {
      const t0 = performance.now();
      await s.run(x);
      if (i >= 50) ms.push(performance.now() - t0);
    }
    return percentile(ms, 0.5);
  } finally {
    await s.release();
  }
}

export interface OrtSide {
  ranker: OrtRanker;
  tried: Calibration['tried'];
  /** The largest relative score error against prerank over the check rows and ks. */
  maxRelError: number;
  /** ortCallFloor in the chosen configuration (ms). */
  callFloor: number;
}

export interface OrtPlan {
  /** The candidate counts the check covers. */
  ks: number[];
  /** Top-n cut of a request. */
  n: number;
  /** Calibration: k, rounds of blocks of requests. */
  calibrate: { k: number; rounds: number; block: number };
  /** Configurations to try (default: ortConfigs()). */
  configs?: OrtConfig[];
}

/**
 * onnxruntime's side of a model's row: export to `dir`, cache the item reps by item_tower.onnx, check every
 * configuration's scores against prerank's on the first check row, calibrate, then check the chosen configuration on
 * every check row at every k. `prerank(row, k)` gives prerank's scores of check row `row` over the first k items.
 */
export async function prepareOrt(what: string, model: RecModel, data: TrainingData, dir: string, user: Batch, checkUsers: Batch, plan: OrtPlan,
  prerank: (row: number, k: number) => Float32Array): Promise<OrtSide | { skipped: string }> {
  const skipped = await exportForOrt(model, data, dir);
  if (skipped) return skipped;
  const { table, dim } = await ortItemTable(dir, data);
  const rankers = await Promise.all((plan.configs ?? ortConfigs()).map((c) => OrtRanker.open(dir, c, table, dim, plan.n)));
  try {
    for (const r of rankers) await checkScores(`${what} (${ortConfigName(r.config)})`, r, headOf(checkUsers, 1), [plan.calibrate.k], prerank);
  } catch (e) {
    await Promise.all(rankers.map((r) => r.release()));
    throw e;
  }
  const { best, tried } = await calibrate(rankers, user, plan.calibrate.k, plan.calibrate.rounds, plan.calibrate.block);
  try {
    const maxRelError = await checkScores(`${what} (${ortConfigName(best.config)})`, best, checkUsers, plan.ks, prerank);
    return { ranker: best, tried, maxRelError, callFloor: await ortCallFloor(model, best.config) };
  } catch (e) {
    await best.release();
    throw e;
  }
}
