// The cascade simulator's configuration: one zod schema (it documents the JSON or YAML file too) plus the checks zod cannot
// express (stage sizes nest, label values follow the stage order). Every error names the field it is about.
// Stage sizes: R recall, P pre-ranking survivors (ranked by the teacher), S impressions, Q random samples.
import { z } from 'zod';
import { ConfigError, loadConfig, parseConfig } from '../util/config.js';
import { checkModelConfig } from '../models/registry.js';
import { resolveDataRef } from '../train/config.js';

const ModelSpec = z.strictObject({
  kind: z.string().describe('a registered model (src/models/registry.ts)'),
  config: z.record(z.string(), z.unknown()).default({}).describe("the model's own config; {} = its defaults"),
  epochs: z.number().int().positive().default(5),
  batchSize: z.number().int().positive().default(2048),
  lr: z.number().positive().default(1e-3),
  patience: z.number().int().min(0).default(2).describe('early stopping on the period-1 validation AUC'),
  seed: z.number().int().optional().describe('default: the cascade seed'),
}).superRefine((m, ctx) => checkModelConfig(ctx, m.kind, m.config, ['kind'], ['config']));

const FeedbackLevel = z.strictObject({
  name: z.string().describe('a name for reports, e.g. "rated_5"'),
  min: z.number().nullable().default(null).describe('lowest raw feedback value of this level; null = any rated item'),
  value: z.number().describe('the aggregated label'),
});

export const CascadeConfigSchema = z.strictObject({
  name: z.string(),
  seed: z.number().int().default(1),
  data: z.union([z.strictObject({ config: z.string() }), z.strictObject({ recipe: z.enum(['ml-100k', 'ml-1m', 'ml-latest-small']) })])
    .describe('a data config file (relative to this file) or a built-in recipe'),
  dropFeatures: z.array(z.string()).default([])
    .describe('features of the data config the stage models must not use (e.g. item content aggregated over all time)'),
  periods: z.strictObject({
    fit: z.number().gt(0).lt(1).default(0.6).describe('fraction of events (by time) in period 1: recall, teacher and production pre-ranker fit'),
    train: z.number().gt(0).lt(1).default(0.2).describe('fraction of events in period 2: pre-ranker training requests; the rest is period 3 (evaluation)'),
  }).default({ fit: 0.6, train: 0.2 }),
  requests: z.strictObject({
    train: z.number().int().min(0).default(500).describe('period-2 requests (at most perUser per user)'),
    eval: z.number().int().min(0).default(300).describe('period-3 requests (at most perUser per user)'),
    perUser: z.number().int().min(1).default(1).describe('requests per user and period at most, each at a different t'),
    windowSeconds: z.number().positive().default(7 * 86400).describe('ground truth: the user\'s events in [t, t + window), cut at the period end'),
    minGroundTruth: z.number().int().min(1).default(1).describe('fewer unseen ground-truth items: the request is skipped and counted'),
  }).default({ train: 500, eval: 300, perUser: 1, windowSeconds: 7 * 86400, minGroundTruth: 1 }),
  stages: z.strictObject({
    recall: z.number().int().positive().default(1000).describe('R: recall candidates per request'),
    prerank: z.number().int().positive().default(200).describe('P: kept by the production pre-ranker, scored by the teacher'),
    impressions: z.number().int().positive().default(20).describe('S: the teacher\'s top slots, shown to the user'),
    random: z.number().int().min(0).default(20).describe('Q: random corpus items outside the recall set'),
  }).default({ recall: 1000, prerank: 200, impressions: 20, random: 20 }),
  recall: z.strictObject({
    seedItems: z.number().int().positive().default(20).describe("the user's most recent items before t that seed item-to-item recall"),
    neighbours: z.number().int().positive().default(200).describe('co-occurrence neighbours kept per item'),
  }).default({ seedItems: 20, neighbours: 200 }),
  prerank: ModelSpec.default({ kind: 'dssm', config: {}, epochs: 5, batchSize: 2048, lr: 1e-3, patience: 2 })
    .describe('the production pre-ranker that cuts R to P'),
  teacher: ModelSpec.default({ kind: 'dcn', config: {}, epochs: 5, batchSize: 2048, lr: 1e-3, patience: 2 })
    .describe('the ranking model that orders the P and whose score p is logged'),
  fitSplit: z.strictObject({ val: z.number().gt(0).lt(1).default(0.1), test: z.number().gt(0).lt(1).default(0.1) })
    .default({ val: 0.1, test: 0.1 }).describe('random row split of period 1 for early stopping and a held-out AUC'),
  labels: z.strictObject({
    feedback: z.array(FeedbackLevel).min(1).default([
      { name: 'rated_5', min: 5, value: 6 }, { name: 'rated_4', min: 4, value: 5 }, { name: 'rated_lower', min: null, value: 4 },
    ]).describe('levels for impressions with feedback, highest first; the first level whose min the feedback reaches'),
    exposed: z.number().default(3),
    rankingCandidate: z.number().default(2),
    prerankCandidate: z.number().default(1),
    random: z.number().default(0),
  }).default({ feedback: [{ name: 'rated_5', min: 5, value: 6 }, { name: 'rated_4', min: 4, value: 5 },
    { name: 'rated_lower', min: null, value: 4 }], exposed: 3, rankingCandidate: 2, prerankCandidate: 1, random: 0 }),
  output: z.strictObject({
    dir: z.string().default('runs/cascade'),
    format: z.enum(['jsonl', 'parquet']).default('jsonl'),
  }).default({ dir: 'runs/cascade', format: 'jsonl' }),
});

