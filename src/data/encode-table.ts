// Raw columns -> encoded columns, in bulk, through the fitted vocabularies and scalers (the same objects serve
// single rows in FeatureEncoders.encodeRow).
import { LIST_SEP } from './list-sep.js';
import type { RawColumn } from './ingest.js';
import type { Scaler } from './scaler.js';
import { featureColumn, type FeatureSpec, type SequenceSpec } from './spec-schema.js';
import { rawKey, type RawValue, type Vocabulary } from './vocabulary.js';

/** Encoded features of one table: one entry per user, per item, or per row (context features). */
export interface EncodedTable {
  size: number;
  sparse: Map<string, Int32Array>;
  dense: Map<string, Float32Array>;
  /** Entity i's ids are ids[offsets[i] .. offsets[i+1]) (not truncated; batches cut to maxLen). */
  sequence: Map<string, { offsets: Int32Array; ids: Int32Array }>;
}

export function emptyTable(size: number): EncodedTable {
  return { size, sparse: new Map(), dense: new Map(), sequence: new Map() };
}

/** Tokens of a sequence feature's raw value: a list, a LIST_SEP-joined list, or text split by the separator. */
export function splitTokens(v: unknown, separator: string): string[] {
  if (v === null || v === undefined) return [];
  const parts = Array.isArray(v) ? v.map((x) => rawKey(x as RawValue) ?? '')
    : String(v).split(String(v).includes(LIST_SEP) ? LIST_SEP : separator);
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

/** Per-entity (or per-row) token lists of a sequence feature from the raw columns. */
export function sequenceTokens(f: SequenceSpec, cols: Map<string, RawColumn>, size: number): string[][] {
  if (f.flagColumns) {
    const flags = f.flagColumns.map((c) => numeric(cols, c));
    return Array.from({ length: size }, (_, i) => f.flagColumns!.filter((_, k) => flags[k][i] !== 0 &&
      Number.isFinite(flags[k][i])));
  }
  const col = cols.get(featureColumn(f));
  if (!col) throw new Error(`feature '${f.name}': column '${featureColumn(f)}' was not loaded`);
  return Array.from({ length: size }, (_, i) => splitTokens(col.values[i], f.separator));
}

/** Raw value text per entity (or row) of a sparse feature. */
export function sparseValues(f: FeatureSpec, cols: Map<string, RawColumn>): ArrayLike<RawValue> {
  const col = cols.get(featureColumn(f));
  if (!col) throw new Error(`feature '${f.name}': column '${featureColumn(f)}' was not loaded`);
  return col.values;
}

export function numeric(cols: Map<string, RawColumn>, c: string): Float64Array {
  const col = cols.get(c);
  if (!col) throw new Error(`column '${c}' was not loaded`);
  if (col.kind === 'num') return col.values;
  return Float64Array.from(col.values, (v) => (v === null || v.trim() === '' ? NaN : Number(v)));
}

export function encodeSparse(values: ArrayLike<RawValue>, vocab: Vocabulary): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = vocab.peek(values[i]);
  return out;
}

export function encodeDense(values: ArrayLike<number>, scaler: Scaler): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = scaler.transform(values[i]);
  return out;
}

export function encodeSequence(tokens: string[][], vocab: Vocabulary): { offsets: Int32Array; ids: Int32Array } {
  const offsets = new Int32Array(tokens.length + 1);
  for (let i = 0; i < tokens.length; i++) offsets[i + 1] = offsets[i] + tokens[i].length;
  const ids = new Int32Array(offsets[tokens.length]);
  let k = 0;
  for (const t of tokens) for (const s of t) ids[k++] = vocab.peek(s);
  return { offsets, ids };
}

/** Value counts over the training rows, where value i occurs weight[i] times (train rows of entity i). */
export function countValues(values: ArrayLike<RawValue>, weight: ArrayLike<number>): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < values.length; i++) {
    const w = weight[i];
    if (!(w > 0)) continue;
    const key = rawKey(values[i]);
    if (key !== null) counts.set(key, (counts.get(key) ?? 0) + w);
  }
  return counts;
}

export function countTokens(tokens: string[][], weight: ArrayLike<number>, into = new Map<string, number>()): Map<string, number> {
  for (let i = 0; i < tokens.length; i++) {
    const w = weight[i];
    if (!(w > 0)) continue;
    for (const t of tokens[i]) into.set(t, (into.get(t) ?? 0) + w);
  }
  return into;
}
