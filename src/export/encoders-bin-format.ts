// The binary encoders' format (encoders.bin's header constants and encoders.json's shape), shared by the writer
// (encoders-bin.ts) and the reader (encoders-bin-read.ts, which pages load too). Byte layout: docs/SERVING.md,
// "Bundle format". Shape letters: E entities of one side, H history entries.
import type { EncodersSpec } from '../data/encoders.js';
import type { ScalerJson } from '../data/scaler.js';
import type { StringTableDesc } from './string-table.js';

export const ENCODERS_META_VERSION = 2;
/** First 8 bytes of encoders.bin, then u32 layout version, u32 zero. */
export const ENCODERS_MAGIC = 'PRENCBIN';
export const ENCODERS_LAYOUT = 1;
export const HEADER_BYTES = 16;

export type Side = 'user' | 'item';

export interface BinStat {
  source: Side;
  fallback: number;
  /** Byte offsets in encoders.bin: a bitmap over the side's entities (bit e of the u32 word e >>> 5), and f64 [E]. */
  present: number;
  values: number;
}

export interface BinHistory {
  source: Side;
  /** The vocabulary the ids index (the shared item feature's). */
  vocabulary: string;
  /** Byte offsets: u32 [E + 1] into ids; i32 [H] vocabulary ids, oldest first per entity. */
  offsets: number;
  ids: number;
  length: number;
}

/** encoders.json of a binary bundle. */
export interface EncodersBinMeta extends EncodersSpec {
  version: typeof ENCODERS_META_VERSION;
  scalers: Record<string, ScalerJson>;
  binary: { file: string; bytes: number };
  vocabularies: Record<string, { hashBuckets: number; table: StringTableDesc }>;
  /** Keys of the entities that have a statistic or a history, per side. */
  entities: Partial<Record<Side, StringTableDesc>>;
  stats: Record<string, BinStat>;
  histories: Record<string, BinHistory>;
}

