// The HTML report of `bench retrieve`: recall@100 against p50 and p99 latency at every search setting measured (the
// recall-latency curve), per corpus, one series per model and index (every run's points), and a table of every setting with the
// spread over runs. It reads the JSON line a run prints last, so committed runs can be drawn again:
// `npm run bench -- retrieve-report run1.txt run2.txt ... --out report.html`.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { esc, svgChart, type Series } from '../src/report/html.js';

type Row = Record<string, number | string | null>;

/** What one `bench retrieve` run printed as its last line (the fields the report reads). */
export interface RetrieveRun {
  label: string;
  cpu_model?: string;
  date?: string;
  items?: number;
  curve: Row[];
}

/** A search setting as the bench prints it: only the knobs that index uses. */
export function settingLabel(r: Row): string {
  const parts: string[] = [];
  if (Number(r.nprobe)) parts.push(`nprobe=${r.nprobe}`);
  if (Number(r.per_head)) parts.push(`k'=${r.per_head}`);
  if (Number(r.sum_depth)) parts.push(`sum=${r.sum_depth}x${r.sum_groups}`);
  if (Number(r.ef)) parts.push(`ef=${r.ef}`);
  parts.push(`cap=${r.max_candidates}`);
  return parts.join(' ') + (Number(r.default) ? ' (default)' : '');
}

const span = (xs: number[], digits: number): string => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return lo === hi ? lo.toFixed(digits) : `${lo.toFixed(digits)}-${hi.toFixed(digits)}`;
};

export function renderRetrieveReport(runs: RetrieveRun[]): string {
  const rows: Row[] = runs.flatMap((run) => run.curve.map((r) => ({ ...r, run: run.label })));
  const corpora = [...new Set(rows.map((r) => String(r.corpus)))];
  const machines = [...new Set(runs.map((r) => `${r.cpu_model ?? 'unknown CPU'}, ${r.date ?? 'undated'}`))];
  const body: string[] = [`<h1>Retrieval over the whole corpus: recall@100 against latency</h1>`,
    `<p>${runs.length} run(s): ${runs.map((r) => esc(r.label)).join(', ')}. ${machines.map(esc).join('; ')}. ` +
    'Recall is against exact full-corpus scoring with the same model; latency is per query through the service scorer.</p>'];
  for (const corpus of corpora) {
    const mine = rows.filter((r) => r.corpus === corpus);
    const group = (r: Row): string => `${r.model} ${String(r.index).replace('multi-vector', 'mv')}`;
    const groups = [...new Set(mine.map(group))];
    const series = (latency: 'p50_ms' | 'p99_ms'): Series[] => groups.map((g) => ({
      name: g,
      points: mine.filter((r) => group(r) === g).map((r): [number, number] => [Number(r[latency]), Number(r.recall_at_100)]),
    }));
    body.push(`<h2>${esc(corpus)}</h2>`,
      svgChart(`${corpus}: recall@100 vs p99`, 'p99 latency (ms)', 'recall@100', series('p99_ms'), true),
      svgChart(`${corpus}: recall@100 vs p50`, 'p50 latency (ms)', 'recall@100', series('p50_ms'), true));
    const table = ['<table><tr><th>model</th><th>index</th><th>setting</th><th>recall@100</th><th>p50 ms</th><th>p99 ms</th><th>exact p50 ms</th><th>runs</th></tr>'];
    const keys = [...new Set(mine.map((r) => `${r.model}\u0000${r.index}\u0000${settingLabel(r)}`))];
    for (const key of keys) {
      const [model, index, set] = key.split('\u0000');
      const same = mine.filter((r) => r.model === model && r.index === index && settingLabel(r) === set);
      const col = (f: string) => same.map((r) => Number(r[f]));
      table.push(`<tr><td>${esc(model)}</td><td>${esc(index)}</td><td>${esc(set)}</td><td>${span(col('recall_at_100'), 4)}</td>` +
        `<td>${span(col('p50_ms'), 2)}</td><td>${span(col('p99_ms'), 2)}</td><td>${span(col('exact_p50_ms'), 1)}</td><td>${same.length}</td></tr>`);
    }
    body.push(`${table.join('\n')}</table>`);
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench retrieve</title><style>body{font-family:sans-serif;margin:2em}` +
    'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:nth-child(-n+3){text-align:left}</style>' +
    `</head><body>\n${body.join('\n')}\n</body></html>\n`;
}

/** The run a `bench retrieve` output file records: its last line that parses as JSON with a curve. */
export function readRetrieveRun(path: string): RetrieveRun {
  const lines = readFileSync(path, 'utf8').split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let json: Partial<RetrieveRun>;
    try {
      json = JSON.parse(line);
    } catch {
      continue;
    }
    if (Array.isArray(json.curve)) return { ...json, label: basename(path).replace(/\.txt$/, ''), curve: json.curve };
  }
  throw new Error(`${path}: no line of JSON with a "curve" (the last line \`bench retrieve\` prints)`);
}

/** `npm run bench -- retrieve-report FILE... --out report.html`. */
export async function benchRetrieveReport(args: string[]): Promise<void> {
  const { values: { out }, positionals: files } = parseArgs({ args, options: { out: { type: 'string' } }, allowPositionals: true });
  if (!out || files.length === 0) throw new Error('usage: npm run bench -- retrieve-report <bench retrieve output>... --out <report.html>');
  writeFileSync(out, renderRetrieveReport(files.map(readRetrieveRun)));
  console.log(`wrote ${out} (${files.length} run(s))`);
}
