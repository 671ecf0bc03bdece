// The fitted encoders of an out-of-core dataset as the arrays they are kept in (per-entity statistics and history
// lists indexed by entity, vocabularies as token lists): what a bundle's binary encoders are written from without
// building the JSON form, its Maps and its strings (src/export/encoders-bin-tables.ts). Shape letters: E entities of
// one side, U users, H history entries.
import type { EncodersSpec } from './encoders.js';
import type { ScalerJson } from './scaler.js';

export type EntitySide = 'user' | 'item';

export interface StatTable {
  /** Train rows per entity [E]: an entity has the statistic when its count is > 0. */
  trainRows: Float64Array;
  /** The raw (unscaled) statistic per entity [E]. */
  values: Float64Array;
  fallback: number;
}

export interface HistoryTable {
  /** User u's list is ids[start[u] .. start[u + 1]) [U + 1], oldest first; a bundle keeps the last maxLen. */
  start: Int32Array;
  /** Ids of the shared item vocabulary [H]. */
  ids: Int32Array;
}

export interface EncoderTables {
  spec: EncodersSpec;
  scalers: Record<string, ScalerJson>;
  /** Kept values of each vocabulary in id order (ids 2..), by owning feature, in the encoders' order. */
  vocabularies: Record<string, { tokens: readonly string[]; hashBuckets: number }>;
  /** Every entity's key of a side, in entity order (read on first use). */
  keys(side: EntitySide): readonly string[];
  /** By derived feature name. */
  stats: Record<string, StatTable>;
  histories: Record<string, HistoryTable>;
}
