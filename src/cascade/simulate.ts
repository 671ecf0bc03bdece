// The cascade simulator: real logs -> periods -> stage models fitted on period 1 -> per request recall (R),
// production pre-ranking (P), teacher ranking and exposure (S), random samples (Q) -> one labelled list per request.
// Everything a request's stages use was fitted before period 2; only the user's own events before t are read at
// request time (seeds and exclusion), and the window after t only produces feedback.
import { Rng } from '../core/random.js';
import type { Dataset } from '../data/dataset.js';
import { ingest, type RawData } from '../data/ingest.js';
import { recipeConfig, recipeMissing } from '../data/recipes.js';
import { loadDataConfig, type DataConfig } from '../data/spec.js';
import { checkCorpus, type CascadeConfig } from './config.js';
import { aggregateLabel, levelNames, STAGES, type Stage } from './labels.js';
import { firstSeen, sampleRequests, splitPeriods, type EventLog, type Periods, type Request, type RequestSplit } from './periods.js';
import { RequestHistories } from './history.js';
import { CooccurrenceRecall } from './recall.js';
import { PairScorer, periodOneDataset, trainStageModels, type StageModelReport } from './stage-models.js';

/** One request's logged list, best stage first: impressions and ranking candidates in teacher order, pre-ranking
 * candidates in pre-ranker order, then random samples. Shape letters: N = R + Q samples. */
export interface RequestLog {
  request: Request;
  items: Int32Array;
  /** [N] index into STAGES. */
  stage: Uint8Array;
  label: Float32Array;
  /** [N] index into levelNames(labels). */
  level: Uint8Array;
  /** [N] the user's raw feedback in the window, NaN when the item is not in the ground truth. */
  feedback: Float32Array;
  /** [N] teacher probability for the P ranked items, NaN otherwise. */
  p: Float32Array;
  /** [N] production pre-ranker logit for the R recalled items, NaN for random samples. */
  prerankScore: Float32Array;
}

export interface SplitCounts {
  /** Requests asked for by the config (requests.train / requests.eval). */
  requested: number;
  requests: number;
  activeUsers: number;
  skipped: { noGroundTruth: number; corpusTooSmall: number };
  samples: Record<Stage, number>;
  levels: Record<string, number>;
  groundTruth: { items: number; recalled: number; ranked: number; shown: number };
}

export interface CascadeResult {
  config: CascadeConfig;
  dataName: string;
  periods: Periods;
  stageModels: { prerank: StageModelReport; teacher: StageModelReport };
  counts: Record<RequestSplit, SplitCounts>;
  logs: RequestLog[];
  userKeys: string[];
  itemKeys: string[];
  levels: string[];
  /** User history features as of each request's t (every event before t, not just period 1). */
  histories: RequestHistories;
  /** What the stages were fitted on, for checks and tests. */
  fit: { recall: CooccurrenceRecall; data: Dataset; rows: Int32Array; corpusAtFitEnd: number };
  seconds: { ingest: number; fit: number; simulate: number };
}

/** What training lists and evaluation need of a cascade: built in memory (CascadeResult) or read from its files
 * (reader.ts, LoadedCascade). */
export interface CascadeSource {
  config: CascadeConfig;
  logs: RequestLog[];
  histories: RequestHistories;
  fit: { data: Dataset };
}

export interface SimulateOptions {
  /** Where the stage models' checkpoints go. */
  modelDir: string;
  /** Use this data config instead of cfg.data (tests). */
  dataConfig?: DataConfig;
  log?: (msg: string) => void;
  signal?: AbortSignal;
}

export function resolveDataConfig(cfg: CascadeConfig): DataConfig {
  if ('recipe' in cfg.data) {
    const missing = recipeMissing(cfg.data.recipe);
    if (missing) throw new Error(missing);
    return recipeConfig(cfg.data.recipe);
  }
  return loadDataConfig(cfg.data.config);
}

/** Raw events with the label column's raw values (no rule, nothing dropped); fails when the cascade cannot be built. */
export async function ingestEvents(dataCfg: DataConfig): Promise<{ raw: RawData; log: EventLog }> {
  if (!dataCfg.keys.time) throw new Error(`data '${dataCfg.name}' has no keys.time: a temporal cascade needs timestamps`);
  if (!dataCfg.label.column) throw new Error(`data '${dataCfg.name}' has no label.column: the cascade needs graded or binary feedback`);
  const raw = await ingest({ ...dataCfg, label: { column: dataCfg.label.column, drop: [] } });
  const log: EventLog = { rows: raw.rows, user: raw.user, item: raw.item, time: raw.time!, feedback: raw.label,
    itemCount: raw.items.keys.length };
  return { raw, log };
}

