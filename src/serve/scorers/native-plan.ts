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
import { TwoTowerScorer } from './two-tower.js';
import type { PreparedUser } from './user-request.js';

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

  protected userRep(user: PreparedUser): Float32Array {
    return user.stored ? Float32Array.from(user.stored) : this.compiled.encode(this.compiled.inputView(this.requests.batch));
  }

  protected scoreReps(rep: Float32Array, reps: Float32Array, k: number): Float32Array {
    return this.compiled.rankRep(rep, reps, null, k, 0, this.decodedDtype).scores.slice();
  }
}

const order = (r: { scores: Float32Array; top: Int32Array }) => ({ scores: r.scores, order: r.top });

/** A synchronous rank()'s outputs copied out of the plan's reused buffers: the caller awaits before reading them. */
const owned = (r: { scores: Float32Array; top: Int32Array }) => ({ scores: r.scores.slice(), order: r.top.slice() });
