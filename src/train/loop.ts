// What the one training loop (trainer.ts) is made of: a training run is a batch source (the epochs' batches in a
// seeded order), an objective (the loss on a batch, and the validation metrics after an epoch) and optionally a
// training strategy (src/train/strategies). Dataset rows are one kind of run (rows.ts); the cascade's listwise
// lists another (src/cascade/list-run.ts). Whatever the batch, the loop gives every run the same seeded epochs, step
// (step.ts), early stopping, best/last checkpoints, exact resume and JSONL log.
import type { Rng } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import type { RecModel } from '../models/types.js';

/** Validation metrics of an epoch, by name (the early-stopping metric among them). */
export type Metrics = Record<string, number>;

/** The batches of a run's epochs. */
export interface BatchSource<B> {
  /** Batches of epoch `e`, in an order that depends only on the run's seed and e (so a resumed run sees the same). */
  epoch(e: number): Iterable<B>;
  /** Batches in one epoch (progress only). */
  readonly batchesPerEpoch: number;
  /** Real samples in a batch: throughput (dataset rows; a list batch's unpadded slots). */
  samples(b: B): number;
  /** The batch's weight in the epoch's mean training loss (rows: its size; lists: 1, a mean over steps). */
  weight(b: B): number;
  /** Lists in a listwise batch (lists per second are logged beside samples per second); absent: not listwise. */
  lists?(b: B): number;
}

/** What one optimizer step minimises; a strategy (which also has `afterStep`) or an objective. */
export interface StepLoss<B> {
  loss(model: RecModel, batch: B): { loss: Tensor };
  /** Runs after the optimizer step, outside the tape. */
  afterStep?(model: RecModel, batch: B): void;
}

/** The loss on a batch and how the model is judged after an epoch. */
export interface Objective<B, M extends Metrics = Metrics> extends StepLoss<B> {
  /**
   * Validation metrics of the model as it is now (the objective puts the model in eval mode and back); absent: the
   * run has no validation, every epoch is the best so far and training never stops early.
   */
  validate?(model: RecModel): M;
  /** True when a lower value of the early-stopping metric is better (logloss, a validation loss). */
  lowerIsBetter(metric: string): boolean;
  /** The epoch's validation metrics in the console line (e.g. `val AUC 0.81 logloss 0.42`). */
  describe(val: Metrics, metric: string): string;
}

/** The strategy's part in the loop (TrainingStrategy is one, over dataset rows). */
export interface LoopStrategy<B> extends Module, StepLoss<B> {
  /** Runs at the start of each epoch, also after a resume. */
  startEpoch(model: RecModel, epoch: number): void;
  /** The named parameters the optimizer updates. */
  trainable(model: RecModel): [string, Tensor][];
}

export interface TrainingRun<B, M extends Metrics = Metrics> {
  source: BatchSource<B>;
  objective: Objective<B, M>;
  strategy?: LoopStrategy<B>;
  /** RNGs the source or objective draws from during an epoch (the model's and the strategy's are saved with them):
   * a mid-epoch checkpoint records their states, and the resumed epoch sets them after the skipped batches. */
  rngs?: [string, Rng][];
}

/**
 * Is `value` an improvement on the best so far? The first epoch always is (so a best checkpoint exists even when the
 * metric is not finite); later, a finite value that beats the best, or any finite value after a non-finite best.
 */
export function improves(value: number, best: number | null, lowerIsBetter: boolean): boolean {
  if (best === null) return true;
  if (!Number.isFinite(value)) return false;
  if (!Number.isFinite(best)) return true;
  return lowerIsBetter ? value < best : value > best;
}
