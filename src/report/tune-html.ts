// The HTML report of a hyperparameter search: the trials table (best first), the validation metric against each
// searched key (one point per trial, at the highest rung it reached) and the trials' validation curves, in the
// style of html.ts (inline SVG, no scripts).
import { esc, svgChart, type Series } from './html.js';

/** What the report draws of one trial. */
export interface ReportTrial {
  id: number;
  values: Record<string, unknown>;
  /** Validation metric at the highest rung reached (NaN: none). */
  value: number;
  epochs: number;
  status: string;
  curve: { epoch: number; value: number }[];
}

export interface TuneReport {
  name: string;
  metric: string;
  /** Searched keys; log: drawn on a log10 axis. */
  keys: { path: string; log: boolean }[];
  /** Best first. */
  trials: ReportTrial[];
  test: Record<string, number>;
}

/** Most trial curves drawn in one chart (the best ones): a legend line each. */
const MAX_CURVES = 20;

/** A numeric axis for a key over trials that have a value for it: the value itself (log10 on a log range), or its
 * index among the values seen. */
function axis(trials: ReportTrial[], path: string, log: boolean): { label: string; x: (v: unknown) => number } {
  const vs = trials.map((t) => t.values[path]);
  if (vs.every((v) => typeof v === 'number')) return { label: log ? `log10 ${path}` : path, x: (v) => (log ? Math.log10(v as number) : (v as number)) };
  const seen = [...new Set(vs.map((v) => JSON.stringify(v)))].sort();
  return { label: `${path} (${seen.map((s, i) => `${i} = ${s}`).join(', ')})`, x: (v) => seen.indexOf(JSON.stringify(v)) };
}

/** A searched value in a table, to `digits` significant digits; none (the base config's trial) reads 'base'. */
export const formatValue = (v: unknown, digits = 3) =>
  (v === undefined ? 'base' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(digits)) : JSON.stringify(v));

export function renderTuneReport(r: TuneReport): string {
  const head = r.keys.map((k) => `<th>${esc(k.path)}</th>`).join('');
  const rows = r.trials.map((t) => `<tr><td>${t.id}</td>${r.keys.map((k) => `<td>${esc(formatValue(t.values[k.path]))}</td>`).join('')}<td>${t.value.toFixed(5)}</td><td>${t.epochs}</td><td>${esc(t.status)}</td></tr>`);
  const scatters = r.keys.map((k) => {
    // the base config's trial sets no searched value: it is in the table and the curves, not on these axes
    const shown = r.trials.filter((t) => t.values[k.path] !== undefined);
    const a = axis(shown, k.path, k.log);
    const points: [number, number][] = shown.map((t) => [a.x(t.values[k.path]), t.value]);
    const best = shown[0] === r.trials[0] ? points.slice(0, 1) : [];
    return svgChart(`validation ${r.metric} vs ${k.path}`, a.label, r.metric, [{ name: 'trials', points }, { name: 'best', points: best }], true);
  });
  const curves: Series[] = r.trials.slice(0, MAX_CURVES).map((t) => ({ name: `trial ${t.id}`, points: t.curve.map((c) => [c.epoch + 1, c.value]) }));
  const test = Object.entries(r.test).map(([k, v]) => `${esc(k)} ${Number.isInteger(v) ? v : v.toFixed(5)}`).join(', ');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(r.name)}</title>
<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:last-child{text-align:left}</style>
</head><body><h1>${esc(r.name)}</h1><p>${r.trials.length} trials, chosen on validation ${esc(r.metric)}. Test metrics of the best trial (read once, at the end): ${test}.</p>
<table><tr><th>trial</th>${head}<th>val ${esc(r.metric)}</th><th>epochs</th><th>status</th></tr>${rows.join('')}</table>
<h2>Validation ${esc(r.metric)} vs each searched key</h2>${scatters.join('\n')}
<h2>Validation curves</h2><p>${r.trials.length > MAX_CURVES ? `The ${MAX_CURVES} best trials.` : 'Every trial.'} A curve ends where the trial stopped.</p>
${svgChart(`validation ${r.metric} per epoch`, 'epochs trained', r.metric, curves)}
</body></html>
`;
}
