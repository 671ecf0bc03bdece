// `prerank cascade train --config <file>`: get a cascade, either built in memory from a cascade config or read from
// the files `prerank cascade build` wrote (`logs`: reader.ts), train one two-tower pre-ranker on its training
// requests with validation on the latest training requests, early stopping, best/last checkpoints and a JSONL log
// (fit.ts), then evaluate the best epoch and the logged production pre-ranker on the evaluation requests
// (evaluate.ts); print a table and write eval.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig, parseConfig, refineWith } from '../util/config.js';
import { Rng } from '../core/index.js';
import type { DataConfig } from '../data/spec.js';
import { MODELS, ModelSpecSchema, type ModelName } from '../models/registry.js';
import { Adam } from '../nn/index.js';
import { CascadeConfigSchema, loadCascadeConfig, parseCascadeConfig, type CascadeConfig } from './config.js';
import { evaluateOnCascade, evaluateRequests, loggedPrerankScorer, type CascadeEvalResult } from './evaluate.js';
import { checkStopMetric, fitOnCascade, type CascadeEpoch } from './fit.js';
import { loadCascade } from './reader.js';
import { simulateCascade, type CascadeSource } from './simulate.js';
import { LIST_LOSSES, type CascadeObjective, type ListLossName } from './train.js';

export const ObjectiveSchema = z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('pointwise') }).describe('BCE on impressions (target: rated)'),
  z.strictObject({ kind: z.literal('hybrid'), weights: z.strictObject({ distillation: z.number().min(0).default(1),
    sorting: z.number().min(0).default(1), amRankmax: z.number().min(0).default(1) }).default({ distillation: 1, sorting: 1, amRankmax: 1 }),
  distillation: z.enum(['softmax', 'weightedLogloss', 'pairwise']).default('softmax')
    .describe('the distillation term (eq. 9 softmax, or an alternative); weights.distillation 0 = none') }),
  z.strictObject({ kind: z.literal('listwise'), loss: z.enum(Object.keys(LIST_LOSSES) as [ListLossName, ...ListLossName[]]),
    scope: z.enum(['impressions', 'candidates', 'all']).default('all') }).describe('one listwise loss on one scope')]);

export const CapsSchema = z.strictObject({ impression: z.number().int().min(0), ranking_candidate: z.number().int().min(0),
  prerank_candidate: z.number().int().min(0), random: z.number().int().min(0) }).describe('samples per stage and list');

/** An inline cascade config, checked where it is written (parsed with its file's folder later: parseCascadeConfig). */
export const InlineCascadeSchema = z.record(z.string(), z.unknown()).superRefine((c, ctx) => refineWith(ctx, CascadeConfigSchema, c, []));

export const CascadeTrainConfigSchema = z.strictObject({
  name: z.string(),
  cascade: z.union([z.string(), InlineCascadeSchema]).optional()
    .describe('a cascade config file (relative to this file) or one inline: built in memory on every run'),
  logs: z.string().optional().describe('instead of cascade: a directory written by prerank cascade build (relative to this file); lists are read from its files'),
  model: ModelSpecSchema.describe('a registered two-tower model and its config ({} = defaults)'),
  objective: ObjectiveSchema,
  caps: CapsSchema,
  listsPerBatch: z.number().int().positive().default(32),
  epochs: z.number().int().positive().default(5),
  lr: z.number().positive().default(1e-3),
  seed: z.number().int().default(1),
  ks: z.array(z.number().int().positive()).min(1).default([100]),
  validation: z.strictObject({ fraction: z.number().gt(0).lt(1).default(0.1) }).nullable().default({ fraction: 0.1 })
    .describe('the latest fraction of the training requests (by t) held out for early stopping; null = none (train every epoch)'),
  earlyStopping: z.strictObject({ metric: z.string().default('ndcg@100'), patience: z.number().int().min(0).default(2) })
    .default({ metric: 'ndcg@100', patience: 2 }).describe('metric: loss (validation objective) | auc | recall@K | ndcg@K | teacher_recall@K'),
  out: z.string().describe('directory for eval.json, log.jsonl, best/ and last/ checkpoints and the stage models (relative to this file)'),
});
export type CascadeTrainConfig = z.infer<typeof CascadeTrainConfigSchema>;

