// The one optimizer step: every training loop (the Trainer's epochs over any batch source, the online trainer's
// stream) trains a model through it, so all train the same way (loss, finite-loss check, after-step hook).
import { backward, scope } from '../core/index.js';
import type { Batch } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import type { Optimizer } from '../nn/index.js';
import type { StepLoss } from './loop.js';

/** The step of a model trained on its own loss over dataset rows. */
export const MODEL_LOSS: StepLoss<Batch> = { loss: (model, batch) => model.loss(batch) };

/**
 * zeroGrad, the loss (a strategy's or an objective's; absent: the model's own loss on a Batch of rows), backward,
 * step, the after-step update; returns the loss.
 */
export function trainStep<B = Batch>(model: RecModel, optimizer: Optimizer, batch: B, step: StepLoss<B> | undefined, where: string): number {
  step ??= MODEL_LOSS as unknown as StepLoss<B>;
  const loss = scope(() => {
    optimizer.zeroGrad();
    const out = step.loss(model, batch);
    backward(out.loss);
    return out.loss.item();
  });
  if (!Number.isFinite(loss)) throw new Error(`${where}: the loss is ${loss} (try a lower learning rate; PRERANK_CHECK_FINITE=1 names the op)`);
  optimizer.step();
  step.afterStep?.(model, batch);
  return loss;
}
