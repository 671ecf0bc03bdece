// The scorer contract: what the service and the HTTP adapter call, request object in, response object out, over a
// loaded bundle and an item store. One implementation per way of scoring (src/serve/scorers: the compiled native
// plan, the two-tower tensor path, full single-tower pairs), chosen for a bundle by createScorer
// (src/serve/scorers/index.ts); every implementation passes one suite (test/serve-scorer-conformance.ts).
// Unknown candidate ids are reported, never an error; a user feature the bundle does not know is a RequestError.
import type { CandidateSource } from '../export/candidate-source.js';
import type { ItemStore } from './stores/types.js';

import type { ItemId, PrerankRequest, ScoreResponse, UserFeatures } from '../export/requests.js';

export { RequestError, type RawFeatureValue, type UserFeatures, type ItemId, type PrerankRequest, type ScoredItem, type ScoreResponse } from '../export/requests.js';

/** How retrieval finds the top-k: 'ann' = the bundle's index gives candidates, rescored exactly; 'exact' = every item. */
export type RetrieveMode = 'ann' | 'exact';

export interface RetrieveRequest {
  user: UserFeatures;
  k: number;
  /** Default: 'ann' when the deployment has a retrieval index, else 'exact'. */
  mode?: RetrieveMode;
  /** Index vectors fetched per query vector (k'; inner product: items fetched, at least k). Default: the bundle's. */
  perHead?: number;
  /** Multi-vector: vectors fetched for the sum of the query vectors (a lower bound of max-sim). Default: the bundle's. */
  sumDepth?: number;
  /** Multi-vector: the query vectors summed in this many consecutive groups (IntTower: one per layer). Default: the bundle's. */
  sumGroups?: number;
  /** HNSW search breadth (the search fetches max(ef, perHead) and keeps perHead). Default: the bundle's. */
  ef?: number;
  /** Candidate items rescored exactly at most. Default: the bundle's. */
  maxCandidates?: number;
  /** Centroid index: inverted lists probed per query vector. Default: the bundle's. */
  nprobe?: number;
}

export interface RecommendRequest {
  user: UserFeatures;
  /** Items to return. */
  n: number;
  /** Items retrieved (then scored by the model) before the cut to n (default 500). */
  k?: number;
  /** Item ids never returned (e.g. already seen). */
  exclude?: ItemId[];
  mode?: RetrieveMode;
}

export interface ScoreStats {
  route: 'prerank' | 'score' | 'retrieve' | 'recommend';
  candidates: number;
  unknown: number;
  /** Per feature: vocabulary lookups and OOV results of this request. */
  lookups: Record<string, number>;
  oovs: Record<string, number>;
  /** Two-tower models: where the user rep came from (a stored encoding, OneBP bundles, or the user tower). */
  userRep?: 'stored' | 'tower';
}

/** How a scorer computes its scores (what `prerank serve` and the tests can ask of it). */
export type ScorerPath = 'native-plan' | 'tensor' | 'single-tower';

export interface Scorer {
  readonly path: ScorerPath;
  readonly modelVersion: string;
  /** Top-n candidates by score (n absent: all of them). */
  prerank(req: PrerankRequest): Promise<ScoreResponse>;
  /** Every known candidate, sorted by score (no cut). */
  scoreAll(req: Omit<PrerankRequest, 'n'>): Promise<ScoreResponse>;
  /** Top-k of the whole catalogue: the index's candidates rescored exactly with the model's score, or every item. */
  retrieve(req: RetrieveRequest): Promise<ScoreResponse>;
  /** Retrieve k, drop `exclude`, the best n. */
  recommend(req: RecommendRequest): Promise<ScoreResponse>;
  /** Runs a few requests so the first real one does not pay for JIT and buffer-pool warm-up (not observed). */
  warm(rounds?: number): Promise<void>;
}

export interface ScorerOptions {
  /** The candidates' cached reps (two-tower bundles; single-tower bundles score from their item features). */
  store: ItemStore | null;
  /** Retrieval's candidate generator (absent: retrieval runs in exact mode only). */
  ann?: CandidateSource | null;
  observe?: (s: ScoreStats) => void;
  /**
   * Compiled scoring of at least this many multiply-adds runs on a libuv worker thread instead of the event loop
   * (default 8M: ~20-40 us of arithmetic, several times the thread hop; IntTower 2 x 64 at 1,000 candidates stays on
   * the loop, 32 x 64 moves off it).
   */
  asyncAboveMacs?: number;
}

export const ASYNC_ABOVE_MACS = 8_000_000;

/** Something the deployment cannot do (e.g. retrieval for a max-sim model): HTTP 501/409. */
export class UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedError';
  }
}