/** Validates a parsed train config object; relative paths resolve against baseDir. */
export function parseCascadeTrainConfig(input: unknown, baseDir: string): { cfg: CascadeTrainConfig; cascade: CascadeConfig | null } {
  const data = parseConfig(CascadeTrainConfigSchema, input, 'cascade-train', 'cascade train config');
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const cfg = { ...data, out: abs(data.out), logs: data.logs === undefined ? undefined : abs(data.logs) };
  if ((cfg.cascade === undefined) === (cfg.logs === undefined)) throw new ConfigError('invalid cascade train config: give exactly one of cascade (build in memory) and logs (read a build)');
  checkStopMetric(cfg.earlyStopping.metric);
  const cascade = cfg.cascade === undefined ? null
    : typeof cfg.cascade === 'string' ? loadCascadeConfig(abs(cfg.cascade)) : parseCascadeConfig(cfg.cascade, baseDir);
  return { cfg, cascade };
}

/** Reads a cascade train config file (JSON or YAML). */
export function loadCascadeTrainConfig(path: string): { cfg: CascadeTrainConfig; cascade: CascadeConfig | null } {
  return loadConfig(path, 'cascade train config', parseCascadeTrainConfig);
}

export interface CascadeTrainReport {
  name: string;
  model: string;
  objective: CascadeObjective;
  /** Where the lists came from: built in memory, or the files of a build (its directory). */
  source: { kind: 'memory' } | { kind: 'files'; dir: string };
  /** Steps over every epoch trained (a resumed run's included). */
  steps: number;
  /** The first and last step loss of this call (a resumed call's first step is the resumed epoch's). */
  firstLoss: number;
  lastLoss: number;
  epochs: CascadeEpoch[];
  bestEpoch: number;
  stoppedEarly: boolean;
  requests: { train: number; val: number; valFrom: number | null; eval: number };
  seconds: { cascade: number; train: number; eval: number };
  /** Rows: the trained model (its best epoch) and the logged production pre-ranker. */
  rows: { name: string; result: CascadeEvalResult }[];
}

export interface CascadeTrainOptions {
  dataConfig?: DataConfig;
  /** Continue from <out>/last when it exists (the cascade is rebuilt the same, seed for seed). */
  resume?: boolean;
  log?: (m: string) => void;
  signal?: AbortSignal;
}

/** The cascade of a train config: read from cfg.logs, or built in memory from cascadeCfg. */
export async function cascadeSourceOf(cfg: CascadeTrainConfig, cascadeCfg: CascadeConfig | null, opts: CascadeTrainOptions = {}): Promise<CascadeSource> {
  if (cfg.logs) return loadCascade(cfg.logs, { dataConfig: opts.dataConfig });
  if (!cascadeCfg) throw new Error('cascade train: no cascade config and no logs directory');
  return simulateCascade(cascadeCfg, { modelDir: join(cfg.out, 'stage-models'), dataConfig: opts.dataConfig, log: opts.log, signal: opts.signal });
}

