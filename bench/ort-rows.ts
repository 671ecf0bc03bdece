// The serve bench's onnxruntime rows: latencies from the alternating run, what they print, and their JSON keys.
// ratio = onnxruntime / prerank (> 1: prerank is faster), at p50 and at p99.
import { percentile } from '../src/util/stats.js';
import { ortConfigName, ortVersion, type OrtConfig, type OrtSide } from './ort.js';

interface Lat {
  p50: number;
  p99: number;
}

export interface OrtRow {
  /** ms by k (null when skipped). */
  lat: Record<number, Lat> | null;
  config: OrtConfig | null;
  /** Every configuration's calibration p50 (ms), fastest first. */
  tried: { config: OrtConfig; p50: number }[];
  maxRelError: number | null;
  /** onnxruntime-node's cost of one run() of a one-node graph, ms (a request makes two). */
  callFloor: number | null;
  /** Why this row has no onnxruntime side. */
  skipped: string | null;
}

export const NO_ORT: OrtRow = { lat: null, config: null, tried: [], maxRelError: null, callFloor: null, skipped: null };

export function ortRow(side: OrtSide, ms: Record<number, number[]>): OrtRow {
  const lat = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, { p50: percentile(v, 0.5), p99: percentile(v, 0.99) }]));
  return { lat, config: side.ranker.config, tried: side.tried, maxRelError: side.maxRelError, callFloor: side.callFloor, skipped: null };
}

const f = (x: number | undefined, d = 3): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));

/** The row's lines under the model's prerank/PyTorch table. */
export function ortLines(row: OrtRow, ours: Record<number, Lat>, ks: number[]): string[] {
  if (row.skipped) return [`  onnxruntime: skipped (${row.skipped})`];
  const out = [`  onnxruntime-node ${ortVersion()} (CPU EP), same path: user_tower.onnx + scorer.onnx over the first k cached item reps ` +
    `(item_tower.onnx, computed once) + top-n in JS; best of ${row.tried.length} configurations on a calibration at k = 1,000: ${ortConfigName(row.config!)}`,
  `  calibration p50 (ms): ${row.tried.map((t) => `${f(t.p50)} ${t.config.threads}${t.config.threads > 1 ? (t.config.spinning ? 's' : 'n') : ''}/${t.config.level}`).join(', ')} ` +
    '(threads, s = spinning, n = not spinning / optimisation level)',
  `  scores equal prerank's before timing: max relative error ${row.maxRelError!.toExponential(2)} (check users x k = ${ks.join(', ')}); ` +
    `onnxruntime-node's own cost of one run() (a one-node graph, same options): p50 ${f(row.callFloor!)} ms, and a request makes two`,
  '       k       ort p50     p99   ratio p50   ratio p99   (ratio = ort / prerank: > 1 means prerank is faster)'];
  for (const k of ks) {
    const o = row.lat![k], p = ours[k];
    out.push(`  ${String(k).padStart(6)}  ${f(o.p50).padStart(12)} ${f(o.p99).padStart(7)}  ${f(o.p50 / p.p50, 2).padStart(10)}  ${f(o.p99 / p.p99, 2).padStart(10)}  (ms)`);
  }
  return out;
}

/** ort_<key>_k<k>_p50_ms / _p99_ms and ratio_ort_<key>_k<k>_p50 / _p99 (null when skipped). */
export function ortJson(key: string, row: OrtRow, ours: Record<number, Lat>, ks: number[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of ks) {
    const o = row.lat?.[k];
    out[`ort_${key}_k${k}_p50_ms`] = o?.p50 ?? null;
    out[`ort_${key}_k${k}_p99_ms`] = o?.p99 ?? null;
    out[`ratio_ort_${key}_k${k}_p50`] = o ? o.p50 / ours[k].p50 : null;
    out[`ratio_ort_${key}_k${k}_p99`] = o ? o.p99 / ours[k].p99 : null;
  }
  out[`ort_${key}_max_rel_error`] = row.maxRelError;
  out[`ort_${key}_run_floor_ms`] = row.callFloor;
  return out;
}

/** The run's closing line on onnxruntime: ratios at k = 1,000 against the targets. */
export function ortSummary(rows: { key: string; ort: OrtRow; ours: Record<number, Lat> }[]): string | null {
  const timed = rows.filter((r) => r.ort.lat);
  const skipped = rows.filter((r) => r.ort.skipped);
  if (!timed.length && !skipped.length) return null;
  const ratio = (r: (typeof rows)[number], q: 'p50' | 'p99'): string => f(r.ort.lat![1000][q] / r.ours[1000][q], 2);
  return `ratio onnxruntime/prerank at k = 1,000 (> 1: prerank is faster), p50 / p99: ${timed.map((r) => `${r.key} ${ratio(r, 'p50')} / ${ratio(r, 'p99')}`).join(', ')}` +
    `${skipped.length ? `; skipped: ${skipped.map((r) => r.key).join(', ')}` : ''} (target: >= 2 at p50 and >= 1.5 at p99 for every model)`;
}
