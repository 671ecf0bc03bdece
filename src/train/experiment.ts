// `prerank experiment`: trains a list of models x seeds on one dataset and writes a Markdown table (mean +- std per
// metric, RelaImpr vs a base model), a JSON file with every number, and an HTML report with learning curves and an
// AUC-vs-latency chart.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { relaImpr } from '../eval/index.js';
import { renderReport } from '../report/html.js';
import { DataRefSchema, parseTrainConfig, resolveDataRef, TrainConfigSchema } from './config.js';
import { loadConfig, parseConfig, refineWith } from '../util/config.js';
import { checkModelConfig, resolvedModelConfig } from '../models/registry.js';
import { StrategySpecSchema } from './strategies/registry.js';
import { SampledSoftmaxSchema } from './sampled-softmax.js';
import { servingLatencyMs } from './latency.js';
import { inMemory, loadData, runTraining, type RunResult } from './run.js';
import type { TrainingData } from '../data/index.js';
import { popularityRanking, rankingEval, type FullScan, type RankingEvalOptions, type RankingReport } from './ranking-eval.js';
import { configChanges, findRun, recordedConfig, recordedRuns } from './experiment-resume.js';
import { writeFileAtomic } from '../util/atomic-dir.js';
import { checkGaps, gapLines, seedsText, spreadText } from './split-seeds.js';

/** The train config minus model, data, seeds and outDir: the settings an experiment's runs share. */
const TrainSettings = TrainConfigSchema.omit({ model: true, data: true, seed: true, splitSeed: true, outDir: true });

export const ExperimentSchema = z.strictObject({
  name: z.string(),
  data: DataRefSchema,
  models: z.array(z.strictObject({
    kind: z.string(), label: z.string().optional(), config: z.record(z.string(), z.unknown()).default({}),
    /** A training strategy for this entry (e.g. onebp); none = the model's own loss. */
    strategy: StrategySpecSchema.optional(),
    /** Training settings of this entry over the shared `train` (a tuned entry's lr, batch size, ...). */
    train: z.record(z.string(), z.unknown()).optional(),
    /** This entry's objective (e.g. sampled-softmax), in place of the shared `train.objective`; kept as written. */
    objective: z.record(z.string(), z.unknown()).optional().superRefine((o, ctx) => { if (o) refineWith(ctx, SampledSoftmaxSchema, o, []); }),
  }).superRefine((m, ctx) => {
    checkModelConfig(ctx, m.kind, m.config, ['kind'], ['config']);
    if (m.train) refineWith(ctx, TrainSettings.partial(), m.train, ['train']);
  })).min(1),
  /** Full-corpus ranking metrics on test (train items masked) at these K, for two-tower models. */
  ranking: z.strictObject({
    ks: z.array(z.number().int().positive()).min(1),
    /** Evaluate this many test users, a sample fixed by the run's seed (default: every one). */
    users: z.number().int().positive().optional(),
    /**
     * Also retrieve through an index: each run is exported to a bundle (its run directory's bundle/) and the same
     * metrics are computed from the candidates its retrieval index returns (what /v1/retrieve searches, at the
     * bundle's default settings), scored exactly. The value is the max-sim models' head index ('hnsw' or
     * 'centroids'); inner-product models use their HNSW index either way.
     */
    index: z.enum(['hnsw', 'centroids']).optional(),
    /** Keep each run's bundle/ after measuring (default: removed; `prerank export --model <run dir>` writes it again). */
    keepBundles: z.boolean().optional(),
  }).optional(),
  seeds: z.array(z.number().int()).min(1).default([1, 2, 3]),
  /** Data split seeds: every (model, seed) runs on each split (encoders refitted on its train rows); absent: the data
   * config's own split. Tables give mean ± sd over all runs, model seeds x split seeds. */
  splitSeeds: z.array(z.number().int()).min(1).optional(),
  /** Pairs [a, b] of entry labels whose test AUC gap a - b is reported per split seed, with its sd over split seeds. */
  gaps: z.array(z.tuple([z.string(), z.string()])).optional(),
  /** Training settings shared by every run (the train config minus model, data, seed and outDir); kept as written
   * (validated, defaults not filled in), so a resumed experiment compares equal to the one recorded. */
  train: z.record(z.string(), z.unknown()).default({}).superRefine((t, ctx) => refineWith(ctx, TrainSettings, t, [])),
  base: z.string().default('dssm'),
  outDir: z.string(),
  /** Keep each run's checkpoints (best/, last/) once it is recorded (absent: kept). false removes them: the record
   * holds the metrics, and at 1M items a run's two checkpoints take about 3 GB. */
  keepCheckpoints: z.boolean().optional(),
});
export type ExperimentConfig = z.infer<typeof ExperimentSchema>;

