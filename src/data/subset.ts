// A RawData restricted to some of its rows, with optionally new labels: what lets a caller fit encoders and train
// models on one time period only (the cascade simulator's period 1) while keeping every user/item entity id intact.
import type { RawColumn, RawData } from './ingest.js';

/**
 * The rows `rows` (ascending row indices) of `raw`, in that order. Entity tables are shared, so user/item entity ids
 * mean the same in both; `label` (one value per kept row) replaces the labels when given. Report counts describe
 * the subset: rowsDropped adds the rows left out.
 */
export function subsetRaw(raw: RawData, rows: Int32Array, label?: Float32Array): RawData {
  if (label && label.length !== rows.length) throw new Error(`subsetRaw: ${label.length} labels for ${rows.length} rows`);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (r < 0 || r >= raw.rows || (k > 0 && r <= rows[k - 1])) throw new Error(`subsetRaw: rows must be ascending indices below ${raw.rows}`);
  }
  const pick32 = (a: Int32Array): Int32Array => Int32Array.from(rows, (r) => a[r]);
  const pickF32 = (a: Float32Array): Float32Array => Float32Array.from(rows, (r) => a[r]);
  const columns = new Map<string, RawColumn>();
  for (const [name, c] of raw.rowColumns) {
    columns.set(name, c.kind === 'num' ? { kind: 'num', values: Float64Array.from(rows, (r) => c.values[r]) }
      : { kind: 'str', values: Array.from(rows, (r) => c.values[r]) });
  }
  return {
    name: raw.name, rows: rows.length,
    user: pick32(raw.user), item: pick32(raw.item),
    time: raw.time ? Float64Array.from(rows, (r) => raw.time![r]) : undefined,
    label: label ? Float32Array.from(label) : pickF32(raw.label),
    weight: raw.weight ? pickF32(raw.weight) : undefined,
    fold: raw.fold ? Int8Array.from(rows, (r) => raw.fold![r]) : undefined,
    rowColumns: columns, users: raw.users, items: raw.items,
    report: { ...raw.report, rowsDropped: raw.report.rowsDropped + raw.rows - rows.length },
  };
}
