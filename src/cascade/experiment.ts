// Cascade experiments (RankTower Tables 1-4): one cascade (built once in memory from a cascade config, or
// read from a build's files), then rows x seeds of `trainOnSource` (fit.ts: validation on the latest training
// requests, early stopping, best checkpoint) evaluated on the evaluation requests; the logged production
// pre-ranker is a reference row. Writes results.json (every run, rewritten after each), results.md (mean ± std over
// seeds of Recall/NDCG@K on the graded ground truth, the teacher's top-S recall, impression AUC, best epoch,
// samples/s) and report.html, with the exact command. A row overrides any of the shared training settings: the
// model (Table 1), the caps = sampling scope (Table 2), the objective (Tables 3 and 4).
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig, parseConfig } from '../util/config.js';
import type { DataConfig } from '../data/spec.js';
import { ModelSpecSchema } from '../models/registry.js';
import { findRun, recordedConfig, recordedRuns } from '../train/experiment-resume.js';
import { loadCascadeConfig, parseCascadeConfig, type CascadeConfig } from './config.js';
import { evaluateRequests, loggedPrerankScorer, type CascadeEvalResult } from './evaluate.js';
import { checkStopMetric } from './fit.js';
import { cascadeSourceOf, CapsSchema, CascadeTrainConfigSchema, InlineCascadeSchema, ObjectiveSchema, trainOnSource, type CascadeTrainConfig } from './run.js';

const TrainSettings = CascadeTrainConfigSchema.pick({ objective: true, caps: true, listsPerBatch: true, epochs: true, lr: true,
  ks: true, validation: true, earlyStopping: true });

export const CascadeExperimentSchema = z.strictObject({
  type: z.literal('cascade').describe('marks a cascade experiment for `prerank experiment`'),
  name: z.string(),
  cascade: z.union([z.string(), InlineCascadeSchema]).optional().describe('a cascade config (file relative to this one, or inline): built once in memory'),
  logs: z.string().optional().describe('instead of cascade: a `prerank cascade build` directory (relative to this file)'),
  seeds: z.array(z.number().int()).min(1).default([1, 2, 3]),
  train: TrainSettings.describe('settings shared by every row'),
  rows: z.array(z.strictObject({
    label: z.string(),
    model: ModelSpecSchema,
    objective: ObjectiveSchema.optional(),
    caps: CapsSchema.optional(),
    lr: z.number().positive().optional(),
    epochs: z.number().int().positive().optional(),
  })).min(1),
  loggedBaseline: z.boolean().default(true).describe('add the production pre-ranker\'s logged scores as a row'),
  outDir: z.string().describe('results.md, results.json, report.html and runs/ (relative to this file)'),
});
export type CascadeExperiment = z.infer<typeof CascadeExperimentSchema>;

export interface CascadeExperimentRun {
  label: string;
  model: string;
  seed: number;
  objective: CascadeTrainConfig['objective'];
  caps: CascadeTrainConfig['caps'];
  result: CascadeEvalResult;
  bestEpoch: number;
  epochs: number;
  stoppedEarly: boolean;
  samplesPerSec: number;
  listsPerSec: number;
  trainSeconds: number;
}

/** Validates an experiment object; relative paths resolve against baseDir. Errors name the field. */
export function parseCascadeExperiment(input: unknown, baseDir: string): { exp: CascadeExperiment; cascade: CascadeConfig | null } {
  const data = parseConfig(CascadeExperimentSchema, input, 'cascade-experiment', 'cascade experiment');
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const exp = { ...data, outDir: abs(data.outDir), logs: data.logs === undefined ? undefined : abs(data.logs) };
  if ((exp.cascade === undefined) === (exp.logs === undefined)) throw new ConfigError('invalid cascade experiment: give exactly one of cascade and logs');
  const labels = exp.rows.map((x) => x.label);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) throw new ConfigError(`invalid cascade experiment: rows: label '${dup}' appears twice`);
  checkStopMetric(exp.train.earlyStopping.metric, 'train.earlyStopping.metric');
  const cascade = exp.cascade === undefined ? null
    : typeof exp.cascade === 'string' ? loadCascadeConfig(abs(exp.cascade)) : parseCascadeConfig(exp.cascade, baseDir);
  return { exp, cascade };
}

/** Reads a cascade experiment file (JSON or YAML). */
export function loadCascadeExperiment(path: string): { exp: CascadeExperiment; cascade: CascadeConfig | null } {
  return loadConfig(path, 'cascade experiment', parseCascadeExperiment);
}

/** True when a parsed experiment file is a cascade experiment (`"type": "cascade"`). */
export function isCascadeExperiment(json: unknown): boolean {
  return typeof json === 'object' && json !== null && (json as { type?: unknown }).type === 'cascade';
}

export interface CascadeExperimentResult {
  runs: CascadeExperimentRun[];
  logged: CascadeEvalResult | null;
}