export interface RunRecord {
  label: string;
  kind: string;
  seed: number;
  /** The data split's seed, when the experiment has splitSeeds. */
  splitSeed?: number;
  val: Record<string, number>;
  test: Record<string, number>;
  bestEpoch: number;
  samplesPerSec: number;
  latencyMs: number;
  /** Mean seconds per training epoch. */
  epochSeconds: number;
  /** The model config with its defaults filled in (resolvedModelConfig): --resume trains a run again when the
   * defaults now resolve differently. Absent in records written before it was kept. */
  modelConfig?: unknown;
  /** Full-corpus ranking metrics on test, when the experiment asks for them. */
  ranking?: Record<string, number>;
  /** The same through the exported bundle's retrieval index (ranking.index), with `candidates` per user. */
  rankingIndex?: Record<string, number>;
  /** That index and its search settings as the export line gives them (kind, defaults, the calibration's curve). */
  rankingIndexSettings?: string;
  curve: { epoch: number; trainLoss: number; valAuc: number; valLogloss: number }[];
}

/** Validates an experiment object; a relative data config path resolves against baseDir when given. */
export function parseExperiment(input: unknown, baseDir?: string): ExperimentConfig {
  const cfg = parseConfig(ExperimentSchema, input, 'experiment');
  if (baseDir) cfg.data = resolveDataRef(cfg.data, baseDir);
  return cfg;
}

