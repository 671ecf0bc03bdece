// Cascade training as a run of the one training loop (src/train/trainer.ts): the batch source is the training
// requests' lists (lists.ts, seeded per epoch), the objective the cascade loss (pointwise, hybrid or listwise: train.ts)
// on the lists' logits, validated on held-out requests by the objective's loss over their lists and the request
// metrics (recall@K, ndcg@K, teacher_recall@K, auc: evaluate.ts). Shape letters: G lists per batch, L slots per list.
import { noGrad, scope } from '../core/index.js';
import type { RecModel } from '../models/types.js';
import type { BatchSource, Metrics, Objective, TrainingRun } from '../train/loop.js';
import { evaluateRequests, modelScorer } from './evaluate.js';
import type { CascadeListBatch, CascadeLists } from './lists.js';
import type { CascadeSource, RequestLog } from './simulate.js';
import { cascadeLoss, listLogits, type CascadeObjective } from './train.js';

/** The lists' batches: each epoch's order is seeded by the lists' seed and the epoch; every list once an epoch. */
export function listSource(lists: CascadeLists): BatchSource<CascadeListBatch> {
  return {
    epoch: (e) => lists.epoch(e),
    batchesPerEpoch: lists.batchesPerEpoch,
    samples: (b) => {
      let n = 0;
      for (let s = 0; s < b.mask.length; s++) n += b.mask[s];
      return n;
    },
    weight: () => 1,
    lists: (b) => b.groups,
  };
}

/** Held-out requests: their lists (validation loss) and logs (request metrics at `ks`). */
export interface ListValidation {
  lists: CascadeLists;
  logs: RequestLog[];
  ks: number[];
  signal?: AbortSignal;
}

/** The cascade objective on list batches; validated on held-out requests when `val` is given. */
export function listObjective(objective: CascadeObjective, src: CascadeSource, val: ListValidation | null): Objective<CascadeListBatch> {
  return {
    loss: (model, b) => cascadeLoss(listLogits(model, b), b, objective),
    validate: val ? (model) => ({ loss: validationLoss(model, val.lists, objective),
      ...evaluateRequests(val.logs, src.config.labels, modelScorer(model, src), { ks: val.ks, signal: val.signal }).metrics }) : undefined,
    lowerIsBetter: (metric) => metric === 'loss',
    describe: (v: Metrics, metric) => `val ${metric} ${v[metric].toFixed(4)}`,
  };
}

/** A run over the cascade's lists (no training strategy: the objective is the whole step). */
export function listRun(lists: CascadeLists, objective: CascadeObjective, src: CascadeSource, val: ListValidation | null = null): TrainingRun<CascadeListBatch> {
  return { source: listSource(lists), objective: listObjective(objective, src, val) };
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
