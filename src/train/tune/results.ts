// What a finished search writes in its outDir: results.md (the trials table, best first), results.json (every
// trial, the best config, its test metrics), report.html, and the best configuration as files the other commands
// take: best-train.json (`prerank train --config`) and best-experiment.json (`prerank experiment --config`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatValue, renderTuneReport, type ReportTrial } from '../../report/tune-html.js';
import { runConfigJson, type TrainConfig } from '../config.js';
import { compareTrials, finished } from './asha.js';
import type { TuneConfig } from './config.js';
import type { SearchOutcome } from './search.js';
import type { TrialState } from './trial-state.js';

/** The highest rung a trial reported, or -1. */
const topRung = (t: TrialState) => Math.max(-1, ...Object.keys(t.rungs).map(Number));

function status(t: TrialState, rungs: number[]): string {
  return t.baseline ? `base config; ${progress(t, rungs)}` : progress(t, rungs);
}

function progress(t: TrialState, rungs: number[]): string {
  if (t.error !== undefined) return `failed: ${t.error.split('\n')[0]}`;
  const k = topRung(t);
  if (t.stoppedEarly) return `early stopping at epoch ${t.epochsDone} (rung ${k})`;
  if (finished(t, rungs[rungs.length - 1])) return 'full budget';
  return t.assigned > k ? `unfinished (rung ${t.assigned})` : `stopped at rung ${k}`;
}

/** The trials best first, as the table and the report show them. */
export function trialRows(outcome: SearchOutcome): ReportTrial[] {
  const { state, rungs } = outcome;
  const value = (t: TrialState) => (topRung(t) < 0 ? NaN : t.rungs[topRung(t)]);
  return [...state.trials].sort(compareTrials(state.lowerIsBetter ?? false, value))
    .map((t) => ({ id: t.id, values: t.values, value: value(t), epochs: t.epochsDone, status: status(t, rungs), curve: t.curve }));
}

/** Test metrics as one line (counts as integers). */
export const metricsText = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(5)}`).join(', ');

export function resultsMarkdown(cfg: TuneConfig, outcome: SearchOutcome, command: string): string {
  const keys = Object.keys(cfg.space);
  const m = outcome.state.metric;
  const lines = [
    `# ${cfg.name}`, '',
    `${cfg.trials} trials (sampler seed ${cfg.seed}), successive halving with eta ${cfg.asha.eta} at epochs ${outcome.rungs.join(', ')}; ` +
    `chosen on validation ${m} (best epoch so far at the highest rung each trial reached). Test is read once, for the best trial.`, '',
    `Best: trial ${outcome.best.id}; test ${metricsText(outcome.test)}.`, '',
    `Command: \`${command}\``, '',
    `| trial | ${keys.join(' | ')} | val ${m} | epochs | status |`,
    `|---|${keys.map(() => '---').join('|')}|---|---|---|`,
    ...trialRows(outcome).map((t) => `| ${t.id} | ${keys.map((k) => formatValue(t.values[k], 4)).join(' | ')} | ${t.value.toFixed(5)} | ${t.epochs} | ${t.status} |`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The best configuration as an experiment config: the tuned model with the tuned training settings, three seeds. */
export function bestExperiment(cfg: TuneConfig, best: TrainConfig): Record<string, unknown> {
  const { model, data, seed: _s, outDir: _o, strategy, splitSeed: _p, ...train } = best;
  return {
    name: `${cfg.name}: the tuned configuration`, data,
    models: [{ kind: model.kind, label: `${model.kind}-tuned`, config: model.config, ...(strategy ? { strategy } : {}) }],
    seeds: [1, 2, 3], train, base: `${model.kind}-tuned`, outDir: join(cfg.outDir, 'best-experiment'),
  };
}

export function writeResults(cfg: TuneConfig, outcome: SearchOutcome, command: string): void {
  const dir = cfg.outDir;
  const best = { ...outcome.bestConfig, outDir: join(dir, 'best-run') };
  writeFileSync(join(dir, 'best-train.json'), `${runConfigJson(best)}\n`);
  writeFileSync(join(dir, 'best-experiment.json'), `${JSON.stringify(bestExperiment(cfg, JSON.parse(runConfigJson(best))), null, 2)}\n`);
  writeFileSync(join(dir, 'results.md'), resultsMarkdown(cfg, outcome, command));
  const trials = trialRows(outcome);
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ search: cfg, command, rungs: outcome.rungs, metric: outcome.state.metric,
    lowerIsBetter: outcome.state.lowerIsBetter, best: { trial: outcome.best.id, values: outcome.best.values, config: best, test: outcome.test }, trials }, null, 1));
  const keys = Object.entries(cfg.space).map(([path, d]) => ({ path, log: 'log' in d && d.log !== false }));
  writeFileSync(join(dir, 'report.html'), renderTuneReport({ name: cfg.name, metric: outcome.state.metric, keys, trials, test: outcome.test }));
}
