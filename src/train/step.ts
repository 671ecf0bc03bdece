// One optimizer step on one batch: the core the offline fit loop (trainer.ts) and the online trainer
// (src/online) share, so both train a model exactly the same way (strategy loss, finite-loss check, after-step hook).
import { backward, scope } from '../core/index.js';
import type { Batch } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import type { Optimizer } from '../nn/index.js';
import type { TrainingStrategy } from './strategies/types.js';

/** zeroGrad, loss (the strategy's or the model's own), backward, step, the strategy's after-step update; returns the loss. */
export function trainStep(model: RecModel, optimizer: Optimizer, batch: Batch, strategy: TrainingStrategy | undefined, where: string): number {
  const loss = scope(() => {
    optimizer.zeroGrad();
    const out = strategy ? strategy.loss(model, batch) : model.loss(batch);
    backward(out.loss);
    return out.loss.item();
  });
  if (!Number.isFinite(loss)) throw new Error(`${where}: the loss is ${loss} (try a lower learning rate; PRERANK_CHECK_FINITE=1 names the op)`);
  optimizer.step();
  strategy?.afterStep(model, batch);
  return loss;
}
