// Scoring latency of a trained model for one request of n candidates: two-tower models encode the user once and
// score n cached item representations; single-tower models run the full forward on n (user, item) pairs.
import { noGrad, scope, ops } from '../core/index.js';
import type { Batch, TrainingData } from '../data/index.js';
import { headOf } from '../data/batch.js';
import type { RecModel } from '../models/types.js';
import { median } from '../util/stats.js';

/** Median ms over `reps` requests of `n` candidates (after warm-up), in eval mode. */
export function servingLatencyMs(model: RecModel, data: TrainingData, n: number, reps = 30): number {
  const wasTraining = model.training;
  model.eval();
  const stream = data.batches('test', { batchSize: n, shuffle: false });
  const batch: Batch = stream.epoch(0).next().value as Batch;
  try {
    return noGrad(() => {
      const itemReps = model.twoTower ? ops.reshape(model.encodeItem!(batch), [batch.size, -1]).clone() : null;
      const user = headOf(batch, 1);
      const request = (): void => scope(() => {
        if (itemReps) {
          model.score!(model.encodeUser!(user), itemReps);
        } else {
          model.forward(batch);
        }
      });
      const times: number[] = [];
      for (let i = 0; i < reps + 5; i++) {
        const t0 = performance.now();
        request();
        if (i >= 5) times.push(performance.now() - t0);
      }
      itemReps?.release();
      return median(times);
    });
  } finally {
    model.train(wasTraining);
  }
}
