// The item representation table an online run publishes, refreshed for changed and new items only when that is
// possible. Which parameters an item's representation depends on is found once by a gradient probe of encodeItem.
// At each refresh: if any of the item side's dense parameters (tower weights) or any model buffer (batch-norm
// statistics) changed since the last refresh, every item is recomputed — with a feature tower (DSSM, DAT...) that is
// every update. Otherwise (an id-embedding model such as MF) only new items and the items whose features index an
// embedding row that changed are recomputed. A table is matched to the item features that index it by its row count
// (it must equal exactly one item-side table's vocabulary size; otherwise it is treated as dense), and every
// incremental refresh re-encodes a sample of the items it kept and falls back to a full refresh on any difference.
// Shapes: N items, I item rep width, V table rows, D embedding dim.
import { backward, noGrad, ops, scope } from '../core/index.js';
import type { Tensor } from '../core/tensor.js';
import type { RecModel } from '../models/types.js';
import type { OnlineEntities } from './entities.js';

interface TableParam {
  name: string;
  t: Tensor;
  /** Item features (sparse or sequence) whose ids index this table's rows. */
  features: string[];
}

export interface RefreshResult {
  reps: Float32Array;
  dim: number;
  recomputed: number;
  total: number;
  /** 'full' (and why) or 'incremental'. */
  mode: string;
}

const CHUNK = 4096;
const VERIFY = 32;

export class ItemRepCache {
  private reps = new Float32Array(0);
  private dim = 0;
  private count = 0;
  private readonly dense: [string, Tensor][] = [];
  private readonly tables: TableParam[] = [];
  private readonly snapshots = new Map<Tensor, Float32Array>();
  private verifyAt = 0;

  constructor(private readonly model: RecModel, private readonly entities: OnlineEntities) {
    if (!model.encodeItem) throw new Error(`ItemRepCache: '${model.kind}' has no item tower`);
    const n = Math.min(64, entities.items.count);
    const b = entities.fillItems(entities.itemBatch(Math.max(1, n)), Int32Array.from({ length: n }, (_, i) => i));
    const all = model.namedParameters();
    const was = model.training;
    model.eval();
    for (const [, t] of all) { t.grad = null; t.sparseGrad = null; }
    scope(() => backward(ops.sumAll(model.encodeItem!(b))));
    const used = all.filter(([, t]) => t.grad !== null || t.sparseGrad !== null);
    for (const [, t] of all) { t.grad = null; t.sparseGrad = null; }
    model.train(was);
    const itemFeats = entities.features.filter((f) => f.source === 'item' && f.kind !== 'dense' && f.table);
    for (const [name, t] of used) {
      const owners = [...new Set(itemFeats.filter((f) => f.vocabSize === t.shape[0]).map((f) => f.table!))];
      if (t.sparse && t.shape.length === 2 && owners.length === 1) {
        this.tables.push({ name, t, features: itemFeats.filter((f) => f.table === owners[0]).map((f) => f.name) });
      } else this.dense.push([name, t]);
    }
  }

  /** Names of the item side's parameters: tables (refreshed per row) and dense ones (refreshed in full). */
  describe(): { tables: string[]; dense: string[] } {
    return { tables: this.tables.map((t) => t.name), dense: this.dense.map(([n]) => n) };
  }