export async function simulateCascade(cfg: CascadeConfig, opts: SimulateOptions): Promise<CascadeResult> {
  const say = opts.log ?? (() => {});
  const t0 = performance.now();
  const dataCfg = opts.dataConfig ?? resolveDataConfig(cfg);
  const { raw, log } = await ingestEvents(dataCfg);
  const periods = splitPeriods(log.time, cfg.periods.fit, cfg.periods.train);
  const first = firstSeen(log);
  const corpusAtFitEnd = first.filter((t) => t < periods.fitEnd).length;
  checkCorpus(cfg, corpusAtFitEnd);
  const fitRows = Int32Array.from({ length: log.rows }, (_, r) => r).filter((r) => log.time[r] < periods.fitEnd);
  const t1 = performance.now();
  say(`${raw.rows} events; period 1: ${periods.events.fit}, period 2: ${periods.events.train}, period 3: ${periods.events.eval}`);

  const recall = CooccurrenceRecall.fit(log, fitRows, { neighbours: cfg.recall.neighbours });
  const data = periodOneDataset(cfg, dataCfg, raw, fitRows);
  say(`training ${cfg.prerank.kind} (pre-ranker) and ${cfg.teacher.kind} (teacher) on ${data.splits.train.length} period-1 rows`);
  const models = await trainStageModels(cfg, data, opts.modelDir, opts.signal);
  const t2 = performance.now();

  const rng = new Rng(cfg.seed);
  const R = cfg.stages.recall, P = cfg.stages.prerank, S = cfg.stages.impressions, Q = cfg.stages.random;
  const histories = RequestHistories.fit(data, log);
  const prerankScorer = new PairScorer(data, models.prerank.model, R, histories);
  const teacherScorer = new PairScorer(data, models.teacher.model, P, histories);
  const levels = levelNames(cfg.labels);
  const logs: RequestLog[] = [];
  const counts = {} as Record<RequestSplit, SplitCounts>;
  for (const split of ['train', 'eval'] as const) {
    const n = split === 'train' ? cfg.requests.train : cfg.requests.eval;
    const sampled = sampleRequests(log, periods, split, { count: n, perUser: cfg.requests.perUser, windowSeconds: cfg.requests.windowSeconds,
      minGroundTruth: cfg.requests.minGroundTruth }, rng, logs.length);
    const c: SplitCounts = { requested: n, requests: 0, activeUsers: sampled.activeUsers,
      skipped: { noGroundTruth: sampled.skips.noGroundTruth, corpusTooSmall: 0 },
      samples: Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>,
      levels: Object.fromEntries(levels.map((l) => [l, 0])), groundTruth: { items: 0, recalled: 0, ranked: 0, shown: 0 } };
    for (const req of sampled.requests) {
      if (opts.signal?.aborted) throw new Error('cascade build aborted');
      const seen = new Set(req.seen);
      const allowed = (i: number): boolean => first[i] < req.t && !seen.has(i);
      const recalled = recall.recall(req.seen.subarray(Math.max(0, req.seen.length - cfg.recall.seedItems)), allowed, R);
      const inRecall = new Set(recalled);
      const randoms = recalled.length === R ? sampleRandom(rng, log.itemCount, Q, (i) => allowed(i) && !inRecall.has(i)) : null;
      if (!randoms) {
        c.skipped.corpusTooSmall++;
        continue;
      }
      const entry = runStages(req, recalled, randoms, prerankScorer, teacherScorer, P, S, cfg, levels);
      entry.request.id = logs.length;
      logs.push(entry);
      tally(c, entry, levels);
    }
    counts[split] = c;
    if (n > 0 && c.requests === 0) {
      throw new Error(`cascade: no ${split} request accepted out of ${c.activeUsers} users active in period ${split === 'train' ? 2 : 3} `
        + `(${c.skipped.noGroundTruth} skipped with fewer than requests.minGroundTruth = ${cfg.requests.minGroundTruth} ground-truth items, `
        + `${c.skipped.corpusTooSmall} with too small a corpus); lower requests.minGroundTruth or widen requests.windowSeconds`);
    }
    say(`${split}: ${c.requests} requests (${c.skipped.noGroundTruth} without ground truth, ${c.skipped.corpusTooSmall} with too small a corpus)`);
  }
  return { config: cfg, dataName: raw.name, periods, stageModels: { prerank: models.prerank.report, teacher: models.teacher.report },
    counts, logs, userKeys: raw.users.keys, itemKeys: raw.items.keys, levels, histories, fit: { recall, data, rows: fitRows, corpusAtFitEnd },
    seconds: { ingest: (t1 - t0) / 1000, fit: (t2 - t1) / 1000, simulate: (performance.now() - t2) / 1000 } };
}

