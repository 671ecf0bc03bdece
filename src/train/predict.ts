// Predictions over a split (eval mode, no tape) and the binary metrics computed from them.
import { noGrad, scope } from '../core/index.js';
import type { Batch, SplitName, TrainingData } from '../data/index.js';
import type { Tensor } from '../core/tensor.js';
import type { RecModel } from '../models/types.js';
import { METRICS, evaluate } from '../eval/index.js';

export interface Predictions {
  logits: Float32Array;
  labels: Float32Array;
  users: Int32Array;
}

export interface BinaryMetrics {
  auc: number;
  gauc: number;
  logloss: number;
  accuracy: number;
  rows: number;
}

/** `forward` replaces model.forward (a training strategy's own scoring, e.g. OneBP's stored user encodings). */
export function collectPredictions(model: RecModel, data: TrainingData, split: SplitName, batchSize: number,
  forward: (b: Batch) => Tensor = (b) => model.forward(b)): Predictions {
  const wasTraining = model.training;
  model.eval();
  const stream = data.batches(split, { batchSize, shuffle: false });
  const n = stream.rowCount;
  const out: Predictions = { logits: new Float32Array(n), labels: new Float32Array(n), users: new Int32Array(n) };
  let k = 0;
  try {
    noGrad(() => {
      for (const batch of stream.epoch(0)) {
        scope(() => {
          out.logits.set(forward(batch).data.subarray(0, batch.size), k);
        });
        out.labels.set(batch.label.subarray(0, batch.size), k);
        out.users.set(batch.user.subarray(0, batch.size), k);
        k += batch.size;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return out;
}

export function binaryMetrics(p: Predictions): BinaryMetrics {
  const m = evaluate([METRICS.auc(), METRICS.gauc(), METRICS.logloss(), METRICS.accuracy()], [p]);
  return { auc: m.auc, gauc: m.gauc, logloss: m.logloss, accuracy: m.accuracy, rows: p.logits.length };
}