/** Reads an experiment config file (JSON or YAML). */
export function loadExperiment(path: string): ExperimentConfig {
  return loadConfig(path, 'experiment config', parseExperiment);
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** "mean ± sd" of a table cell. */
function cell(xs: number[], digits = 4): string {
  const { mean, std } = meanStd(xs);
  return `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
}

/** cell(xs), or '-' when some run did not record the value (runs written before it existed). */
const recordedCell = (xs: (number | undefined)[]): string => (xs.every((x) => x !== undefined) ? cell(xs as number[]) : '-');

const METRIC_COLUMNS = ['auc', 'gauc', 'logloss'] as const;
/** Validation metrics of the best epoch (the split every choice is made on). */
const VAL_COLUMNS = ['auc', 'logloss'] as const;

/**
 * results.md. `popularity`: the popularity reference's ranking metrics (popularityRanking) on the users each seed
 * evaluates, one entry per seed; none when the experiment has no ranking section.
 */
export function markdownTable(exp: ExperimentConfig, dataName: string, runs: RunRecord[], command: string, popularity: Record<string, number>[] = []): string {
  const labels = [...new Set(runs.map((r) => r.label))];
  const baseRuns = runs.filter((r) => r.label === exp.base || r.kind === exp.base);
  const baseAuc = baseRuns.length ? meanStd(baseRuns.map((r) => r.test.auc)).mean : NaN;
  const stopMetric = TrainSettings.parse(exp.train).earlyStopping.metric;
  const lines = [
    `# ${exp.name}`,
    '',
    `Dataset: ${dataName}. ${seedsText(exp)} Validation and test metrics of the checkpoint with the best validation ${stopMetric}, ${spreadText(exp)}.`,
    `RelaImpr is against ${exp.base} (test AUC). Latency: user encode + scoring of 1,000 candidates (two-tower: cached item reps), median ms.`,
    '',
    `Command: \`${command}\``,
    '',
    `| model | ${VAL_COLUMNS.map((m) => `val ${m}`).join(' | ')} | ${METRIC_COLUMNS.map((m) => `test ${m}`).join(' | ')} | RelaImpr | best epoch | train samples/s | latency ms |`,
    `|---|${[...VAL_COLUMNS, ...METRIC_COLUMNS].map(() => '---').join('|')}|---|---|---|---|`,
  ];
  const rankingCols = exp.ranking ? ['precision', 'recall', 'ndcg'].flatMap((f) => exp.ranking!.ks.map((k) => `${f}@${k}`)) : [];
  for (const label of labels) {
    const rs = runs.filter((r) => r.label === label);
    const auc = meanStd(rs.map((r) => r.test.auc)).mean;
    lines.push(`| ${label} | ${VAL_COLUMNS.map((m) => cell(rs.map((r) => r.val[m]))).join(' | ')} | ${METRIC_COLUMNS.map((m) => cell(rs.map((r) => r.test[m]))).join(' | ')} | ${relaImpr(auc, baseAuc).toFixed(2)}% | ${cell(rs.map((r) => r.bestEpoch), 1)} | ${meanStd(rs.map((r) => r.samplesPerSec)).mean.toFixed(0)} | ${meanStd(rs.map((r) => r.latencyMs)).mean.toFixed(3)} |`);
  }
  if (rankingCols.length) {
    const shared = `shared@${Math.max(...exp.ranking!.ks)}`;
    lines.push('', `Full-corpus ranking on test (every item scored, the user's train items masked; test positives that were also train items are not counted), mean ± std over seeds; ${shared}: the mean share of a user's top list that the previous user's also holds (near 1: the model gives every user the same list); seconds per training epoch. The popularity row ranks every user's unseen items by their positive train rows.`, '',
      `| model | ${rankingCols.join(' | ')} | ${shared} | s/epoch |`, `|---|${rankingCols.map(() => '---').join('|')}|---|---|`);
    if (popularity.length) lines.push(`| popularity | ${rankingCols.map((c) => cell(popularity.map((p) => p[c]))).join(' | ')} | - | - |`);
    for (const label of labels) {
      const rs = runs.filter((r) => r.label === label && r.ranking);
      if (!rs.length) continue;
      lines.push(`| ${label} | ${rankingCols.map((c) => cell(rs.map((r) => r.ranking![c]))).join(' | ')} | ${recordedCell(rs.map((r) => r.ranking![shared]))} | ${meanStd(rs.map((r) => r.epochSeconds)).mean.toFixed(2)} |`);
    }
  }
  if (rankingCols.length && runs.some((r) => r.rankingIndex)) {
    const overlapCols = exp.ranking!.ks.map((k) => `overlap@${k}`);
    lines.push('', `The same through each run's exported retrieval index (${exp.ranking!.index} head index for max-sim models, HNSW for inner-product ones; the bundle's default search settings): only the items the index returns for the user (asked for the largest K plus the user's train items) are scored, exactly; overlap@K: the share of the exact top-K the index path's top-K keeps (1: retrieval through the index loses nothing); candidates: their mean count per user.`, '',
      `| model | ${[...rankingCols, ...overlapCols].join(' | ')} | candidates |`, `|---|${[...rankingCols, ...overlapCols].map(() => '---').join('|')}|---|`);
    for (const label of labels) {
      const rs = runs.filter((r) => r.label === label && r.rankingIndex);
      if (!rs.length) continue;
      lines.push(`| ${label} | ${rankingCols.map((c) => cell(rs.map((r) => r.rankingIndex![c]))).join(' | ')} | ${overlapCols.map((c) => recordedCell(rs.map((r) => r.rankingIndex![c]))).join(' | ')} | ${meanStd(rs.map((r) => r.rankingIndex!.candidates)).mean.toFixed(0)} |`);
    }
    const settings = runs.filter((r) => r.rankingIndexSettings);
    if (settings.length) {
      lines.push('', 'Each run\'s index and default search settings, with the recall its export measured against exact search on sampled training users at each setting tried:', '',
        ...settings.map((r) => `- ${r.label}${r.splitSeed === undefined ? '' : ` split ${r.splitSeed}`} seed ${r.seed}: ${r.rankingIndexSettings}`));
    }
  }
  lines.push(...gapLines(exp, runs));
  return `${lines.join('\n')}\n`;
}