  private changed(t: Tensor): boolean {
    const s = this.snapshots.get(t);
    if (!s) return true;
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) if (d[i] !== s[i]) return true;
    return false;
  }

  private snapshot(): void {
    for (const t of [...this.dense.map(([, t]) => t), ...this.tables.map((x) => x.t), ...this.model.namedBuffers().map(([, t]) => t)]) {
      this.snapshots.set(t, Float32Array.from(t.data as Float32Array));
    }
  }

  /** encodeItem for the online item indices `ids`, written into rows of `into` (eval mode, no tape). */
  private encode(ids: Int32Array, into: Float32Array, rowsAt: (k: number) => number): void {
    const b = this.entities.itemBatch(Math.min(CHUNK, Math.max(1, ids.length)));
    for (let at = 0; at < ids.length; at += CHUNK) {
      const part = ids.subarray(at, Math.min(ids.length, at + CHUNK));
      scope(() => {
        const out = this.model.encodeItem!(this.entities.fillItems(b, part));
        if (this.dim === 0) this.dim = out.cols;
        const I = this.dim;
        const src = out.data as Float32Array;
        for (let k = 0; k < part.length; k++) into.set(src.subarray(k * I, (k + 1) * I), rowsAt(at + k) * I);
      });
    }
  }

  private full(N: number, why: string): RefreshResult {
    const ids = Int32Array.from({ length: N }, (_, i) => i);
    if (this.dim === 0) this.encode(ids.subarray(0, 1), new Float32Array(1 << 16), () => 0);
    this.reps = new Float32Array(N * this.dim);
    this.encode(ids, this.reps, (k) => k);
    this.count = N;
    return { reps: this.reps, dim: this.dim, recomputed: N, total: N, mode: `full (${why})` };
  }

  /** The table for every item met so far, recomputing what changed since the last call. */
  refresh(): RefreshResult {
    const { model } = this;
    const was = model.training;
    model.eval();
    try {
      return noGrad(() => {
        const r = this.refreshInner();
        this.snapshot();
        return r;
      });
    } finally {
      model.train(was);
    }
  }

  private refreshInner(): RefreshResult {
    const N = this.entities.items.count;
    if (this.count === 0) return this.full(N, 'first refresh');
    const dense = this.dense.find(([, t]) => this.changed(t));
    if (dense) return this.full(N, `dense item-side parameter ${dense[0]} changed`);
    const buf = this.model.namedBuffers().find(([, t]) => this.changed(t));
    if (buf) return this.full(N, `buffer ${buf[0]} changed`);
    // Changed rows per table, then the old items whose features index one of them, plus the new items.
    const flags = this.tables.map((tp) => {
      const s = this.snapshots.get(tp.t)!;
      const d = tp.t.data as Float32Array;
      const D = tp.t.shape[1];
      const f = new Uint8Array(tp.t.shape[0]);
      for (let r = 0; r < f.length; r++) {
        for (let j = r * D; j < (r + 1) * D; j++) if (d[j] !== s[j]) { f[r] = 1; break; }
      }
      return f;
    });
    const todo: number[] = [];
    const b = this.entities.itemBatch(Math.min(CHUNK, Math.max(1, this.count)));
    for (let at = 0; at < this.count; at += CHUNK) {
      const m = Math.min(CHUNK, this.count - at);
      const fb = this.entities.fillItems(b, Int32Array.from({ length: m }, (_, k) => at + k));
      for (let k = 0; k < m; k++) {
        let hit = false;
        this.tables.forEach((tp, ti) => {
          for (const name of tp.features) {
            if (hit) return;
            const sp = fb.sparse[name];
            if (sp) hit = flags[ti][sp[k]] === 1;
            else {
              const sq = fb.sequence[name];
              for (let j = 0; j < sq.lengths[k] && !hit; j++) hit = flags[ti][sq.ids[k * sq.maxLen + j]] === 1;
            }
          }
        });
        if (hit) todo.push(at + k);
      }
    }
    for (let i = this.count; i < N; i++) todo.push(i);
    if (N > this.count) {
      const grown = new Float32Array(N * this.dim);
      grown.set(this.reps);
      this.reps = grown;
    }
    const ids = Int32Array.from(todo);
    this.encode(ids, this.reps, (k) => ids[k]);
    const kept = this.count - (todo.length - (N - this.count));
    this.count = N;
    // Safety net: re-encode a sample of the kept items; any difference means the row mapping missed something.
    const keptIds: number[] = [];
    const inTodo = new Set(todo);
    for (let k = 0; k < N && keptIds.length < VERIFY; k++) {
      const i = (this.verifyAt + k * 7919) % N;
      if (!inTodo.has(i)) keptIds.push(i);
    }
    this.verifyAt = (this.verifyAt + 1) % Math.max(1, N);
    if (keptIds.length) {
      const check = new Float32Array(keptIds.length * this.dim);
      const kid = Int32Array.from(keptIds);
      this.encode(kid, check, (k) => k);
      const I = this.dim;
      for (let k = 0; k < kid.length; k++) {
        for (let j = 0; j < I; j++) {
          const a = check[k * I + j], c = this.reps[kid[k] * I + j];
          if (Math.abs(a - c) > 1e-5 * (1 + Math.abs(a))) return this.full(N, `item ${kid[k]} changed although none of its table rows did`);
        }
      }
    }
    return { reps: this.reps, dim: this.dim, recomputed: todo.length, total: N, mode: `incremental (${kept} of ${N} kept)` };
  }
}
