// Evaluation metrics: streaming update(batch) / compute(), registered by name.
import { Accuracy } from './accuracy.js';
import { Auc } from './auc.js';
import { Gauc } from './gauc.js';
import { LogLoss } from './logloss.js';
import type { Metric } from './metric.js';
import { RankingMetrics, type RankingOptions } from './ranking-metrics.js';

export type MetricFactory = (options: never) => Metric<never>;

export const METRICS = {
  auc: () => new Auc(),
  gauc: () => new Gauc(),
  logloss: () => new LogLoss(),
  accuracy: () => new Accuracy(),
  ranking: (options: RankingOptions) => new RankingMetrics(options),
} satisfies Record<string, MetricFactory>;

export type MetricName = keyof typeof METRICS;

export { Accuracy } from './accuracy.js';
export { Auc, auc } from './auc.js';
export { evaluate, evaluateAsync, results } from './evaluate.js';
export { Gauc, gauc } from './gauc.js';
export { LogLoss, LOGLOSS_EPS, loglossFromLogit, loglossFromProb } from './logloss.js';
export type { Metric, PointBatch } from './metric.js';
export { RANKING_FAMILIES, RankingMetrics, type RankingBatch, type RankingFamily, type RankingOptions } from './ranking-metrics.js';
export { relaImpr, relaImprVs } from './rela-impr.js';
export { topK, type NanRule } from './top-k.js';