export interface ExperimentRunOptions {
  /** Keep the runs a same-config results.json recorded and train only the missing ones. */
  resume?: boolean;
  /** Train only the entries with these labels (a shard of the experiment; implies resume for the others). */
  only?: string[];
  /** How a run's retrieval index is built and searched (ranking.index): the serving layer's, given by the caller. */
  openIndex?: IndexOpener;
  /** The exact full-corpus scan of the ranking tables (the serving layer's native plan); absent: the model's tensors. */
  scan?: FullScan;
}

/**
 * A trained run's retrieval index (null: its model's bundle has none): the candidate rows for a user rep asked for k
 * items, `settings` (the index and its search settings in words); close() frees it.
 */
export type IndexOpener = (run: RunResult, data: TrainingData, headIndex: 'hnsw' | 'centroids', opts?: { keep?: boolean }) =>
  Promise<{ candidates: (rep: Float32Array, k: number) => Int32Array; settings: string; close(): void } | null>;

/**
 * A run's full-corpus ranking tables: exact, and through its retrieval index when `headIndex` is set and its model
 * has one (one rankingEval pass gives both).
 */
async function rankingTables(opts: ExperimentRunOptions, r: RunResult, data: TrainingData, headIndex: 'hnsw' | 'centroids' | undefined,
  keep: boolean, o: RankingEvalOptions): Promise<RankingReport & { indexSettings?: string }> {
  const index = headIndex ? await opts.openIndex!(r, data, headIndex, { keep }) : null;
  try {
    const report = rankingEval(r.model, inMemory(data, 'ranking metrics'), { ...o, candidates: index?.candidates, scan: opts.scan });
    return index ? { ...report, indexSettings: index.settings } : report;
  } finally {
    index?.close();
  }
}

/**
 * Runs every (model, seed) of the experiment not already recorded. results.json is rewritten after every run, merged
 * with what the file holds at that moment, so shards of one experiment (`--only`, each its own labels) can run at
 * the same time in several processes and leave one complete file.
 */
