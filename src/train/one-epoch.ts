// The one-epoch effect: when embedding tables hold few training rows a value (user ids with a handful of events),
// a CTR model learns what generalises during its first pass and then memorises the train split through those
// embeddings, so validation peaks after epoch 0 and falls from the second epoch on. Early stopping keeps the first
// epoch, but the run is then worse than one trained without the memorising tables: on the synthetic S log (4.1
// training rows a user) DSSM reached test AUC 0.677 with user_id and item_id, 0.701 with minFreq 10 on both and
// 0.73 without them (docs/TUNING.md). A run that shows the pattern warns and names the tables.
import type { FeatureInfo } from '../data/index.js';

/** Embedding tables with fewer training rows a value than this (on average) are the ones named. */
export const FEW_ROWS_A_VALUE = 20;
/** The validation metric must fall by more than this from the first epoch to the second. */
export const ONE_EPOCH_FALL = 0.01;

/** An embedding table with few training rows a value. */
export interface SparseTable {
  table: string;
  values: number;
  rowsPerValue: number;
}

/** The embedding tables of `features` with fewer than FEW_ROWS_A_VALUE training rows a value (reserved pad and OOV rows
 * not counted), fewest first; a table shared by several features once, under its owner's name. */
export function sparseTables(features: readonly FeatureInfo[], trainRows: number): SparseTable[] {
  const tables = new Map<string, number>();
  for (const f of features) {
    if (f.kind === 'dense' || f.vocabSize <= 2) continue;
    tables.set(f.table ?? f.name, f.vocabSize - 2);
  }
  return [...tables].map(([table, values]) => ({ table, values, rowsPerValue: trainRows / values }))
    .filter((t) => t.rowsPerValue < FEW_ROWS_A_VALUE)
    .sort((a, b) => a.rowsPerValue - b.rowsPerValue);
}

/**
 * The warning for a run whose validation `metric` (per epoch, in order) peaked at the first epoch and fell by more
 * than ONE_EPOCH_FALL at the second, when `tables` names memorising candidates; null otherwise. The text names no
 * per-run figure, so the trials of a search over one dataset say it once.
 */
export function oneEpochWarning(metric: string, values: readonly number[], lowerIsBetter: boolean, tables: readonly SparseTable[]): string | null {
  if (values.length < 2 || tables.length === 0) return null;
  const sign = lowerIsBetter ? -1 : 1;
  const best = values.reduce((b, v, i) => (sign * v > sign * values[b] ? i : b), 0);
  if (best !== 0 || !(sign * (values[0] - values[1]) > ONE_EPOCH_FALL)) return null;
  const named = tables.map((t) => `${t.table} (${t.rowsPerValue.toFixed(1)} training rows a value)`).join(', ');
  return `validation ${metric} was best after the first epoch and fell by more than ${ONE_EPOCH_FALL} at the second, ` +
    `and these embedding tables have few training rows a value: ${named}. Their embeddings memorise the train split; ` +
    'raise minFreq on those features (rarer values share the OOV embedding) or leave them out, or, keeping them, raise the learning rate ' +
    '(early stopping keeps the first epoch, so what one pass learns is what counts), and compare (docs/TUNING.md, "The one-epoch warning")';
}
