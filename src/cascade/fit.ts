// `prerank cascade train`'s run of the one training loop (src/train/trainer.ts) over the cascade's lists
// (list-run.ts): the training requests minus a validation slice of the training period (the latest
// `validation.fraction` of period-2 requests by t; never an evaluation request). The Trainer gives it early stopping
// with patience on a validation metric, best and last checkpoints, exact resume and one JSONL record per epoch; the
// best checkpoint is loaded back into the model at the end.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RecModel } from '../models/types.js';
import type { Optimizer } from '../nn/index.js';
import { Trainer, type EpochRecord } from '../train/trainer.js';
import { CascadeLists, type StageCaps } from './lists.js';
import { listRun } from './list-run.js';
import type { CascadeSource, RequestLog } from './simulate.js';
import type { CascadeObjective } from './train.js';

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
  /** Continue from outDir/last when it exists (the epochs already trained are kept in the result). */
  resume?: boolean;
  /** Stop after this many epochs in this call; a later call with `resume` continues. */
  maxEpochsThisCall?: number;
  signal?: AbortSignal;
  log?: (m: string) => void;
}

/** An epoch of cascade training: validation metrics (and `loss`; empty without validation), real list items
 * (samples) and lists per second of training time. */
export type CascadeEpoch = EpochRecord<Record<string, number>> & { listsPerSec: number };

export interface CascadeFitResult {
  epochs: CascadeEpoch[];
  bestEpoch: number;
  stoppedEarly: boolean;
  /** The loss of each step of this call (a resumed call: of the epochs it trained). */
  losses: number[];
  /** The epoch the run resumed after, or null. */
  resumedFrom: number | null;
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
  const K = checkStopMetric(o.earlyStopping.metric);
  const valFrom = o.validation ? validationCut(src.logs, o.validation.fraction) : null;
  const isVal = (e: RequestLog): boolean => valFrom !== null && e.request.t >= valFrom;
  const lists = new CascadeLists(src, 'train', { listsPerBatch: o.listsPerBatch, caps: o.caps, seed: o.seed, only: (e) => !isVal(e) });
  const valLogs = src.logs.filter((e) => e.request.split === 'train' && isVal(e));
  const valLists = valLogs.length ? new CascadeLists(src, 'train', { listsPerBatch: o.listsPerBatch, caps: o.caps, seed: o.seed, only: isVal }) : null;
  if (lists.listCount === 0) throw new Error('cascade training: no training requests left');
  if (!valLists && o.earlyStopping.metric !== 'loss' && o.validation) throw new Error('validation: no validation requests');
  const val = valLists ? { lists: valLists, logs: valLogs, ks: K ? [K] : [100], signal: o.signal } : null;
  const run = listRun(lists, o.objective, src, val);
  if (!o.resume) rmSync(join(o.outDir, 'log.jsonl'), { force: true });
  const losses: number[] = [];
  const trainer = new Trainer(model, run, { epochs: o.epochs, outDir: o.outDir, earlyStopping: o.earlyStopping },
    { optimizer, resume: o.resume, maxEpochsThisCall: o.maxEpochsThisCall, signal: o.signal, quiet: !o.log, say: o.log, onStep: (_e, _s, l) => losses.push(l) });
  trainer.log.write({ event: 'start', model: model.kind, objective: o.objective, trainRequests: lists.listCount, valRequests: valLogs.length,
    valFrom, earlyStopping: o.earlyStopping });
  const fit = await trainer.fit();
  await trainer.restoreBest();
  trainer.log.write({ event: 'end', bestEpoch: fit.bestEpoch, stoppedEarly: fit.stoppedEarly, epochs: fit.epochs.length });
  return { epochs: fit.epochs as CascadeEpoch[], bestEpoch: fit.bestEpoch, stoppedEarly: fit.stoppedEarly, losses, resumedFrom: fit.resumedFrom,
    requests: { train: lists.listCount, val: valLogs.length, valFrom } };
}
