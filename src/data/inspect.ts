// What `prerank data inspect` prints: rows read/skipped/dropped, split sizes, label rates, and per feature its
// cardinality and the OOV rate of the val and test rows (sequence features: share of OOV ids among their ids).
import type { IngestReport } from './ingest.js';
import type { TrainingData } from './training-data.js';
import { formatBadRow } from './data-error.js';
import { OOV_ID } from './vocabulary.js';
import type { SplitName } from './split.js';

export interface FeatureReport {
  name: string;
  kind: string;
  source: string;
  table?: string;
  /** Embedding rows (reserved ids included); 0 for dense. */
  vocabSize: number;
  /** Values with their own id (kept by minFreq/maxSize). */
  values?: number;
  oovVal?: number;
  oovTest?: number;
}

export interface InspectReport {
  name: string;
  rowsRead: number;
  rowsSkipped: number;
  rowsDropped: number;
  rowsFiltered: number;
  rows: number;
  users: number;
  items: number;
  split: Record<SplitName, number>;
  labelRate: Record<SplitName, number>;
  features: FeatureReport[];
  badRows: string[];
  loadSeconds: number;
}

/** What inspect reads of a dataset (in memory or cached). */
export interface Inspectable extends TrainingData {
  report: IngestReport;
  timings: { ingest: number; fit: number };
  labelRate(split: SplitName): number;
  /** Values of a sparse/sequence feature's vocabulary that have their own id. */
  keptValues(feature: string): number;
}

export function inspectDataset(ds: Inspectable): InspectReport {
  const oov = { val: oovRates(ds, 'val'), test: oovRates(ds, 'test') };
  const features = ds.features.map((f): FeatureReport => ({
    name: f.name, kind: f.derived ? `${f.kind} (${f.derived})` : f.kind, source: f.source, table: f.table,
    vocabSize: f.vocabSize, values: f.table ? ds.keptValues(f.name) : undefined,
    oovVal: oov.val.get(f.name), oovTest: oov.test.get(f.name),
  }));
  const r = ds.report;
  return {
    name: ds.name, rowsRead: r.rowsRead, rowsSkipped: r.rowsSkipped, rowsDropped: r.rowsDropped, rowsFiltered: r.rowsFiltered ?? 0,
    rows: ds.size,
    users: ds.userCount, items: ds.itemCount,
    split: { train: ds.splitSize('train'), val: ds.splitSize('val'), test: ds.splitSize('test') },
    labelRate: { train: ds.labelRate('train'), val: ds.labelRate('val'), test: ds.labelRate('test') },
    features, badRows: r.badRows.slice(0, 10).map(formatBadRow), loadSeconds: ds.timings.ingest + ds.timings.fit,
  };
}

function oovRates(ds: Inspectable, split: SplitName): Map<string, number> {
  const hit = new Map<string, number>();
  const all = new Map<string, number>();
  const add = (k: string, h: number, n: number): void => {
    hit.set(k, (hit.get(k) ?? 0) + h);
    all.set(k, (all.get(k) ?? 0) + n);
  };
  for (const b of ds.batches(split, { batchSize: 4096, shuffle: false }).epoch(0)) {
    for (const [k, ids] of Object.entries(b.sparse)) {
      let h = 0;
      for (let i = 0; i < b.size; i++) if (ids[i] === OOV_ID) h++;
      add(k, h, b.size);
    }
    for (const [k, s] of Object.entries(b.sequence)) {
      let h = 0, n = 0;
      for (let i = 0; i < b.size; i++) {
        n += s.lengths[i];
        for (let j = 0; j < s.lengths[i]; j++) if (s.ids[i * s.maxLen + j] === OOV_ID) h++;
      }
      add(k, h, n);
    }
  }
  return new Map([...all].map(([k, n]) => [k, n ? (hit.get(k) ?? 0) / n : 0]));
}

export function formatInspect(r: InspectReport): string {
  const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);
  const lines = [
    `dataset      ${r.name}`,
    `rows         read ${r.rowsRead}, skipped (bad) ${r.rowsSkipped}, dropped by label rule ${r.rowsDropped}, ` +
      `${r.rowsFiltered ? `removed by filter ${r.rowsFiltered}, ` : ''}kept ${r.rows}`,
    `entities     ${r.users} users, ${r.items} items`,
    `split        train ${r.split.train} / val ${r.split.val} / test ${r.split.test}`,
    `label rate   train ${pct(r.labelRate.train)} / val ${pct(r.labelRate.val)} / test ${pct(r.labelRate.test)}`,
    `load         ${r.loadSeconds.toFixed(2)} s (read, join, split, fit, encode)`,
    '',
  ];
  const head = ['feature', 'kind', 'source', 'table', 'vocab', 'values', 'oov val', 'oov test'];
  const rows = r.features.map((f) => [f.name, f.kind, f.source, f.table ?? '-', f.vocabSize ? String(f.vocabSize) : '-',
    f.values === undefined ? '-' : String(f.values), pct(f.oovVal), pct(f.oovTest)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  for (const row of [head, ...rows]) lines.push(row.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
  if (r.badRows.length) lines.push('', `bad rows (first ${r.badRows.length} of ${r.rowsSkipped}):`, ...r.badRows.map((b) => `  ${b}`));
  return lines.join('\n');
}
