// What the two two-tower scorers (native plan, tensors) share: an item store of the candidates' cached reps, the
// user rep (stored, OneBP bundles, or the user tower's) and retrieval, one path for every two-tower model: a candidate
// generator (the bundle's index: inner product or multi-vector, src/serve/candidates.ts) gives table rows, which are
// rescored exactly with the model's own score (the scores /v1/prerank gives) and cut to the top-k; exact mode scores
// every row of the table instead. Recommendation is retrieval of k items, minus the excluded ones, cut to n.
// Shape letters: U user rep width, I item rep width, N items, M rows rescored, K top-k.
import type { Bundle } from '../../export/bundle.js';
import { decodeRow, type ItemTable } from '../../export/item-table.js';
import type { SearchDefaults } from '../../export/manifest.js';
import { topK } from '../../eval/top-k.js';
import {
  UnsupportedError, type RecommendRequest, type RetrieveRequest, type ScorerOptions, type ScoreResponse, type UserFeatures,
} from '../scorer.js';
import type { ItemStore } from '../stores/types.js';
import { ScorerBase } from './base.js';
import type { PreparedUser } from '../../export/user-request.js';

/** Items a recommendation retrieves before its cut to n, when the request does not say. */
export const RECOMMEND_K = 500;

/** Table rows best first and their scores. */
export interface RowsTop {
  rows: Int32Array;
  scores: Float32Array;
}

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
    return !!this.bundle.items;
  }

  override async retrieve(req: RetrieveRequest): Promise<ScoreResponse> {
    return this.retrieval(req, 'retrieve');
  }

  override async recommend(req: RecommendRequest): Promise<ScoreResponse> {
    const exclude = new Set((req.exclude ?? []).map(String));
    // k + |exclude| retrieved, so that the exclusions cannot leave fewer than n when k >= n
    const r = await this.retrieval({ user: req.user, k: (req.k ?? RECOMMEND_K) + exclude.size, mode: req.mode }, 'recommend');
    const items = exclude.size ? r.items.filter((x) => !exclude.has(String(x.id))) : r.items;
    return { ...r, items: items.slice(0, req.n) };
  }

  private async retrieval(req: RetrieveRequest, route: 'retrieve' | 'recommend'): Promise<ScoreResponse> {
    const items = this.bundle.items;
    if (!items) throw new UnsupportedError('retrieval needs the item table in this process (the bundle was loaded without it)');
    const source = this.opts.ann ?? null;
    const mode = req.mode ?? (source ? 'ann' : 'exact');
    if (mode === 'ann' && !source) throw new UnsupportedError("this deployment has no retrieval index (the bundle has none, or it was served with --ann off): ask for mode 'exact'");
    const user = this.requests.prepare(req.user);
    const k = Math.min(req.k, items.ids.size);
    let rows: Int32Array | null = null;
    let rep: Float32Array | null = null;
    if (mode === 'ann') {
      rep = this.userRep(user);
      rows = source!.candidates(rep, k, searchSettings(req, source!.defaults));
    }
    // rankRows reads the request's batch row before its first await
    const top = await this.rankRows(user, rep, items, rows, k);
    const out = Array.from(top.rows, (r, i) => ({ id: items.ids.keyAt(r), score: top.scores[i] }));
    this.observed({ route, candidates: rows ? rows.length : items.ids.size, unknown: 0, lookups: user.lookups, oovs: user.oovs }, user.stored ? 'stored' : 'tower');
    return { items: out, unknown: [], oov: user.oov, modelVersion: this.modelVersion };
  }

  /**
   * The best n of the given table rows (null: every row) by the model's exact score, for a prepared user (its
   * features in row 0 of requests.batch until the first await) whose rep may be given. This one decodes rows in
   * blocks and scores them with scoreReps; the native plan reads the table in place.
   */
  protected async rankRows(user: PreparedUser, rep: Float32Array | null, t: ItemTable, rows: Int32Array | null, n: number): Promise<RowsTop> {
    const u = rep ?? this.userRep(user);
    const m = rows ? rows.length : t.ids.size;
    const scores = new Float32Array(m);
    const block = 4096;
    const reps = new Float32Array(Math.min(block, m) * t.dim);
    for (let at = 0; at < m; at += block) {
      const b = Math.min(block, m - at);
      for (let i = 0; i < b; i++) decodeRow(t, rows ? rows[at + i] : at + i, reps, i * t.dim);
      scores.set(this.scoreReps(u, reps.subarray(0, b * t.dim), b), at);
    }
    return pick(scores, rows, topK(scores, n, undefined, 'last'));
  }
}

/** The top entries (indices into scores) as table rows and scores. */
export function pick(scores: Float32Array, rows: Int32Array | null, order: Int32Array, base = 0): RowsTop {
  return { rows: Int32Array.from(order, (i) => (rows ? rows[i] : base + i)), scores: Float32Array.from(order, (i) => scores[i]) };
}

/** The tops of disjoint row sets merged into the best n (ties: the earlier part first, as one scan would rank them). */
export function mergeTops(parts: RowsTop[], n: number): RowsTop {
  if (parts.length === 1) return parts[0];
  const rows = new Int32Array(parts.reduce((a, p) => a + p.rows.length, 0));
  const scores = new Float32Array(rows.length);
  let at = 0;
  for (const p of parts) {
    rows.set(p.rows, at);
    scores.set(p.scores, at);
    at += p.rows.length;
  }
  return pick(scores, rows, topK(scores, n, undefined, 'last'));
}

/** A request's search settings over the bundle's defaults. */
export function searchSettings(req: RetrieveRequest, d: SearchDefaults): SearchDefaults {
  return { perHead: req.perHead ?? d.perHead, sumDepth: req.sumDepth ?? d.sumDepth ?? 0, sumGroups: req.sumGroups ?? d.sumGroups ?? 1, ef: req.ef ?? d.ef,
    maxCandidates: req.maxCandidates ?? d.maxCandidates, ...(req.nprobe ?? d.nprobe ? { nprobe: req.nprobe ?? d.nprobe } : {}) };
}