/** Q distinct items passing `ok`, uniformly; null when fewer than Q exist. */
export function sampleRandom(rng: Rng, itemCount: number, Q: number, ok: (i: number) => boolean): Int32Array | null {
  const out = new Set<number>();
  for (let tries = 0; out.size < Q && tries < 50 * Q; tries++) {
    const i = rng.int(itemCount);
    if (ok(i)) out.add(i);
  }
  if (out.size < Q) {
    const rest = Int32Array.from({ length: itemCount }, (_, i) => i).filter((i) => ok(i) && !out.has(i));
    rng.shuffle(rest);
    for (const i of rest) {
      if (out.size >= Q) break;
      out.add(i);
    }
  }
  return out.size < Q ? null : Int32Array.from(out);
}

/** Indices of scores sorted best first (ties: lower index first). */
function rankOrder(scores: Float32Array): Int32Array {
  return Int32Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}

function runStages(req: Request, recalled: Int32Array, randoms: Int32Array, prerank: PairScorer, teacher: PairScorer,
  P: number, S: number, cfg: CascadeConfig, levels: string[]): RequestLog {
  const R = recalled.length, Q = randoms.length, N = R + Q;
  const pre = prerank.score(req.user, recalled, req.t);
  const preOrder = rankOrder(pre);
  const ranked = Int32Array.from(preOrder.subarray(0, P), (k) => recalled[k]);
  const logit = teacher.score(req.user, ranked, req.t);
  const tOrder = rankOrder(logit);
  const out: RequestLog = { request: req, items: new Int32Array(N), stage: new Uint8Array(N), label: new Float32Array(N),
    level: new Uint8Array(N), feedback: new Float32Array(N).fill(NaN), p: new Float32Array(N).fill(NaN),
    prerankScore: new Float32Array(N).fill(NaN) };
  const preScoreOf = new Map<number, number>();
  recalled.forEach((it, k) => preScoreOf.set(it, pre[k]));
  const truth = new Map(req.truth.map((g) => [g.item, g.feedback]));
  let at = 0;
  const put = (item: number, stage: Stage, p: number): void => {
    const fb = truth.get(item);
    const agg = aggregateLabel(cfg.labels, stage, fb ?? null);
    out.items[at] = item;
    out.stage[at] = STAGES.indexOf(stage);
    out.label[at] = agg.label;
    out.level[at] = levels.indexOf(agg.level);
    if (fb !== undefined) out.feedback[at] = fb;
    out.p[at] = p;
    out.prerankScore[at] = preScoreOf.get(item) ?? NaN;
    at++;
  };
  const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
  tOrder.forEach((k, rank) => put(ranked[k], rank < S ? 'impression' : 'ranking_candidate', sigmoid(logit[k])));
  for (let k = P; k < R; k++) put(recalled[preOrder[k]], 'prerank_candidate', NaN);
  for (const it of randoms) put(it, 'random', NaN);
  return out;
}

function tally(c: SplitCounts, e: RequestLog, levels: string[]): void {
  c.requests++;
  for (let k = 0; k < e.items.length; k++) {
    c.samples[STAGES[e.stage[k]]]++;
    c.levels[levels[e.level[k]]]++;
    if (!Number.isNaN(e.feedback[k])) {
      const st = STAGES[e.stage[k]];
      if (st !== 'random') c.groundTruth.recalled++;
      if (st === 'impression' || st === 'ranking_candidate') c.groundTruth.ranked++;
      if (st === 'impression') c.groundTruth.shown++;
    }
  }
  c.groundTruth.items += e.request.truth.length;
}
