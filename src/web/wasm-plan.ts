// A user side compiled into the scorer module: the tower on raw tower inputs, and the score of one user against
// candidates read in place from a WasmItems table, with the top-n cut, in one call (native/serve.h,
// serve_request). The same plan, kernels and top-n order as the native scorer's (src/serve/compiled.ts).
// Shape letters: M candidates.
import type { ScorerModule } from './wasm-module.js';
import { WasmScorerError } from './wasm-imports.js';
import type { WasmItems } from './wasm-items.js';

export interface WasmScoreOptions {
  /** How many of the best to return in `top` (default 0: none). */
  n?: number;
  /** `user` is the user rep (repLength floats, e.g. from encode()) instead of the tower input. */
  fromRep?: boolean;
  /**
   * Return views into arrays the plan keeps and reuses (grown as needed): the next score() of this plan overwrites
   * them, as CompiledUserSide.rank's outputs. No array is allocated per request: in Chromium (AMD EPYC Zen 5,
   * 2026-12-05) two fresh arrays per call cost 35 us of a 60 us request at k = 1,000 and 80 us of 175 us at 5,000.
   * Default false: fresh arrays the caller owns.
   */
  reuse?: boolean;
}

export interface WasmScores {
  /** The candidates' logits, in candidate order. */
  scores: Float32Array;
  /** Indices into the candidate list of the best n, best first (equal scores: lower index first; NaN last). */
  top: Int32Array;
}

export class WasmPlan {
  readonly inputLength: number;
  readonly repLength: number;
  /** Width of the cached item reps the score reads. */
  readonly itemDim: number;
  readonly macsPerItem: number;
  /** Module buffers reused by every call, grown as needed: [user, scores, rows, top] pointers and capacities. */
  private bufs = [0, 0, 0, 0];
  private caps = [0, 0, 0, 0];
  /** score()'s outputs with `reuse`, grown as needed. */
  private outScores = new Float32Array(0);
  private outTop = new Int32Array(0);
  private disposed = false;

  /** @internal Made by WasmScorer.compile. */
  constructor(private readonly mod: ScorerModule, private readonly ptr: number) {
    const x = mod.x;
    this.inputLength = x.prerank_plan_input_len(ptr);
    this.repLength = x.prerank_plan_rep_len(ptr);
    this.itemDim = x.prerank_plan_item_dim(ptr);
    this.macsPerItem = x.prerank_plan_macs(ptr);
  }

  /** Module buffer `i` of at least `bytes` bytes. */
  private buf(i: number, bytes: number): number {
    if (this.caps[i] < bytes) {
      this.mod.free(this.bufs[i]);
      this.bufs[i] = 0;
      this.caps[i] = 0;
      this.bufs[i] = this.mod.alloc(bytes);
      this.caps[i] = bytes;
    }
    return this.bufs[i];
  }

  private userIn(user: Float32Array, fromRep: boolean): number {
    if (this.disposed) throw new WasmScorerError('the plan was disposed');
    const len = fromRep ? this.repLength : this.inputLength;
    if (!(user instanceof Float32Array) || user.length !== len) {
      throw new WasmScorerError(`${fromRep ? 'the user rep' : 'the tower input'} must be a Float32Array of ${len} floats (got ${user?.constructor?.name} of ${(user as { length?: number })?.length})`);
    }
    const p = this.buf(0, Math.max(this.inputLength, this.repLength) * 4);
    this.mod.f32(p, len).set(user);
    return p;
  }

  /** The user rep of a tower input (what the model's encodeUser gives, up to float rounding). */
  encode(input: Float32Array): Float32Array {
    const p = this.userIn(input, false);
    const rep = this.buf(1, this.repLength * 4);
    this.mod.call((x) => x.prerank_encode(this.ptr, p, rep));
    return this.mod.f32(rep, this.repLength).slice();
  }

  /**
   * Logits of the user against the candidates at table rows `rows` (row k when null: the first `count` rows) and
   * the best opts.n of them. Fresh arrays, or with opts.reuse views the next call overwrites (the module's buffers are
   * reused either way).
   */
  score(user: Float32Array, items: WasmItems, rows: Int32Array | null, opts: WasmScoreOptions = {}): WasmScores {
    items.check();
    if (items.dim !== this.itemDim) throw new WasmScorerError(`the item table has reps of ${items.dim} floats; this plan scores reps of ${this.itemDim}`);
    const n = opts.n ?? 0;
    if (!Number.isInteger(n) || n < 0) throw new WasmScorerError(`n must be a non-negative integer (got ${String(n)})`);
    const m = rows ? rows.length : items.count;
    if (rows) {
      if (!(rows instanceof Int32Array)) throw new WasmScorerError('rows must be an Int32Array or null');
      for (let k = 0; k < m; k++) {
        if (!(rows[k] >= 0 && rows[k] < items.count)) throw new WasmScorerError(`rows[${k}] = ${rows[k]} is outside the item table's ${items.count} rows`);
      }
    }
    const u = this.userIn(user, opts.fromRep ?? false);
    const scores = this.buf(1, Math.max(m, this.repLength) * 4);
    const rowsPtr = rows ? this.buf(2, m * 4) : 0;
    if (rows) this.mod.i32(rowsPtr, m).set(rows);
    const top = n > 0 ? this.buf(3, Math.min(n, m) * 4) : 0;
    const written = this.mod.call((x) => x.prerank_score(this.ptr, opts.fromRep ? 1 : 0, u, items.format, items.ptr, items.scalesPtr,
      rowsPtr, m, scores, n, top));
    if (!opts.reuse) return { scores: this.mod.f32(scores, m).slice(), top: n > 0 ? this.mod.i32(top, written).slice() : new Int32Array(0) };
    if (this.outScores.length < m) this.outScores = new Float32Array(m);
    if (this.outTop.length < written) this.outTop = new Int32Array(written);
    this.outScores.set(this.mod.f32(scores, m));
    if (written > 0) this.outTop.set(this.mod.i32(top, written));
    return { scores: this.outScores.subarray(0, m), top: this.outTop.subarray(0, written) };
  }

  /** score() for candidates given by item id (the table's ids); throws naming ids it does not hold. */
  scoreIds(user: Float32Array, items: WasmItems, ids: readonly string[], opts: WasmScoreOptions = {}): WasmScores {
    return this.score(user, items, items.rowsOf(ids), opts);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.bufs) this.mod.free(p);
    this.mod.x.prerank_plan_delete(this.ptr);
  }
}
