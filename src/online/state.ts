// What an online run keeps besides tensors (state.json in its checkpoint), and what it reports.
import type { HistoriesJson, NewEntityJson } from './entities.js';
import type { PrequentialJson } from './prequential.js';
import type { SourceOffset } from './source.js';

export const STATE_VERSION = 1;

/** Everything about the run that is not a tensor; saved as state.json beside the tensors in the checkpoint. */
export interface OnlineState {
  version: number;
  /** Optimizer updates (batches trained). */
  updates: number;
  /** Events consumed from the source: trained + dropped by the label rule + bad. */
  applied: number;
  trained: number;
  dropped: number;
  bad: number;
  /** The last consumed event's offset (null before the first). */
  offset: SourceOffset | null;
  maxTime: number | null;
  prequential: PrequentialJson;
  entities: { users: NewEntityJson[]; items: NewEntityJson[]; histories?: HistoriesJson };
  /** The last published bundle version (null: none yet). */
  published: number | null;
}

export interface ScoredBatch {
  update: number;
  logits: Float32Array;
  labels: Float32Array;
  users: string[];
  items: string[];
}

export interface OnlineOptions {
  /** Called with each batch's prequential scores (before the batch is trained on). */
  onScored?: (s: ScoredBatch) => void;
  signal?: AbortSignal;
}

export interface OnlineSummary {
  state: OnlineState;
  resumed: boolean;
  updatesThisRun: number;
  auc: number | null;
  logloss: number | null;
}