export async function runCascadeExperiment(exp: CascadeExperiment, cascadeCfg: CascadeConfig | null, command: string,
  opts: { dataConfig?: DataConfig; log?: (m: string) => void; signal?: AbortSignal; resume?: boolean } = {}): Promise<CascadeExperimentResult> {
  const say = opts.log ?? (() => {});
  mkdirSync(exp.outDir, { recursive: true });
  const t0 = performance.now();
  // the stage models of an in-memory build go to runs/ (ignored by git under docs/results)
  const base = { name: exp.name, model: exp.rows[0].model, ...exp.train, seed: 0, out: join(exp.outDir, 'runs'), logs: exp.logs } as CascadeTrainConfig;
  const src = await cascadeSourceOf(base, cascadeCfg, { ...opts, log: (m) => say(`[cascade] ${m}`) });
  say(`${exp.name}: cascade ${exp.logs ? `read from ${exp.logs}` : 'built in memory'} in ${((performance.now() - t0) / 1000).toFixed(1)} s; `
    + `${exp.rows.length} rows x ${exp.seeds.length} seeds`);
  const evalLogs = src.logs.filter((e) => e.request.split === 'eval');
  const logged = exp.loggedBaseline ? evaluateRequests(evalLogs, src.config.labels, loggedPrerankScorer(), { ks: exp.train.ks }) : null;
  const recorded = opts.resume ? recordedRuns<CascadeExperimentRun>(exp.outDir, exp) : [];
  const runs: CascadeExperimentRun[] = [];
  const save = (): void => {
    writeFileSync(join(exp.outDir, 'results.json'), JSON.stringify({ experiment: recordedConfig(exp), cascade: src.config.name, command, logged, runs },
      (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1));
    writeFileSync(join(exp.outDir, 'results.md'), cascadeMarkdown(exp, src.config.name, runs, logged, command));
  };
  for (const row of exp.rows) {
    for (const seed of exp.seeds) {
      const done = findRun(recorded, row.label, seed);
      if (done) {
        runs.push(done);
        say(`  ${row.label} seed ${seed}: recorded in results.json (--resume), not trained again`);
        continue;
      }
      const cfg: CascadeTrainConfig = { ...exp.train, name: `${row.label} seed ${seed}`, model: row.model, objective: row.objective ?? exp.train.objective,
        caps: row.caps ?? exp.train.caps, lr: row.lr ?? exp.train.lr, epochs: row.epochs ?? exp.train.epochs, seed,
        out: join(exp.outDir, 'runs', `${row.label.replace(/[^A-Za-z0-9._-]+/g, '_')}-seed${seed}`), logs: exp.logs };
      const r = await trainOnSource(cfg, src, { signal: opts.signal });
      const last = r.epochs[r.epochs.length - 1];
      const run: CascadeExperimentRun = { label: row.label, model: row.model.kind, seed, objective: cfg.objective, caps: cfg.caps,
        result: r.rows[0].result, bestEpoch: r.bestEpoch, epochs: r.epochs.length, stoppedEarly: r.stoppedEarly,
        samplesPerSec: r.epochs.reduce((a, e) => a + e.samplesPerSec, 0) / Math.max(1, r.epochs.length),
        listsPerSec: r.epochs.reduce((a, e) => a + e.listsPerSec, 0) / Math.max(1, r.epochs.length), trainSeconds: r.seconds.train };
      runs.push(run);
      const k = exp.train.ks[0];
      say(`  ${row.label} seed ${seed}: recall@${k} ${run.result.metrics[`recall@${k}`].toFixed(4)} ndcg@${k} ${run.result.metrics[`ndcg@${k}`].toFixed(4)} `
        + `(best epoch ${run.bestEpoch} of ${run.epochs}, ${(last?.samplesPerSec ?? 0).toFixed(0)} samples/s)`);
      save();
    }
  }
  writeFileSync(join(exp.outDir, 'results.md'), cascadeMarkdown(exp, src.config.name, runs, logged, command));
  writeFileSync(join(exp.outDir, 'report.html'), cascadeHtml(exp, src.config.name, runs, logged, command));
  return { runs, logged };
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const ok = xs.filter(Number.isFinite);
  if (!ok.length) return { mean: NaN, std: NaN };
  const mean = ok.reduce((a, b) => a + b, 0) / ok.length;
  const std = ok.length > 1 ? Math.sqrt(ok.reduce((a, b) => a + (b - mean) ** 2, 0) / (ok.length - 1)) : 0;
  return { mean, std };
}

function columns(exp: CascadeExperiment): string[] {
  return [...exp.train.ks.flatMap((k) => [`recall@${k}`, `ndcg@${k}`, `teacher_recall@${k}`]), 'auc'];
}

interface TableRow { label: string; cells: string[]; extra: string[] }

function tableRows(exp: CascadeExperiment, runs: CascadeExperimentRun[], logged: CascadeEvalResult | null): TableRow[] {
  const cols = columns(exp);
  const out: TableRow[] = [];
  for (const row of exp.rows) {
    const rs = runs.filter((r) => r.label === row.label);
    if (!rs.length) continue;
    out.push({ label: row.label, cells: cols.map((c) => {
      const { mean, std } = meanStd(rs.map((r) => r.result.metrics[c]));
      return Number.isFinite(mean) ? `${mean.toFixed(4)} ± ${std.toFixed(4)}` : '-';
    }), extra: [meanStd(rs.map((r) => r.bestEpoch)).mean.toFixed(1), meanStd(rs.map((r) => r.samplesPerSec)).mean.toFixed(0), String(rs.length)] });
  }
  if (logged) out.push({ label: 'production pre-ranker (logged)', cells: cols.map((c) => logged.metrics[c].toFixed(4)), extra: ['-', '-', '-'] });
  return out;
}

export function cascadeMarkdown(exp: CascadeExperiment, cascade: string, runs: CascadeExperimentRun[], logged: CascadeEvalResult | null, command: string): string {
  const cols = columns(exp);
  const e = runs[0]?.result ?? logged;
  const lines = [`# ${exp.name}`, '',
    `Cascade: ${cascade} (${exp.logs ? `read from ${exp.logs}` : 'built in memory'}). Seeds: ${exp.seeds.join(', ')}. Mean ± std over seeds `
      + '(sample std; ± 0 with one seed) of the best-validation epoch, on the evaluation requests: each model scores the request\'s whole recall set '
      + '(docs/RANKING.md, "Evaluation"). recall/ndcg: graded ground truth in the recall set; teacher_recall: the teacher\'s shown top S; '
      + 'auc: over impressions (rated = positive).',
    e ? `Evaluation requests: ${e.requests} (${e.skippedNoTruth} without ground truth in the recall set, ${e.skippedAuc} with one class among impressions).` : '',
    `Training: ${JSON.stringify(exp.train)}`, '', `Command: \`${command}\``, '',
    `| row | ${cols.join(' | ')} | best epoch | train samples/s | runs |`, `|---|${cols.map(() => '---').join('|')}|---|---|---|`,
    ...tableRows(exp, runs, logged).map((r) => `| ${r.label} | ${r.cells.join(' | ')} | ${r.extra.join(' | ')} |`), '',
    'Rows: ', ...exp.rows.map((r) => `- ${r.label}: ${r.model.kind}${Object.keys(r.model.config).length ? ` ${JSON.stringify(r.model.config)}` : ''}, `
      + `objective ${JSON.stringify(r.objective ?? exp.train.objective)}, caps ${JSON.stringify(r.caps ?? exp.train.caps)}`)];
  return `${lines.join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function cascadeHtml(exp: CascadeExperiment, cascade: string, runs: CascadeExperimentRun[], logged: CascadeEvalResult | null, command: string): string {
  const cols = columns(exp);
  const rows = tableRows(exp, runs, logged).map((r) => `<tr><td>${esc(r.label)}</td>${[...r.cells, ...r.extra].map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`);
  // one bar per row: mean of the first ranking metric
  const key = `ndcg@${exp.train.ks[0]}`;
  const bars = exp.rows.map((row) => ({ label: row.label, v: meanStd(runs.filter((r) => r.label === row.label).map((r) => r.result.metrics[key])).mean }))
    .filter((b) => Number.isFinite(b.v));
  const max = Math.max(1e-9, ...bars.map((b) => b.v), logged?.metrics[key] ?? 0);
  const svg = `<svg width="720" height="${24 * (bars.length + 1) + 10}" xmlns="http://www.w3.org/2000/svg">${[...bars, ...(logged ? [{ label: 'production (logged)', v: logged.metrics[key] }] : [])]
    .map((b, i) => `<text x="0" y="${24 * i + 17}" font-size="12">${esc(b.label)}</text><rect x="260" y="${24 * i + 5}" width="${(400 * b.v) / max}" height="16" fill="#4a7"/>`
      + `<text x="${265 + (400 * b.v) / max}" y="${24 * i + 17}" font-size="12">${b.v.toFixed(4)}</text>`).join('')}</svg>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(exp.name)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}code{background:#eee}</style>
</head><body><h1>${esc(exp.name)}</h1><p>Cascade: ${esc(cascade)}. Seeds: ${exp.seeds.join(', ')}. Mean ± std over seeds on the evaluation requests.</p>
<p>Command: <code>${esc(command)}</code></p>
<table><tr><th>row</th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}<th>best epoch</th><th>train samples/s</th><th>runs</th></tr>${rows.join('')}</table>
<h2>${esc(key)} (mean over seeds)</h2>${svg}
</body></html>
`;
}
