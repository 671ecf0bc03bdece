// Two-tower bundles whose model has a serving plan (DSSM, DAT, IntTower, RankTower, MF, ...; the native addon loaded):
// user tower + score of every candidate + top-n in one native call (src/serve/compiled.ts), reading the candidates'
// reps in place when the store can locate them in an in-process table (memory store) and from decoded copies
// otherwise (Redis). A user with a stored rep skips the tower (the plan's scoreRep, on the calling thread: these
// are dot-product models, ~U multiply-adds per candidate). Work of at least asyncAboveMacs multiply-adds runs on a
// libuv worker thread.
// Shape letters: U user rep width, I item rep width, M candidates found.
import type { Bundle } from '../../export/bundle.js';
import type { CompiledUserSide, TableData, TableDType } from '../compiled.js';
import type { ScorerOptions } from '../scorer.js';
import type { Ranked } from './base.js';
import { mergeTops, pick, TwoTowerScorer, type RowsTop } from './two-tower.js';
import type { ItemTable } from '../../export/item-table.js';
import type { PreparedUser } from '../../export/user-request.js';

export class NativePlanScorer extends TwoTowerScorer {
  readonly path = 'native-plan' as const;

  constructor(bundle: Bundle, opts: ScorerOptions, readonly compiled: CompiledUserSide) {
    super(bundle, opts);
  }

  /** How the plan treats decoded (float32) rows of this bundle's table: a bf16 bundle's score as bf16 from any store. */
  private get decodedDtype(): TableDType {
    const info = this.bundle.manifest.items;
    return info.cached && info.dtype === 'bfloat16' ? 'bfloat16' : 'float32';
  }

  protected rank(user: PreparedUser, ids: string[], n: number): Ranked | Promise<Ranked> {
    const at = this.store.locate?.(ids) ?? null;
    if (!at) return this.rankLookedUp(user, ids, n);
    const { found, rows, table } = at;
    const stored = user.stored;
    if (stored) return { found, userRep: 'stored', ...order(this.compiled.rankRep(stored, table.data, rows, found.length, n, table.dtype, table.scales)) };
    if (this.compiled.work(found.length) < this.asyncAboveMacs) {
      // The whole request on this thread: the tower input goes to a reused buffer, nothing is allocated for it.
      const input = this.compiled.inputView(this.requests.batch);
      return { found, userRep: 'tower', ...order(this.compiled.rank(input, table.data, rows, found.length, n, table.dtype, table.scales)) };
    }
    const input = this.compiled.input(this.requests.batch); // a fresh array: the batch is refilled by the next request
    return this.compiled.rankAsync(input, table.data, rows, found.length, n, table.dtype, table.scales)
      .then((r) => ({ found, userRep: 'tower', ...order(r) }));
  }

  /** Candidates from store.get (decoded float32 copies): the tower input is taken before the await. */
  private async rankLookedUp(user: PreparedUser, ids: string[], n: number): Promise<Ranked> {
    const stored = user.stored; // a view into the bundle's user encodings: valid across the await
    const input = stored ? null : this.compiled.input(this.requests.batch);
    const { found, reps } = await this.store.get(ids);
    const m = found.length;
    const dtype = this.decodedDtype;
    if (stored) return { found, userRep: 'stored', ...owned(this.compiled.rankRep(stored, reps, null, m, n, dtype)) };
    if (this.compiled.work(m) >= this.asyncAboveMacs) return { found, userRep: 'tower', ...order(await this.compiled.rankAsync(input!, reps, null, m, n, dtype)) };
    return { found, userRep: 'tower', ...owned(this.compiled.rank(input!, reps, null, m, n, dtype)) };
  }

  /** Rows scored per synchronous call when a user rep scores the whole table on this thread (yielding in between). */
  storedBlock = 65_536;

  /**
   * The table read in place: few rows (under asyncAboveMacs) on this thread from the rep; more on a libuv worker
   * from the tower input (the plan spreads them over the pool), the whole table as `exactShards` contiguous slices.
   */
  protected override async rankRows(user: PreparedUser, rep: Float32Array | null, t: ItemTable, rows: Int32Array | null, n: number): Promise<RowsTop> {
    const m = rows ? rows.length : t.ids.size;
    const stored = user.stored;
    if (!stored && this.compiled.work(m) >= this.asyncAboveMacs) {
      const input = this.compiled.input(this.requests.batch);
      if (rows) return this.rankAsyncRows(input, t, rows, n);
      const shards = slices(m, this.exactShards);
      return mergeTops(await Promise.all(shards.map(([a, b]) => this.rankAsyncRows(input, slice(t, a, b), null, n, a))), n);
    }
    const u = rep ?? this.userRep(user);
    if (rows) return this.rankRepRows(u, t, rows, n, 0);
    const parts: RowsTop[] = [];
    for (const [a, b] of slices(m, Math.ceil(m / this.storedBlock))) {
      if (a > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      parts.push(this.rankRepRows(u, slice(t, a, b), null, n, a));
    }
    return mergeTops(parts, n);
  }

  /** Slices of the table scored concurrently in exact mode (the plan already spreads each call over the pool). */
  exactShards = 1;

  private rankRepRows(u: Float32Array, t: Pick<ItemTable, 'data' | 'dtype' | 'scales'>, rows: Int32Array | null, n: number, base: number): RowsTop {
    const m = rows ? rows.length : t.data.length / this.compiled.itemDim;
    const r = this.compiled.rankRep(u, t.data, rows, m, n, t.dtype, t.scales);
    return pick(r.scores, rows, r.top, base);
  }

  private async rankAsyncRows(input: Float32Array, t: Pick<ItemTable, 'data' | 'dtype' | 'scales'>, rows: Int32Array | null, n: number, base = 0): Promise<RowsTop> {
    const m = rows ? rows.length : t.data.length / this.compiled.itemDim;
    const r = await this.compiled.rankAsync(input, t.data, rows, m, n, t.dtype, t.scales);
    return pick(r.scores, rows, r.top, base);
  }

  protected userRep(user: PreparedUser): Float32Array {
    return user.stored ? Float32Array.from(user.stored) : this.compiled.encode(this.compiled.inputView(this.requests.batch));
  }

  protected scoreReps(rep: Float32Array, reps: Float32Array, k: number): Float32Array {
    return this.compiled.rankRep(rep, reps, null, k, 0, this.decodedDtype).scores.slice();
  }
}

/** [a, b) ranges cutting m rows into `parts` near-equal slices. */
const slices = (m: number, parts: number): [number, number][] => {
  const p = Math.max(1, Math.min(parts, m)), size = Math.ceil(m / p);
  return Array.from({ length: Math.ceil(m / size) || 1 }, (_, i) => [i * size, Math.min(m, (i + 1) * size)]);
};

/** Rows [a, b) of a table, in place. */
const slice = (t: ItemTable, a: number, b: number): Pick<ItemTable, 'data' | 'dtype' | 'scales'> =>
  ({ data: t.data.subarray(a * t.dim, b * t.dim), dtype: t.dtype, scales: t.scales?.subarray(a, b) });

const order = (r: { scores: Float32Array; top: Int32Array }) => ({ scores: r.scores, order: r.top });

/** A synchronous rank()'s outputs copied out of the plan's reused buffers: the caller awaits before reading them. */
const owned = (r: { scores: Float32Array; top: Int32Array }) => ({ scores: r.scores.slice(), order: r.top.slice() });
