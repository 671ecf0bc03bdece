// `prerank cascade train --config <file>`: build the cascade of a cascade config in memory (the lists need its
// period-1 Dataset, which the written files do not hold), train one two-tower pre-ranker on its training requests
// with trainOnCascade (BCE on impressions or the hybrid objective), evaluate it and the logged production
// pre-ranker on the evaluation requests (evaluate.ts), print a table and write eval.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { Rng } from '../core/index.js';
import type { DataConfig } from '../data/spec.js';
import { MODELS, type ModelName } from '../models/registry.js';
import { Adam } from '../nn/index.js';
import { loadCascadeConfig, parseCascadeConfig, type CascadeConfig } from './config.js';
import { evaluateOnCascade, evaluateRequests, loggedPrerankScorer, type CascadeEvalResult } from './evaluate.js';
import { CascadeLists } from './lists.js';
import { simulateCascade } from './simulate.js';
import { trainOnCascade, type CascadeObjective } from './train.js';

export const CascadeTrainConfigSchema = z.object({
  name: z.string(),
  cascade: z.union([z.string(), z.record(z.string(), z.unknown())])
    .describe('a cascade config file (relative to this file) or one inline; built in memory on every run'),
  model: z.object({ kind: z.string(), config: z.record(z.string(), z.unknown()).default({}) })
    .describe('a registered two-tower model and its config ({} = defaults)'),
  objective: z.union([z.object({ kind: z.literal('pointwise') }),
    z.object({ kind: z.literal('hybrid'), weights: z.object({ distillation: z.number().min(0).default(1),
      sorting: z.number().min(0).default(1), amRankmax: z.number().min(0).default(1) }).default({ distillation: 1, sorting: 1, amRankmax: 1 }) })]),
  caps: z.object({ impression: z.number().int().min(0), ranking_candidate: z.number().int().min(0),
    prerank_candidate: z.number().int().min(0), random: z.number().int().min(0) }).describe('samples per stage and list'),
  listsPerBatch: z.number().int().positive().default(32),
  epochs: z.number().int().positive().default(5),
  lr: z.number().positive().default(1e-3),
  seed: z.number().int().default(1),
  ks: z.array(z.number().int().positive()).min(1).default([100]),
  out: z.string().describe('directory for eval.json and the stage models (relative to this file)'),
});
export type CascadeTrainConfig = z.infer<typeof CascadeTrainConfigSchema>;

export function loadCascadeTrainConfig(path: string): { cfg: CascadeTrainConfig; cascade: CascadeConfig } {
  const r = CascadeTrainConfigSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!r.success) {
    throw new Error(`invalid cascade train config:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  const base = dirname(resolve(path));
  const cfg = { ...r.data, out: isAbsolute(r.data.out) ? r.data.out : resolve(base, r.data.out) };
  if (!(cfg.model.kind in MODELS)) throw new Error(`model.kind: unknown model '${cfg.model.kind}' (known: ${Object.keys(MODELS).join(', ')})`);
  const cascade = typeof cfg.cascade === 'string' ? loadCascadeConfig(resolve(base, cfg.cascade)) : parseCascadeConfig(cfg.cascade, base);
  return { cfg, cascade };
}

export interface CascadeTrainReport {
  name: string;
  model: string;
  objective: CascadeObjective;
  steps: number;
  firstLoss: number;
  lastLoss: number;
  seconds: { cascade: number; train: number; eval: number };
  /** Rows: the trained model and the logged production pre-ranker. */
  rows: { name: string; result: CascadeEvalResult }[];
}

export async function runCascadeTrain(cfg: CascadeTrainConfig, cascadeCfg: CascadeConfig,
  opts: { dataConfig?: DataConfig; log?: (m: string) => void; signal?: AbortSignal } = {}): Promise<CascadeTrainReport> {
  const say = opts.log ?? (() => {});
  const t0 = performance.now();
  const cascade = await simulateCascade(cascadeCfg, { modelDir: join(cfg.out, 'stage-models'), dataConfig: opts.dataConfig, log: say, signal: opts.signal });
  const t1 = performance.now();
  const model = MODELS[cfg.model.kind as ModelName]({ features: cascade.fit.data.features, rng: new Rng(cfg.seed) }, cfg.model.config as never);
  const lists = new CascadeLists(cascade, 'train', { listsPerBatch: cfg.listsPerBatch, caps: cfg.caps, seed: cfg.seed });
  say(`training ${cfg.model.kind} (${cfg.objective.kind}) on ${lists.listCount} training requests, ${cfg.epochs} epochs`);
  const objective = cfg.objective as CascadeObjective;
  const losses = trainOnCascade(model, lists, new Adam(model.namedParameters(), { lr: cfg.lr }), { objective, epochs: cfg.epochs,
    signal: opts.signal });
  const t2 = performance.now();
  const logs = cascade.logs.filter((e) => e.request.split === 'eval');
  const rows = [
    { name: `${cfg.model.kind} (${cfg.objective.kind})`, result: evaluateOnCascade(model, cascade, { ks: cfg.ks, signal: opts.signal }) },
    { name: `production ${cascadeCfg.prerank.kind} (logged)`, result: evaluateRequests(logs, cascadeCfg.labels, loggedPrerankScorer(), { ks: cfg.ks }) },
  ];
  const report: CascadeTrainReport = { name: cfg.name, model: cfg.model.kind, objective, steps: losses.length,
    firstLoss: losses[0] ?? NaN, lastLoss: losses[losses.length - 1] ?? NaN,
    seconds: { cascade: (t1 - t0) / 1000, train: (t2 - t1) / 1000, eval: (performance.now() - t2) / 1000 }, rows };
  mkdirSync(cfg.out, { recursive: true });
  writeFileSync(join(cfg.out, 'eval.json'), JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  return report;
}

export function formatCascadeTrain(r: CascadeTrainReport): string {
  const cols = Object.keys(r.rows[0].result.metrics);
  const width = Math.max(...r.rows.map((x) => x.name.length));
  const e = r.rows[0].result;
  return [`${r.name}: ${r.steps} steps, loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}; cascade ${r.seconds.cascade.toFixed(1)} s, `
    + `train ${r.seconds.train.toFixed(1)} s, eval ${r.seconds.eval.toFixed(1)} s`,
  `eval: ${e.requests} requests (${e.skippedNoTruth} without ground truth in the recall set, ${e.skippedAuc} with one class among impressions); `
    + `ground truth in the recall set: ${(100 * e.truthInRecall).toFixed(1)}%`,
  '',
  ['model'.padEnd(width), ...cols.map((c) => c.padStart(Math.max(c.length, 8)))].join('  '),
  ...r.rows.map((x) => [x.name.padEnd(width), ...cols.map((c) => x.result.metrics[c].toFixed(4).padStart(Math.max(c.length, 8)))].join('  ')),
  ].join('\n');
}