export type CascadeConfig = z.infer<typeof CascadeConfigSchema>;
export type CascadeConfigInput = z.input<typeof CascadeConfigSchema>;
export type StageModelSpec = z.infer<typeof ModelSpec>;

export class CascadeConfigError extends ConfigError {}

/** Validates a config object; a relative data config path resolves against baseDir when given (output.dir: the cwd). */
export function parseCascadeConfig(input: unknown, baseDir?: string): CascadeConfig {
  const cfg = parseConfig(CascadeConfigSchema, input, 'cascade', 'cascade config', CascadeConfigError);
  checkCascadeConfig(cfg);
  if (baseDir) cfg.data = resolveDataRef(cfg.data, baseDir);
  return cfg;
}

/** Reads a cascade config file (JSON or YAML). */
export function loadCascadeConfig(path: string): CascadeConfig {
  try {
    return loadConfig(path, 'cascade config', parseCascadeConfig);
  } catch (e) {
    throw e instanceof CascadeConfigError || !(e instanceof ConfigError) ? e : new CascadeConfigError(e.message);
  }
}

/** The checks across fields; each message starts with the field path. */
export function checkCascadeConfig(cfg: CascadeConfig): void {
  const fail = (field: string, msg: string): never => {
    throw new CascadeConfigError(`invalid cascade config: ${field}: ${msg}`);
  };
  const s = cfg.stages;
  if (s.prerank > s.recall) fail('stages.prerank', `P = ${s.prerank} is larger than stages.recall R = ${s.recall} (need S <= P <= R)`);
  if (s.impressions > s.prerank) fail('stages.impressions', `S = ${s.impressions} is larger than stages.prerank P = ${s.prerank} (need S <= P <= R)`);
  if (cfg.periods.fit + cfg.periods.train >= 1) fail('periods', `fit + train = ${cfg.periods.fit + cfg.periods.train} leaves no evaluation period (must be below 1)`);
  const lv = cfg.labels.feedback;
  for (let k = 1; k < lv.length; k++) {
    const a = lv[k - 1], b = lv[k];
    if (a.min === null) fail(`labels.feedback.${k - 1}.min`, `'${a.name}' matches every rating, so the levels after it are unreachable (put it last)`);
    if (b.min !== null && b.min >= a.min!) fail(`labels.feedback.${k}.min`, `levels must go from the highest feedback down ('${b.name}' min ${b.min} >= '${a.name}' min ${a.min})`);
    if (b.value > a.value) fail(`labels.feedback.${k}.value`, `'${b.name}' (${b.value}) ranks above the higher feedback level '${a.name}' (${a.value})`);
  }
  const order: [string, number][] = [[`labels.feedback.${lv.length - 1}.value`, lv[lv.length - 1].value],
    ['labels.exposed', cfg.labels.exposed], ['labels.rankingCandidate', cfg.labels.rankingCandidate],
    ['labels.prerankCandidate', cfg.labels.prerankCandidate], ['labels.random', cfg.labels.random]];
  for (let k = 1; k < order.length; k++) {
    if (order[k][1] > order[k - 1][1]) {
      fail(order[k][0], `${order[k][1]} ranks above ${order[k - 1][0]} (${order[k - 1][1]}); the order is feedback >= exposed >= ranking candidate >= pre-ranking candidate >= random`);
    }
  }
}

/** Checks that need the data: R against the corpus available at the first request. */
export function checkCorpus(cfg: CascadeConfig, corpusAtFirstRequest: number): void {
  const s = cfg.stages;
  if (s.recall + s.random > corpusAtFirstRequest) {
    throw new CascadeConfigError(`invalid cascade config: stages.recall: R + Q = ${s.recall + s.random} is larger than the corpus `
      + `(${corpusAtFirstRequest} items have an event before the end of period 1)`);
  }
}

export function cascadeConfigJsonSchema(): unknown {
  return z.toJSONSchema(CascadeConfigSchema, { io: 'input' });
}
