// A self-contained HTML report for an experiment: a results table, validation-AUC learning curves and an
// AUC-vs-latency chart, drawn as inline SVG (no scripts, no external assets).

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export interface Series {
  name: string;
  points: [number, number][];
}

/** A line (or scatter) chart of several series with axes, ticks and a legend. */
export function svgChart(title: string, xLabel: string, yLabel: string, series: Series[], scatter = false): string {
  const W = 640, H = 360, L = 60, R = 150, T = 30, B = 45;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) return `<p>${esc(title)}: no data</p>`;
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const pad = (a: number, b: number): [number, number] => (a === b ? [a - 1e-3, b + 1e-3] : [a - 0.05 * (b - a), b + 0.05 * (b - a)]);
  const [xa, xb] = pad(x0, x1);
  const [ya, yb] = pad(y0, y1);
  const sx = (x: number) => L + ((x - xa) / (xb - xa)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - ya) / (yb - ya)) * (H - T - B);
  const ticks = (a: number, b: number) => Array.from({ length: 5 }, (_, i) => a + ((b - a) * i) / 4);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2 - R / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`];
  for (const x of ticks(xa, xb)) parts.push(`<text x="${sx(x)}" y="${H - B + 14}" text-anchor="middle">${x.toPrecision(3)}</text>`);
  for (const y of ticks(ya, yb)) parts.push(`<text x="${L - 5}" y="${sy(y) + 4}" text-anchor="end">${y.toPrecision(4)}</text><line x1="${L}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#eee"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!scatter && pts.length > 1) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="${scatter ? 5 : 2.5}" fill="${c}"/>`);
    parts.push(`<rect x="${W - R + 10}" y="${T + i * 16}" width="10" height="10" fill="${c}"/><text x="${W - R + 25}" y="${T + i * 16 + 9}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** What the report draws of one run (an experiment's RunRecord carries these and more). */
export interface ReportRun {
  label: string;
  /** Test metrics; the table shows auc and logloss. */
  test: Record<string, number>;
  latencyMs: number;
  curve: { epoch: number; valAuc: number }[];
}

export function renderReport(name: string, dataName: string, runs: ReportRun[]): string {
  const labels = [...new Set(runs.map((r) => r.label))];
  const curves: Series[] = labels.map((label) => {
    const rs = runs.filter((r) => r.label === label);
    const maxEpoch = Math.max(...rs.flatMap((r) => r.curve.map((c) => c.epoch)));
    const points: [number, number][] = [];
    for (let e = 0; e <= maxEpoch; e++) {
      const v = rs.flatMap((r) => r.curve.filter((c) => c.epoch === e).map((c) => c.valAuc));
      if (v.length) points.push([e, mean(v)]);
    }
    return { name: label, points };
  });
  const scatter: Series[] = labels.map((label) => {
    const rs = runs.filter((r) => r.label === label);
    return { name: label, points: [[mean(rs.map((r) => r.latencyMs)), mean(rs.map((r) => r.test.auc))]] };
  });
  const rows = labels.map((label) => {
    const rs = runs.filter((r) => r.label === label);
    return `<tr><td>${esc(label)}</td><td>${mean(rs.map((r) => r.test.auc)).toFixed(4)}</td><td>${mean(rs.map((r) => r.test.logloss)).toFixed(4)}</td><td>${mean(rs.map((r) => r.latencyMs)).toFixed(3)}</td><td>${rs.length}</td></tr>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(name)}</title>
<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>
</head><body><h1>${esc(name)}</h1><p>Dataset: ${esc(dataName)}. Means over seeds.</p>
<table><tr><th>model</th><th>test AUC</th><th>test logloss</th><th>latency ms (1k candidates)</th><th>seeds</th></tr>${rows.join('')}</table>
<h2>Validation AUC per epoch</h2>${svgChart('Validation AUC (mean over seeds)', 'epoch', 'AUC', curves)}
<h2>Accuracy vs serving cost</h2>${svgChart('Test AUC vs latency', 'ms per request (1,000 candidates)', 'test AUC', scatter, true)}
</body></html>
`;
}
