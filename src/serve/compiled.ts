// A model's user side compiled to one native call per request (native/serve.h via src/models/common/serving.ts):
// tower input written from the encoded batch row, then user tower + score against the candidates' cached reps
// (read in place from the item table through row indices) + top-n, all in C++, on the calling thread (rank) or on a
// libuv worker thread (rankAsync); the plan splits large scoring work over the engine's pool either way. Falls back to nothing: compileUserSide returns null when the
// addon is not loaded or the model has no plan, and the Scorer then runs encodeUser + score on tensors.
// Shape letters: M candidates, I item rep width.
import { serveAddon, type NativeServePlan } from './native.js';
import type { Batch } from '../data/batch.js';
import type { RecModel } from '../models/types.js';
import type { UserServingPlan } from '../models/common/serving.js';
import type { ItemDType, ItemTable } from '../export/item-table.js';
import type { FullScan } from '../train/ranking-eval.js';

/**
 * How a table handed to rank() stores its reps: float32; bfloat16 (a Uint16Array of bf16 bits, or a Float32Array
 * of values that are exactly bf16, e.g. decoded by a store); float16 (a Uint16Array of IEEE half bits); int8 (an
 * Int8Array with one float32 scale per table row, x = q * scale, passed as `scales`). With bfloat16, dot and max-sim
 * scores take the user rep rounded to bf16 as well (native/serve.h: the bf16 dot-product instruction's arithmetic,
 * the same on every path), so a bf16 bundle scores alike from any store.
 */
export type TableDType = ItemDType;
export type TableData = ItemTable['data'];

export class CompiledUserSide {
  /** rank()'s outputs, grown as needed and reused: a request allocates nothing on the synchronous path. */
  private scores = new Float32Array(0);
  private top = new Int32Array(0);
  private inputBuf = new Float32Array(0);

  constructor(private readonly plan: UserServingPlan, private readonly native: NativeServePlan) {}

  /** Width of the cached item reps the score reads. */
  get itemDim(): number {
    return this.native.itemDim;
  }

  /** The user tower's input for batch row `row` (a fresh array: it may outlive the batch's next fill). */
  input(batch: Batch, row = 0): Float32Array {
    const out = new Float32Array(this.plan.spec.input);
    this.plan.writeInput(batch, row, out);
    return out;
  }

  /** input() written into a buffer the next inputView() call overwrites (the synchronous path: no allocation). */
  inputView(batch: Batch, row = 0): Float32Array {
    if (this.inputBuf.length !== this.plan.spec.input) this.inputBuf = new Float32Array(this.plan.spec.input);
    this.plan.writeInput(batch, row, this.inputBuf);
    return this.inputBuf;
  }

  /** The user rep (what model.encodeUser gives for the row, up to float rounding). */
  encode(input: Float32Array): Float32Array {
    const rep = new Float32Array(this.native.repLength);
    this.native.encode(input, rep);
    return rep;
  }

  /**
   * Logits of the user against M candidates (row rows[k] of the [*, I] table, or row k when rows is null) and the
   * indices of the best n of them, best first (ties: lower index first). The arrays are views into buffers the next
   * rank() call overwrites: use or copy them before then.
   */
  rank(input: Float32Array, table: TableData, rows: Int32Array | null, m: number, n: number, dtype: TableDType = 'float32', scales?: Float32Array): { scores: Float32Array; top: Int32Array } {
    const { scores, top } = this.outputs(m, n);
    const k = this.native.score(input, table, rows, m, scores, top.length, top.length ? top : null, dtype, scales);
    return { scores, top: top.subarray(0, k) };
  }

  /** Views of the reused output buffers for m candidates and a cut of min(n, m). */
  private outputs(m: number, n: number): { scores: Float32Array; top: Int32Array } {
    const cut = Math.max(0, Math.min(n, m));
    if (this.scores.length < m) this.scores = new Float32Array(Math.max(m, 2 * this.scores.length));
    if (this.top.length < cut) this.top = new Int32Array(Math.max(cut, 2 * this.top.length));
    return { scores: this.scores.subarray(0, m), top: this.top.subarray(0, cut) };
  }

  /**
   * rank() from a given user rep (repLength floats, e.g. a training strategy's stored user encoding) instead of the
   * tower input: the user tower is skipped. Same outputs and buffer reuse as rank().
   */
  rankRep(rep: Float32Array, table: TableData, rows: Int32Array | null, m: number, n: number, dtype: TableDType = 'float32', scales?: Float32Array): { scores: Float32Array; top: Int32Array } {
    const { scores, top } = this.outputs(m, n);
    const k = this.native.scoreRep(rep, table, rows, m, scores, top.length, top.length ? top : null, dtype, scales);
    return { scores, top: top.subarray(0, k) };
  }

  /** rank() on a libuv worker thread: the event loop keeps running meanwhile. table and rows must not change until it settles. */
  rankAsync(input: Float32Array, table: TableData, rows: Int32Array | null, m: number, n: number, dtype: TableDType = 'float32', scales?: Float32Array): Promise<{ scores: Float32Array; top: Int32Array }> {
    return this.native.scoreAsync(input, table, rows, m, Math.max(0, n), dtype, scales);
  }

  /** Multiply-adds of scoring m candidates (the Scorer moves large requests off the event loop). */
  work(m: number): number {
    return m * this.native.macsPerItem;
  }
}

/** The model's compiled user side, or null (no addon, single-tower model, or no plan for this configuration). */
export function compileUserSide(model: RecModel): CompiledUserSide | null {
  const addon = serveAddon();
  if (!addon || !model.twoTower || !model.servingPlan) return null;
  let plan: UserServingPlan;
  try {
    plan = model.servingPlan();
  } catch {
    return null; // a configuration the plan cannot express (e.g. a tanh tower): the tensor path serves it
  }
  return new CompiledUserSide(plan, new addon.ServePlan(plan.spec));
}

/**
 * rankingEval's `scan` (experiments, early stopping on a ranking metric): every item's score for a user rep through
 * the model's compiled plan, the scores /v1/retrieve's exact mode gives, on the engine's pool; null when the model
 * has none (no addon, a configuration the plan cannot express, an item rep width it does not read). The scores are
 * a view the next call overwrites.
 */
export const nativeScan: FullScan = (model, items, width) => {
  const plan = compileUserSide(model);
  if (!plan || plan.itemDim !== width) return null;
  const n = items.length / width;
  return (rep) => plan.rankRep(rep, items, null, n, 0).scores;
};
