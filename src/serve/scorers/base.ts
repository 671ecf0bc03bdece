// What the three scorers share: request preparation (UserRequests), the response (items best first, unknown ids in
// request order, OOV features) and its statistics, warm-up, and the refusal of retrieval. An implementation says
// only how it ranks a prepared user's candidates (rank) and, for two-tower models, how retrieval scores
// (src/serve/scorers/two-tower.ts).
// Shape letters: M candidates found, K top-k.
import type { Bundle } from '../../export/bundle.js';
import { firstIds } from '../../export/id-table.js';
import {
  ASYNC_ABOVE_MACS, UnsupportedError, type PrerankRequest, type RecommendRequest, type RetrieveRequest, type Scorer, type ScorerOptions, type ScorerPath,
  type ScoreResponse, type ScoreStats,
} from '../scorer.js';
import { candidateKeys, rankedResponse } from '../../export/requests.js';
import { UserRequests, type PreparedUser } from '../../export/user-request.js';

/**
 * A ranking of one request's candidates. Returned synchronously, its arrays may be views into buffers the scorer's
 * next request overwrites (read them before any await); a promised Ranked owns its arrays.
 */
export interface Ranked {
  /** Indices into the request's candidates of those the item store or the bundle knows, request order: [M]. */
  found: Int32Array;
  /** Logit of found[k]: [M]. */
  scores: Float32Array;
  /** Indices into found of the best n, best first: [min(n, M)]. */
  order: Int32Array;
  /** Two-tower models: where the user rep came from. */
  userRep?: 'stored' | 'tower';
}

export abstract class ScorerBase implements Scorer {
  abstract readonly path: ScorerPath;
  readonly requests: UserRequests;
  observe: ((s: ScoreStats) => void) | undefined;
  protected readonly asyncAboveMacs: number;

  constructor(readonly bundle: Bundle, protected readonly opts: ScorerOptions) {
    this.requests = new UserRequests(bundle);
    const { store } = opts;
    if (store && bundle.manifest.items.cached && store.dim !== bundle.manifest.items.dim) {
      throw new Error(`Scorer: the item store holds ${store.dim}-wide reps, the bundle's item tower gives ${bundle.manifest.items.dim}`);
    }
    this.observe = opts.observe;
    this.asyncAboveMacs = opts.asyncAboveMacs ?? ASYNC_ABOVE_MACS;
  }

  get modelVersion(): string {
    return this.bundle.modelVersion;
  }

  /** Raw columns a request's user object may contain. */
  get userColumns(): Set<string> {
    return this.requests.columns;
  }

  prerank(req: PrerankRequest): Promise<ScoreResponse> {
    return this.run(req, req.n ?? req.candidates.length, 'prerank');
  }

  scoreAll(req: Omit<PrerankRequest, 'n'>): Promise<ScoreResponse> {
    return this.run(req, req.candidates.length, 'score');
  }

  /** Refused unless the implementation can retrieve (two-tower models: cached item reps). */
  async retrieve(_req: RetrieveRequest): Promise<ScoreResponse> {
    throw new UnsupportedError(`model '${this.bundle.manifest.model.kind}' is a single-tower model: retrieval needs cached item reps (a two-tower model)`);
  }

  /** Refused like retrieve() (two-tower scorers retrieve, then cut). */
  async recommend(req: RecommendRequest): Promise<ScoreResponse> {
    return this.retrieve({ user: req.user, k: req.n });
  }

  /** Whether warm() exercises retrieve() too. */
  protected get retrieves(): boolean {
    return false;
  }

  /**
   * The candidates ranked for a prepared user (whose features are row 0 of requests.batch until this request's
   * first await). ids are the candidates as strings.
   */
  protected abstract rank(user: PreparedUser, ids: string[], n: number): Ranked | Promise<Ranked>;

  private async run(req: Omit<PrerankRequest, 'n'>, n: number, route: 'prerank' | 'score'): Promise<ScoreResponse> {
    const ids = candidateKeys(req.candidates);
    const user = this.requests.prepare(req.user);
    const pending = this.rank(user, ids, n);
    // No await on the synchronous path: its arrays are read before another request can rank.
    const { found, scores, order, userRep } = pending instanceof Promise ? await pending : pending;
    const res = rankedResponse(req.candidates, found, scores, order, user.oov, this.modelVersion);
    this.observed({ route, candidates: ids.length, unknown: res.unknown.length, lookups: user.lookups, oovs: user.oovs }, userRep);
    return res;
  }

  protected observed(s: ScoreStats, userRep: Ranked['userRep']): void {
    this.observe?.(userRep ? { ...s, userRep } : s);
  }

  async warm(rounds = 3): Promise<void> {
    const observe = this.observe;
    this.observe = undefined;
    try {
      const index = this.bundle.items?.ids ?? this.bundle.itemFeatures?.ids;
      const ids = index ? firstIds(index, 256) : [];
      for (let r = 0; r < rounds; r++) {
        await this.scoreAll({ user: {}, candidates: ids });
        if (this.retrieves) await this.retrieve({ user: {}, k: 10 });
      }
    } finally {
      this.observe = observe;
    }
  }
}
