// The fit loop of `prerank cascade train`: epochs of trainOnCascade over the training requests, validation
// after each epoch on a time slice of the training period (the latest `validation.fraction` of period-2 requests by
// t; never an evaluation request), early stopping with patience on a validation metric, best and last checkpoints
// (src/train/checkpoint.ts) and one JSONL record per epoch (src/train/run-log.ts). The best checkpoint is loaded back
// into the model at the end. Shape letters: G lists per batch, L slots per list.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope } from '../core/index.js';
import type { RecModel } from '../models/types.js';
import type { Optimizer } from '../nn/index.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { RunLog } from '../train/run-log.js';
import { evaluateRequests, modelScorer } from './evaluate.js';
import { CascadeLists, type StageCaps } from './lists.js';
import type { CascadeSource, RequestLog } from './simulate.js';
import { cascadeLoss, listLogits, trainOnCascade, type CascadeObjective } from './train.js';

export interface CascadeFitOptions {
  objective: CascadeObjective;
  caps: StageCaps;
  listsPerBatch: number;
  epochs: number;
  seed: number;
  /** Latest fraction of the training requests (by t) held out for validation; null: none (no early stopping). */
  validation: { fraction: number } | null;
  /** `loss` (validation objective, lower is better) or an evaluation key: recall@K, ndcg@K, teacher_recall@K, auc. */
  earlyStopping: { metric: string; patience: number };
  /** Checkpoints (best/, last/) and log.jsonl go here. */
  outDir: string;
  signal?: AbortSignal;
  log?: (m: string) => void;
}

export interface CascadeEpoch {
  epoch: number;
  steps: number;
  trainLoss: number;
  /** Validation metrics (and `loss`); empty without validation. */
  val: Record<string, number>;
  seconds: number;
  /** Training throughput: real list items (samples) and lists per second of training time. */
  samplesPerSec: number;
  listsPerSec: number;
}

export interface CascadeFitResult {
  epochs: CascadeEpoch[];
  bestEpoch: number;
  stoppedEarly: boolean;
  losses: number[];
  /** Training and validation request counts, and the validation cut (t of the first validation request). */
  requests: { train: number; val: number; valFrom: number | null };
}

const METRIC = /^(loss|auc|(recall|ndcg|teacher_recall)@([1-9][0-9]*))$/;

/** Checks an early-stopping metric name; returns the K it needs (or null). */
export function checkStopMetric(metric: string, field = 'earlyStopping.metric'): number | null {
  const m = METRIC.exec(metric);
  if (!m) throw new Error(`${field}: '${metric}' is not loss, auc, recall@K, ndcg@K or teacher_recall@K`);
  return m[3] ? Number(m[3]) : null;
}

/** Splits the training requests at the validation cut: the latest ceil(fraction * n) by t (ties stay together). */
export function validationCut(logs: RequestLog[], fraction: number): number {
  const ts = logs.filter((e) => e.request.split === 'train').map((e) => e.request.t).sort((a, b) => a - b);
  if (ts.length < 2) throw new Error(`validation: ${ts.length} training request(s); need at least 2 to hold some out`);
  const cut = ts[Math.max(1, ts.length - Math.ceil(fraction * ts.length))];
  if (cut === ts[0]) throw new Error(`validation: every training request shares t = ${cut}; cannot split by time`);
  return cut;
}

