// The online run's HTML report (outDir/report.html): prequential AUC and logloss per day and the progressive AUC
// over updates, from prequential.jsonl (+ the unfinished last day from summary.json), optionally beside other online
// runs over the same stream (e.g. a static model: `learn: false`). Inline SVG, no scripts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { svgChart } from '../report/html.js';
import type { DayRecord } from './prequential.js';

interface RunSeries {
  name: string;
  days: DayRecord[];
  updates: { update: number; auc: number | null; scored: number }[];
  summary: Record<string, unknown> | null;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Reads one online run directory's records. */
export function readOnlineRun(dir: string, name?: string): RunSeries {
  const path = join(dir, 'prequential.jsonl');
  if (!existsSync(path)) throw new Error(`${dir} has no prequential.jsonl (not an online run directory)`);
  const recs = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const summaryPath = join(dir, 'summary.json');
  const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown>) : null;
  const days = recs.filter((r) => r.kind === 'day') as unknown as DayRecord[];
  const open = summary?.openDay as DayRecord | null | undefined;
  if (open) days.push(open);
  const updates = recs.filter((r) => r.kind === 'update') as unknown as RunSeries['updates'];
  return { name: name ?? (summary?.label as string | undefined) ?? basename(dir), days, updates, summary };
}

export function renderOnlineReport(title: string, runs: RunSeries[]): string {
  const dayPoints = (r: RunSeries, k: 'auc' | 'logloss'): [number, number][] =>
    r.days.filter((d) => d[k] !== null && d.events >= 20).map((d) => [d.day, d[k] as number]);
  const parts = [`<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif">`,
    `<h1>${esc(title)}</h1>`, '<p>Prequential evaluation: every batch is scored by the model before it trains on that batch. ' +
    'Days with fewer than 20 scored events are not drawn. x = day number since 1970-01-01 (UTC).</p>'];
  parts.push('<table border="1" cellpadding="4" style="border-collapse:collapse"><tr><th>run</th><th>events scored</th><th>updates</th><th>bad</th><th>progressive AUC</th><th>progressive logloss</th><th>days</th></tr>');
  for (const r of runs) {
    const s = r.summary ?? {};
    const f = (v: unknown) => (typeof v === 'number' ? v.toFixed(5) : 'n/a');
    parts.push(`<tr><td>${esc(r.name)}</td><td>${r.updates.at(-1)?.scored ?? 0}</td><td>${String(s.updates ?? r.updates.length)}</td><td>${String(s.bad ?? '')}</td><td>${f(s.auc)}</td><td>${f(s.logloss)}</td><td>${r.days.length}</td></tr>`);
  }
  parts.push('</table>');
  parts.push(svgChart('Prequential AUC per day', 'day', 'AUC', runs.map((r) => ({ name: r.name, points: dayPoints(r, 'auc') }))));
  parts.push(svgChart('Prequential logloss per day', 'day', 'logloss', runs.map((r) => ({ name: r.name, points: dayPoints(r, 'logloss') }))));
  parts.push(svgChart('Progressive AUC (all events so far)', 'events scored', 'AUC',
    runs.map((r) => ({ name: r.name, points: r.updates.filter((u) => u.auc !== null).map((u) => [u.scored, u.auc as number] as [number, number]) }))));
  parts.push('<h2>Per day (days with at least 20 scored events in the first run)</h2>');
  parts.push(`<table border="1" cellpadding="3" style="border-collapse:collapse"><tr><th>date</th><th>events</th>${runs.map((r) => `<th>${esc(r.name)}: AUC</th>`).join('')}</tr>`);
  const byDay = runs.map((r) => new Map(r.days.map((d) => [d.day, d])));
  for (const d of runs[0]?.days.filter((x) => x.events >= 20) ?? []) {
    parts.push(`<tr><td>${d.date}</td><td>${d.events}</td>${byDay.map((m) => `<td>${m.get(d.day)?.auc?.toFixed(4) ?? 'n/a'}</td>`).join('')}</tr>`);
  }
  parts.push('</table>');
  parts.push('</body></html>');
  return parts.join('\n');
}

/** Writes outDir/report.html for a run and the runs it is compared with. */
export function writeOnlineReport(outDir: string, label: string, compare: { dir: string; label?: string }[]): string {
  const runs = [readOnlineRun(outDir, label), ...compare.filter((c) => existsSync(join(c.dir, 'prequential.jsonl'))).map((c) => readOnlineRun(c.dir, c.label))];
  const path = join(outDir, 'report.html');
  writeFileSync(path, renderOnlineReport(`Online training: ${label}`, runs));
  return path;
}
