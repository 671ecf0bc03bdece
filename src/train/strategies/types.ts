// Training strategies: how a two-tower model is trained, never the model itself. A strategy is a Module
// (its own tensors and RNGs go into checkpoints under 'strategy.') that the Trainer consults at five points: the
// start of each epoch, which parameters the optimizer updates, the step's loss, an update after each optimizer step,
// and the logits used for validation (a strategy may replace the user tower's output with its own state, as OneBP
// does). It also declares what it adds to an exported serving bundle (`bundleExport`: OneBP's stored user encodings).
import type { Tensor } from '../../core/tensor.js';
import type { Rng } from '../../core/random.js';
import { Module } from '../../nn/index.js';
import type { Batch, Dataset } from '../../data/index.js';
import type { LossOutput, RecModel } from '../../models/types.js';

/** What a strategy adds to an exported serving bundle (src/export writes it, hashes it and records it in the manifest). */
export interface StrategyExport {
  /** Per-user reps [count, dim] that serving uses instead of the user tower (keys: the dataset's user keys, as the
   * encoders know them); a user without one (a cold user) is scored by the user tower. */
  userEncodings?: { keys: string[]; dim: number; data: Float32Array };
  /** JSON facts recorded in the manifest's `strategy` entry (e.g. the strategy's config). */
  info?: Record<string, unknown>;
}

export abstract class TrainingStrategy extends Module {
  abstract readonly kind: string;

  /** Runs at the start of each training epoch (before its first step), also after a resume. */
  startEpoch(_model: RecModel, _epoch: number): void {}

  /** The named parameters the optimizer updates (default: all of the model's). */
  trainable(model: RecModel): [string, Tensor][] {
    return model.namedParameters();
  }

  /** The step's objective (default: the model's own loss). */
  loss(model: RecModel, batch: Batch): LossOutput {
    return model.loss(batch);
  }

  /** Runs after each optimizer step, outside the tape. */
  afterStep(_model: RecModel, _batch: Batch): void {}

  /** User reps [B, U] from the strategy's own state, when it keeps one (OneBP); absent: the user tower. */
  userReps?(model: RecModel, batch: Batch): Tensor;

  /** Logits [B] for evaluation (default: the model's forward). */
  forward(model: RecModel, batch: Batch): Tensor {
    return model.forward(batch);
  }

  /**
   * Why this strategy cannot train online (`prerank train --online`), or null when it can. Online, only `loss` and
   * `afterStep` run per batch (no epochs), prequential scores come from `forward`, and the batches hold users and
   * items first seen in the stream; a strategy whose state is indexed by the offline dataset's users cannot follow.
   */
  onlineRefusal(): string | null {
    return null;
  }

  /** What serving needs beyond the model (default: nothing; the bundle is the model's alone). */
  bundleExport(_model: RecModel, _data: Dataset): StrategyExport | null {
    return null;
  }
}

export interface StrategyContext {
  model: RecModel;
  data: Dataset;
  rng: Rng;
  /** The model already holds trained weights (online training from an offline run): one-time initialisations of its
   * parameters (a warm start) must not run again. */
  trained?: boolean;
  /** Another training run's model on this dataset, its best (else last) checkpoint loaded (train/build.ts
   * `loadRunModel`, passed in so strategies need not import the config and registry that import them). */
  loadRun?: (dir: string, data: Dataset, what?: string) => Promise<RecModel>;
}

/** Builds a strategy; async when it must read files first (a teacher checkpoint). */
export type StrategyFactory<C = Record<string, unknown>> = (ctx: StrategyContext, config: C) => TrainingStrategy | Promise<TrainingStrategy>;
/** A factory that builds its strategy synchronously (callers may use the result directly). */
export type SyncStrategyFactory<C = Record<string, unknown>> = (ctx: StrategyContext, config: C) => TrainingStrategy;