/** Trains and evaluates cfg.model on a cascade already at hand; writes eval.json (and checkpoints, log.jsonl) in cfg.out. */
export async function trainOnSource(cfg: CascadeTrainConfig, src: CascadeSource, opts: CascadeTrainOptions & { cascadeSeconds?: number } = {}): Promise<CascadeTrainReport> {
  const say = opts.log ?? (() => {});
  const t1 = performance.now();
  const model = MODELS[cfg.model.kind as ModelName]({ features: src.fit.data.features, rng: new Rng(cfg.seed) }, cfg.model.config as never);
  const objective = cfg.objective as CascadeObjective;
  mkdirSync(cfg.out, { recursive: true });
  say(`training ${cfg.model.kind} (${cfg.objective.kind}), up to ${cfg.epochs} epochs`);
  const fit = await fitOnCascade(model, src, new Adam(model.namedParameters(), { lr: cfg.lr }), { objective, caps: cfg.caps,
    listsPerBatch: cfg.listsPerBatch, epochs: cfg.epochs, seed: cfg.seed, validation: cfg.validation, earlyStopping: cfg.earlyStopping,
    outDir: cfg.out, resume: opts.resume, signal: opts.signal, log: say });
  const t2 = performance.now();
  const logs = src.logs.filter((e) => e.request.split === 'eval');
  const rows = [
    { name: `${cfg.model.kind} (${cfg.objective.kind})`, result: evaluateOnCascade(model, src, { ks: cfg.ks, signal: opts.signal }) },
    { name: `production ${src.config.prerank.kind} (logged)`, result: evaluateRequests(logs, src.config.labels, loggedPrerankScorer(), { ks: cfg.ks }) },
  ];
  const report: CascadeTrainReport = { name: cfg.name, model: cfg.model.kind, objective,
    source: cfg.logs ? { kind: 'files', dir: cfg.logs } : { kind: 'memory' }, steps: fit.epochs.reduce((n, e) => n + e.steps, 0),
    firstLoss: fit.losses[0] ?? NaN, lastLoss: fit.losses[fit.losses.length - 1] ?? NaN, epochs: fit.epochs, bestEpoch: fit.bestEpoch,
    stoppedEarly: fit.stoppedEarly, requests: { ...fit.requests, eval: logs.length },
    seconds: { cascade: opts.cascadeSeconds ?? 0, train: (t2 - t1) / 1000, eval: (performance.now() - t2) / 1000 }, rows };
  writeFileSync(join(cfg.out, 'eval.json'), JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  return report;
}

export async function runCascadeTrain(cfg: CascadeTrainConfig, cascadeCfg: CascadeConfig | null, opts: CascadeTrainOptions = {}): Promise<CascadeTrainReport> {
  const t0 = performance.now();
  const src = await cascadeSourceOf(cfg, cascadeCfg, opts);
  return trainOnSource(cfg, src, { ...opts, cascadeSeconds: (performance.now() - t0) / 1000 });
}

export function formatCascadeTrain(r: CascadeTrainReport): string {
  const cols = Object.keys(r.rows[0].result.metrics);
  const width = Math.max(...r.rows.map((x) => x.name.length));
  const e = r.rows[0].result;
  const last = r.epochs[r.epochs.length - 1];
  return [`${r.name}: ${r.steps} steps, loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}; best epoch ${r.bestEpoch} of ${r.epochs.length}`
    + `${r.stoppedEarly ? ' (stopped early)' : ''}; ${r.requests.train} training / ${r.requests.val} validation requests; `
    + `${last ? `${last.samplesPerSec.toFixed(0)} samples/s, ${last.listsPerSec.toFixed(1)} lists/s; ` : ''}`
    + `cascade (${r.source.kind}) ${r.seconds.cascade.toFixed(1)} s, `
    + `train ${r.seconds.train.toFixed(1)} s, eval ${r.seconds.eval.toFixed(1)} s`,
  `eval: ${e.requests} requests (${e.skippedNoTruth} without ground truth in the recall set, ${e.skippedAuc} with one class among impressions); `
    + `ground truth in the recall set: ${(100 * e.truthInRecall).toFixed(1)}%`,
  '',
  ['model'.padEnd(width), ...cols.map((c) => c.padStart(Math.max(c.length, 8)))].join('  '),
  ...r.rows.map((x) => [x.name.padEnd(width), ...cols.map((c) => x.result.metrics[c].toFixed(4).padStart(Math.max(c.length, 8)))].join('  ')),
  ].join('\n');
}
