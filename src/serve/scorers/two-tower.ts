// What the two two-tower scorers (native plan, tensors) share: an item store of the candidates' cached reps, the
// user rep (stored, OneBP bundles, or the user tower's) and retrieval: the ANN index searched with that rep, its hits
// rescored exactly with the model's score.
// Shape letters: U user rep width, I item rep width, K top-k.
import type { Bundle } from '../../export/bundle.js';
import { decodeRow } from '../../export/item-table.js';
import { topK } from '../../eval/top-k.js';
import { UnsupportedError, type RetrieveRequest, type ScorerOptions, type ScoreResponse, type UserFeatures } from '../scorer.js';
import type { ItemStore } from '../stores/types.js';
import { ScorerBase } from './base.js';
import type { PreparedUser } from './user-request.js';

export abstract class TwoTowerScorer extends ScorerBase {
  protected readonly store: ItemStore;

  constructor(bundle: Bundle, opts: ScorerOptions) {
    super(bundle, opts);
    if (!opts.store) throw new Error('Scorer: a two-tower bundle needs an item store');
    this.store = opts.store;
  }

  /** The user rep [U] of a prepared user: its stored rep, else the user tower on row 0 of requests.batch. */
  protected abstract userRep(user: PreparedUser): Float32Array;

  /** score(user [1, U], items [K, I]) -> [K] (a fresh array). */
  protected abstract scoreReps(rep: Float32Array, reps: Float32Array, k: number): Float32Array;

  /** Validates and encodes the user's raw features and gives the user rep (stored, or the tower's). */
  encodeUser(user: UserFeatures): PreparedUser & { rep: Float32Array } {
    const prepared = this.requests.prepare(user);
    return { ...prepared, rep: this.userRep(prepared) };
  }

  protected override get retrieves(): boolean {
    return !!this.opts.ann && this.innerProduct;
  }

  /** Whether the model's score is affine in <user rep, item rep> (DSSM-like), so an inner-product index can retrieve. */
  private get innerProduct(): boolean {
    const info = this.bundle.manifest.items;
    return info.cached && !!info.retrieval;
  }

  override async retrieve(req: RetrieveRequest): Promise<ScoreResponse> {
    const { ann } = this.opts;
    const items = this.bundle.items;
    if (!this.innerProduct) return super.retrieve(req);
    if (!ann || !items) throw new UnsupportedError('no ANN index in this deployment (the item table is not loaded in process)');
    const user = this.encodeUser(req.user);
    const rows = ann.search(user.rep, req.k);
    const k = rows.length;
    const reps = new Float32Array(k * items.dim);
    for (let i = 0; i < k; i++) decodeRow(items, rows[i], reps, i * items.dim);
    // The rep the index was searched with (stored, or the tower's output) scores the hits: no second tower pass.
    const scores = this.scoreReps(user.rep, reps, k);
    const order = topK(scores, k, undefined, 'last');
    const out = Array.from(order, (i) => ({ id: items.ids.keyAt(rows[i]), score: scores[i] }));
    this.observed({ route: 'retrieve', candidates: k, unknown: 0, lookups: user.lookups, oovs: user.oovs }, user.stored ? 'stored' : 'tower');
    return { items: out, unknown: [], oov: user.oov, modelVersion: this.modelVersion };
  }
}
