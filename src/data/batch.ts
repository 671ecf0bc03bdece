// Columnar batches. A Batch's arrays are reused from batch to batch: copy what must outlive the next one.
// Shapes: B = batch capacity, L = a sequence feature's maxLen.
import { gatherHistory, type FittedHistory } from './derived.js';
import type { EncodedTable } from './encode-table.js';
import type { FeatureInfo } from './encoders.js';

export interface SequenceBatch {
  /** [B, L] row-major, left-aligned, padded with 0. Histories are oldest first. */
  ids: Int32Array;
  /** [B] number of real ids per row. */
  lengths: Int32Array;
  maxLen: number;
}

export interface Batch {
  size: number;
  sparse: Record<string, Int32Array>;
  dense: Record<string, Float32Array>;
  sequence: Record<string, SequenceBatch>;
  label: Float32Array;
  weight?: Float32Array;
  /** Dataset row, user entity and item entity of each slot (for samplers, grouping and evaluation). */
  rows: Int32Array;
  user: Int32Array;
  item: Int32Array;
}

/** Where a filler reads: the encoded tables and per-row columns of a Dataset. */
export interface BatchSource {
  features: FeatureInfo[];
  tables: { user: EncodedTable; item: EncodedTable; context: EncodedTable };
  history: Map<string, FittedHistory>;
  label: Float32Array;
  weight?: Float32Array;
  rowUser: Int32Array;
  rowItem: Int32Array;
}

export function allocBatch(features: FeatureInfo[], capacity: number, withWeight = false): Batch {
  const b: Batch = { size: capacity, sparse: {}, dense: {}, sequence: {}, label: new Float32Array(capacity),
    rows: new Int32Array(capacity), user: new Int32Array(capacity), item: new Int32Array(capacity) };
  if (withWeight) b.weight = new Float32Array(capacity);
  for (const f of features) {
    if (f.kind === 'sparse') b.sparse[f.name] = new Int32Array(capacity);
    else if (f.kind === 'dense') b.dense[f.name] = new Float32Array(capacity);
    else {
      const L = f.maxLen ?? 1;
      b.sequence[f.name] = { ids: new Int32Array(capacity * L), lengths: new Int32Array(capacity), maxLen: L };
    }
  }
  return b;
}

/** The first n slots of a batch as views (no copy). */
export function headOf(b: Batch, n: number): Batch {
  const map = <T extends Int32Array | Float32Array>(r: Record<string, T>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.subarray(0, n) as T]));
  const seq = Object.fromEntries(Object.entries(b.sequence).map(([k, s]) => [k, { ids: s.ids.subarray(0, n * s.maxLen),
    lengths: s.lengths.subarray(0, n), maxLen: s.maxLen }]));
  return { size: n, sparse: map(b.sparse), dense: map(b.dense), sequence: seq, label: b.label.subarray(0, n),
    weight: b.weight?.subarray(0, n), rows: b.rows.subarray(0, n), user: b.user.subarray(0, n),
    item: b.item.subarray(0, n) };
}

type Fill = (b: Batch, n: number) => void;

/** Gathers dataset rows (or user/item entities) into batch buffers through per-feature closures. */
export class BatchFiller {
  private readonly fills: Fill[];

  constructor(private readonly src: BatchSource, sources: ('user' | 'item' | 'context')[] = ['user', 'item', 'context']) {
    this.fills = src.features.filter((f) => sources.includes(f.source)).map((f) => this.compile(f));
  }

  /** Writes rows[0..n) into b (b.rows must already hold them; user/item/label/weight are filled here). */
  fillRows(b: Batch, n: number): void {
    const { rows, user, item, label } = b;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      user[i] = this.src.rowUser[r];
      item[i] = this.src.rowItem[r];
      label[i] = this.src.label[r];
    }
    if (b.weight && this.src.weight) for (let i = 0; i < n; i++) b.weight[i] = this.src.weight[rows[i]];
    for (const f of this.fills) f(b, n);
  }

  /** Writes features of the entities already in b.user / b.item (e.g. sampled negatives); only for entity features. */
  fillEntities(b: Batch, n: number): void {
    for (const f of this.fills) f(b, n);
  }

  private compile(f: FeatureInfo): Fill {
    const table = this.src.tables[f.source];
    const idx = (b: Batch): Int32Array => (f.source === 'user' ? b.user : f.source === 'item' ? b.item : b.rows);
    if (f.derived === 'history') {
      const h = this.src.history.get(f.name)!;
      return (b, n) => {
        const s = b.sequence[f.name];
        for (let i = 0; i < n; i++) s.lengths[i] = gatherHistory(h, b.rows[i], b.user[i], s.ids, i * s.maxLen);
      };
    }
    if (f.kind === 'sparse') {
      const col = table.sparse.get(f.name)!;
      return (b, n) => {
        const dst = b.sparse[f.name];
        const at = idx(b);
        for (let i = 0; i < n; i++) dst[i] = col[at[i]];
      };
    }
    if (f.kind === 'dense') {
      const col = table.dense.get(f.name)!;
      return (b, n) => {
        const dst = b.dense[f.name];
        const at = idx(b);
        for (let i = 0; i < n; i++) dst[i] = col[at[i]];
      };
    }
    const { offsets, ids } = table.sequence.get(f.name)!;
    return (b, n) => {
      const s = b.sequence[f.name];
      const L = s.maxLen;
      const at = idx(b);
      const out = s.ids;
      for (let i = 0; i < n; i++) {
        const e = at[i];
        const from = offsets[e];
        const len = Math.min(offsets[e + 1] - from, L);
        const base = i * L;
        for (let j = 0; j < len; j++) out[base + j] = ids[from + j];
        for (let j = len; j < L; j++) out[base + j] = 0;
        s.lengths[i] = len;
      }
    };
  }
}
