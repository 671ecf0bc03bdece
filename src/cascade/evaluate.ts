// Evaluating a pre-ranker on the cascade's evaluation requests (RankTower sec. 4): on each request the
// pre-ranker scores the request's whole recall set (the R recalled items: impressions, ranking and pre-ranking
// candidates; random samples are not part of it), and per request, then averaged over requests:
//   - Recall@K and NDCG@K against the ground truth in the recall set, graded: rel = value of the item's rating under
//     the cascade's label config (the level an impression with that rating would get) - labels.exposed, gain 2^rel - 1;
//   - Recall@K of the teacher's shown top S (the impressions): consistency with the ranking stage;
//   - AUC over the request's impressions, positive = raw feedback > 0; requests with one class are skipped and counted.
// Ranking metrics come from src/eval's RankingMetrics (ties: lower index in the recall set first); AUC from runAuc.
// Shape letters: G requests per batch, L = R slots per request (the recall set), K list length.
import { noGrad, Rng, scope } from '../core/index.js';
import { auc } from '../eval/auc.js';
import { RankingMetrics } from '../eval/ranking-metrics.js';
import type { RecModel } from '../models/types.js';
import type { CascadeConfig } from './config.js';
import { aggregateLabel, STAGES } from './labels.js';
import { CascadeLists } from './lists.js';
import type { RequestSplit } from './periods.js';
import type { CascadeSource, RequestLog } from './simulate.js';
import { listLogits } from './train.js';

const RANDOM = STAGES.indexOf('random');
const IMPRESSION = STAGES.indexOf('impression');

/** Scores of each request's recall set: for request g, one score per index of `recallIndex(logs[g])`, in that order. */
export type RecallScorer = (logs: RequestLog[]) => Float32Array[];

export interface CascadeEvalOptions {
  /** List lengths (default [100]). */
  ks?: readonly number[];
  /** Requests scored per call of the scorer (default 8). */
  requestsPerBatch?: number;
  signal?: AbortSignal;
}

export interface CascadeEvalResult {
  /** `recall@K`, `ndcg@K` (graded ground truth), `teacher_recall@K` (the teacher's top S), `auc` (impressions). */
  metrics: Record<string, number>;
  requests: number;
  /** Requests left out of recall/ndcg: no ground-truth item with rel > 0 in the recall set. */
  skippedNoTruth: number;
  /** Requests left out of the AUC: their impressions are all one class. */
  skippedAuc: number;
  /** Mean over requests of |ground truth in the recall set| / |ground truth|: the ceiling of the recall stage. */
  truthInRecall: number;
}

/** Indices into log.items of the recall set (every non-random sample), in log order. */
export function recallIndex(log: RequestLog): Int32Array {
  const out: number[] = [];
  for (let k = 0; k < log.items.length; k++) if (log.stage[k] !== RANDOM) out.push(k);
  return Int32Array.from(out);
}

/** Graded relevance of a rating: its impression label under the config minus the exposed label (<= 0: not relevant). */
export function relevanceOf(labels: CascadeConfig['labels'], feedback: number): number {
  return aggregateLabel(labels, 'impression', feedback).label - labels.exposed;
}