export async function fitOnCascade(model: RecModel, src: CascadeSource, optimizer: Optimizer, o: CascadeFitOptions): Promise<CascadeFitResult> {
  const say = o.log ?? (() => {});
  const K = checkStopMetric(o.earlyStopping.metric);
  const valFrom = o.validation ? validationCut(src.logs, o.validation.fraction) : null;
  const isVal = (e: RequestLog): boolean => valFrom !== null && e.request.t >= valFrom;
  const lists = new CascadeLists(src, 'train', { listsPerBatch: o.listsPerBatch, caps: o.caps, seed: o.seed, only: (e) => !isVal(e) });
  const valLogs = src.logs.filter((e) => e.request.split === 'train' && isVal(e));
  const valLists = valLogs.length ? new CascadeLists(src, 'train', { listsPerBatch: o.listsPerBatch, caps: o.caps, seed: o.seed, only: isVal }) : null;
  if (lists.listCount === 0) throw new Error('cascade training: no training requests left');
  if (!valLists && o.earlyStopping.metric !== 'loss' && o.validation) throw new Error('validation: no validation requests');
  rmSync(join(o.outDir, 'log.jsonl'), { force: true });
  const runLog = new RunLog(join(o.outDir, 'log.jsonl'));
  runLog.write({ event: 'start', model: model.kind, objective: o.objective, trainRequests: lists.listCount, valRequests: valLogs.length,
    valFrom, earlyStopping: o.earlyStopping });
  const lowerBetter = o.earlyStopping.metric === 'loss';
  let best: number | null = null, bestEpoch = -1, bad = 0, stoppedEarly = false;
  const epochs: CascadeEpoch[] = [];
  const losses: number[] = [];
  for (let epoch = 0; epoch < o.epochs && !stoppedEarly; epoch++) {
    const t0 = performance.now();
    const stats = { lists: 0, samples: 0 };
    const l = trainOnCascade(model, lists, optimizer, { objective: o.objective, epochs: 1, startEpoch: epoch, stats, signal: o.signal });
    losses.push(...l);
    const trainSecs = (performance.now() - t0) / 1000;
    const val: Record<string, number> = {};
    if (valLists) {
      val.loss = validationLoss(model, valLists, o.objective);
      Object.assign(val, evaluateRequests(valLogs, src.config.labels, modelScorer(model, src), { ks: K ? [K] : [100], signal: o.signal }).metrics);
    }
    const rec: CascadeEpoch = { epoch, steps: l.length, trainLoss: l.reduce((a, b) => a + b, 0) / Math.max(l.length, 1), val,
      seconds: (performance.now() - t0) / 1000, samplesPerSec: stats.samples / trainSecs, listsPerSec: stats.lists / trainSecs };
    epochs.push(rec);
    runLog.write({ event: 'epoch', ...rec });
    const v = valLists ? val[o.earlyStopping.metric] : epoch; // without validation the last epoch is the best
    say(`epoch ${epoch}: train loss ${rec.trainLoss.toFixed(4)}${valLists ? `, val ${o.earlyStopping.metric} ${v.toFixed(4)}` : ''}, `
      + `${rec.samplesPerSec.toFixed(0)} samples/s, ${rec.listsPerSec.toFixed(1)} lists/s`);
    const lower = lowerBetter && valLists !== null;
    if (best === null || !Number.isFinite(best) || (Number.isFinite(v) && (lower ? v < best : v > best))) {
      best = v;
      bestEpoch = epoch;
      bad = 0;
      await saveCheckpoint(join(o.outDir, 'best'), model, null, { epoch, val, kind: model.kind });
    } else {
      bad++;
    }
    stoppedEarly = valLists !== null && bad > o.earlyStopping.patience;
    await saveCheckpoint(join(o.outDir, 'last'), model, optimizer, { epoch, bestEpoch, badEpochs: bad, history: epochs });
  }
  await loadCheckpoint(join(o.outDir, 'best'), model, null);
  runLog.write({ event: 'end', bestEpoch, stoppedEarly, epochs: epochs.length });
  return { epochs, bestEpoch, stoppedEarly, losses, requests: { train: lists.listCount, val: valLogs.length, valFrom } };
}

/** The objective over every validation list (fixed sampling of capped stages), eval mode, weighted by lists. */
function validationLoss(model: RecModel, lists: CascadeLists, objective: CascadeObjective): number {
  model.eval();
  let sum = 0, n = 0;
  noGrad(() => {
    for (const b of lists.epoch(0)) {
      sum += scope(() => cascadeLoss(listLogits(model, b), b, objective).loss.item()) * b.groups;
      n += b.groups;
    }
  });
  model.train();
  return n ? sum / n : NaN;
}