export async function runExperiment(exp: ExperimentConfig, command: string, log: (s: string) => void = console.log, opts: ExperimentRunOptions = {}): Promise<RunRecord[]> {
  const labels = exp.models.map((m) => m.label ?? m.kind);
  const unknown = (opts.only ?? []).filter((l) => !labels.includes(l));
  if (unknown.length > 0) throw new Error(`--only: no entry labelled ${unknown.join(', ')} in this experiment (labels: ${labels.join(', ')})`);
  checkGaps(exp, labels);
  if (exp.ranking?.index && !opts.openIndex) throw new Error('ranking.index: this caller cannot build retrieval indexes (`prerank experiment` can)');
  const resume = opts.resume === true || opts.only !== undefined;
  const splits = exp.splitSeeds ?? [undefined];
  let data = await loadData({ data: exp.data, splitSeed: splits[0] });
  log(`${exp.name}: ${data.name}, ${data.size} rows; ${exp.models.length} models x ${exp.seeds.length} seeds${exp.splitSeeds ? ` x ${splits.length} split seeds` : ''}${opts.only ? ` (this shard: ${opts.only.join(', ')})` : ''}`);
  mkdirSync(exp.outDir, { recursive: true });
  const recordedAtStart = resume ? recordedRuns<RunRecord>(exp.outDir, exp) : [];
  const mine: RunRecord[] = [];
  // The recorded runs (re-read at every save: another shard may have added some since) with this process's own on
  // top, in the experiment's order.
  const merged = (): RunRecord[] => {
    const recorded = resume ? recordedRuns<RunRecord>(exp.outDir, exp) : [];
    const out: RunRecord[] = [];
    for (const label of labels) {
      for (const split of splits) {
        for (const seed of exp.seeds) {
          const r = findRun(mine, label, seed, split) ?? findRun(recorded, label, seed, split);
          if (r) out.push(r);
        }
      }
    }
    return out;
  };
  // the reference every personalised ranking should beat, on the users each seed's runs are evaluated on (first split)
  const ranking = exp.ranking;
  const popularity = ranking
    ? exp.seeds.map((seed) => popularityRanking(inMemory(data, 'ranking metrics'), { split: 'test', ks: ranking.ks, users: ranking.users, seed }))
    : [];
  const save = (): RunRecord[] => {
    const runs = merged();
    writeFileAtomic(join(exp.outDir, 'results.json'), JSON.stringify({ experiment: recordedConfig(exp), data: data.name, command, ...(ranking ? { popularity } : {}), runs }, null, 1));
    writeFileSync(join(exp.outDir, 'results.md'), markdownTable(exp, data.name, runs, command, popularity));
    return runs;
  };
  const resolved = new Map(exp.models.map((m) => [m.label ?? m.kind, JSON.parse(JSON.stringify(resolvedModelConfig(m.kind, m.config)))]));
  // a recorded run to keep: one whose model config resolves as it does now (records without one are kept as they are)
  const kept = (label: string, seed: number, split: number | undefined): RunRecord | undefined => {
    const r = findRun(recordedAtStart, label, seed, split);
    return r && (r.modelConfig === undefined || isDeepStrictEqual(r.modelConfig, resolved.get(label))) ? r : undefined;
  };
  const toTrain = (split: number | undefined) => exp.models.some((m) => (!opts.only || opts.only.includes(m.label ?? m.kind))
    && exp.seeds.some((seed) => !kept(m.label ?? m.kind, seed, split)));
  for (const split of splits) {
    if (split !== splits[0] && toTrain(split)) data = await loadData({ data: exp.data, splitSeed: split });
    const at = split === undefined ? '' : ` split ${split}`;
    for (const m of exp.models) {
      const label = m.label ?? m.kind;
      for (const seed of exp.seeds) {
        if (kept(label, seed, split)) {
          log(`  ${label}${at} seed ${seed}: recorded in results.json (--resume), not trained again`);
          continue;
        }
        if (opts.only && !opts.only.includes(label)) continue;
        const stale = findRun(recordedAtStart, label, seed, split);
        if (stale) log(`  ${label}${at} seed ${seed}: recorded with another resolved model config (${configChanges(stale.modelConfig, resolved.get(label))}), trained again`);
        const cfg = parseTrainConfig({ ...exp.train, ...m.train, model: { kind: m.kind, config: m.config }, strategy: m.strategy, ...(m.objective ? { objective: m.objective } : {}),
          data: exp.data, seed, splitSeed: split,
          outDir: join(exp.outDir, 'runs', `${label}${split === undefined ? '' : `-split${split}`}-seed${seed}`) });
        // a run killed part-way (no record, its checkpoint and config.json left) continues where it stopped
        const r = await runTraining(cfg, { data, quiet: true, scan: opts.scan, continueSameConfig: resume && !stale });
        const ranking = exp.ranking && r.model.twoTower
          ? await rankingTables(opts, r, data, exp.ranking.index, exp.ranking.keepBundles === true,
            { split: 'test', ks: exp.ranking.ks, strategy: r.strategy, users: exp.ranking.users, seed })
          : undefined;
        const rec: RunRecord = {
          label, kind: m.kind, seed, ...(split === undefined ? {} : { splitSeed: split }), val: { ...r.fit.best }, test: { ...r.test }, bestEpoch: r.fit.bestEpoch, samplesPerSec: r.samplesPerSec,
          latencyMs: servingLatencyMs(r.model, data, 1000),
          epochSeconds: r.fit.epochs.reduce((a, e) => a + e.seconds, 0) / Math.max(1, r.fit.epochs.length),
          modelConfig: resolved.get(label),
          ...(ranking ? { ranking: ranking.exact, rankingIndex: ranking.index } : {}),
          ...(ranking?.indexSettings ? { rankingIndexSettings: ranking.indexSettings } : {}),
          curve: r.fit.epochs.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, valAuc: e.val.auc, valLogloss: e.val.logloss })),
        };
        mine.push(rec);
        if (exp.keepCheckpoints === false) for (const d of ['best', 'last']) rmSync(join(cfg.outDir, d), { recursive: true, force: true });
        log(`  ${label}${at} seed ${seed}: test AUC ${rec.test.auc.toFixed(4)} logloss ${rec.test.logloss.toFixed(4)} (best epoch ${rec.bestEpoch}, ${rec.samplesPerSec.toFixed(0)} samples/s, ${rec.latencyMs.toFixed(3)} ms/1k)`);
        save();
      }
    }
  }
  const runs = save();
  writeFileSync(join(exp.outDir, 'report.html'), renderReport(exp.name, data.name, runs));
  return runs;
}