/** Evaluates the scorer on `logs` (one split's requests); see the file comment for the definitions. */
export function evaluateRequests(logs: RequestLog[], labels: CascadeConfig['labels'], scorer: RecallScorer,
  opts: CascadeEvalOptions = {}): CascadeEvalResult {
  const ks = opts.ks ?? [100];
  const G = opts.requestsPerBatch ?? 8;
  const truth = new RankingMetrics({ ks, families: ['recall', 'ndcg'] });
  const teacher = new RankingMetrics({ ks, families: ['recall'] });
  let aucSum = 0, aucN = 0, skippedAuc = 0, coverage = 0;
  for (let at = 0; at < logs.length; at += G) {
    if (opts.signal?.aborted) throw new Error('cascade evaluation aborted');
    const batch = logs.slice(at, at + G);
    const scores = scorer(batch);
    batch.forEach((log, g) => {
      const idx = recallIndex(log);
      const s = scores[g];
      if (s.length !== idx.length) throw new Error(`cascade evaluation: request ${log.request.id} has ${idx.length} recalled items but ${s.length} scores`);
      const relevant: number[] = [], rel: number[] = [], shown: number[] = [], imprScores: number[] = [], clicked: number[] = [];
      idx.forEach((k, j) => {
        if (!Number.isNaN(log.feedback[k])) {
          relevant.push(j);
          rel.push(relevanceOf(labels, log.feedback[k]));
        }
        if (log.stage[k] === IMPRESSION) {
          shown.push(j);
          imprScores.push(s[j]);
          clicked.push(log.feedback[k] > 0 ? 1 : 0);
        }
      });
      coverage += log.request.truth.length > 0 ? relevant.length / log.request.truth.length : 0;
      truth.update({ scores: s, relevant: [relevant], relevance: [rel] });
      teacher.update({ scores: s, relevant: [shown] });
      const a = auc(imprScores, clicked);
      if (Number.isNaN(a)) skippedAuc++;
      else {
        aucSum += a;
        aucN++;
      }
    });
  }
  const t = truth.compute(), c = teacher.compute();
  const metrics: Record<string, number> = {};
  for (const k of truth.ks) {
    metrics[`recall@${k}`] = t[`recall@${k}`];
    metrics[`ndcg@${k}`] = t[`ndcg@${k}`];
    metrics[`teacher_recall@${k}`] = c[`recall@${k}`];
  }
  metrics.auc = aucN === 0 ? NaN : aucSum / aucN;
  return { metrics, requests: logs.length, skippedNoTruth: truth.skippedUsers, skippedAuc,
    truthInRecall: logs.length === 0 ? NaN : coverage / logs.length };
}

/** A two-tower model as a RecallScorer: the same features as training on the cascade (CascadeLists), eval mode. */
export function modelScorer(model: RecModel, cascade: CascadeSource): RecallScorer {
  const { recall: R, prerank: P, impressions: S } = cascade.config.stages;
  const lists = new CascadeLists(cascade, 'eval', { listsPerBatch: 1,
    caps: { impression: S, ranking_candidate: P - S, prerank_candidate: R - P, random: 0 } });
  const rng = new Rng(0); // unused: no stage exceeds its cap
  return (logs) => {
    const b = lists.build(logs, rng);
    model.eval();
    const z = noGrad(() => scope(() => Float32Array.from(listLogits(model, b).f)));
    // slot order is stage order (impressions, ranking, pre-ranking candidates): map back to recallIndex order
    return logs.map((log, g) => {
      const idx = recallIndex(log);
      const pos = new Map<number, number>();
      idx.forEach((k, j) => pos.set(log.items[k], j));
      const out = new Float32Array(idx.length).fill(NaN);
      for (let s = g * b.slots; s < (g + 1) * b.slots; s++) if (b.mask[s]) out[pos.get(b.items.item[s])!] = z[s];
      return out;
    });
  };
}

/** A logged score column as a RecallScorer: the production pre-ranker's logit (a baseline row). */
export function loggedPrerankScorer(): RecallScorer {
  return (logs) => logs.map((log) => Float32Array.from(recallIndex(log), (k) => log.prerankScore[k]));
}

/** Evaluates a two-tower model on a cascade's requests of `split` (default: the evaluation requests). */
export function evaluateOnCascade(model: RecModel, cascade: CascadeSource, opts: CascadeEvalOptions & { split?: RequestSplit } = {}): CascadeEvalResult {
  const logs = cascade.logs.filter((e) => e.request.split === (opts.split ?? 'eval'));
  return evaluateRequests(logs, cascade.config.labels, modelScorer(model, cascade), opts);
}
