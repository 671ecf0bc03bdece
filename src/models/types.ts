// What every model exposes. A model composes nn layers over the dataset's features; it has no optimizer, IO or
// fit loop. Two-tower models also expose the serving split: user and item representations computed separately
// (item ones cached offline) and a cheap score over them.
import type { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';
import type { Module } from '../nn/module.js';
import type { Batch, FeatureInfo } from '../data/index.js';
import type { UserServingPlan } from './common/serving.js';

export interface ModelContext {
  features: FeatureInfo[];
  rng: Rng;
}

export interface LossOutput {
  /** Scalar training objective: the main loss plus the model's own terms (CIR, mimic loss, L2 on embeddings...). */
  loss: Tensor;
  /** Logits [B] of the main prediction (sigmoid gives the click probability). */
  logits: Tensor;
  /** Named scalar parts of the loss, for logs. */
  parts: Record<string, number>;
  /** Two-tower models: the step's served user [B, U] and item [B, I] reps (on the tape), for terms over them. */
  reps?: { user: Tensor; item: Tensor };
}

export interface RecModel extends Module {
  /** Registry name, e.g. 'int-tower'. */
  readonly kind: string;
  /** True when item representations can be cached: encodeUser/encodeItem/score are defined. */
  readonly twoTower: boolean;
  /** Logits [B] for a batch (training/eval forward). */
  forward(batch: Batch): Tensor;
  /** Loss for a training batch (labels and weights from the batch). */
  loss(batch: Batch): LossOutput;
  /** User representation [B, U] from user (and context) features only. */
  encodeUser?(batch: Batch): Tensor;
  /** Item representation [B, I] from item features only: what is cached per item. */
  encodeItem?(batch: Batch): Tensor;
  /**
   * Logits for users x items paired row by row: userReps [N, U] (or [1, U], broadcast) and itemReps [N, I] -> [N].
   * encodeUser + encodeItem + score must equal forward.
   */
  score?(userReps: Tensor, itemReps: Tensor): Tensor;
  /**
   * Logits of every user against every item: userReps [P, U], itemReps [C, I] -> [P, C], equal to `score` over the
   * cross product in fewer ops (one GEMM for an inner-product score). Absent: callers gather the pairs for `score`.
   */
  scoreCross?(userReps: Tensor, itemReps: Tensor): Tensor;
  /**
   * Max-sim models whose scored vectors depend on the pair (RankTower's cross-attention): one side's vectors as the
   * score sees them against a fixed rep of the other side, L2-normalised. reps [n, R] of `side` and one `anchor` rep
   * of the other side -> [n * heads, size] (that side's heads). Anchored on the pair's own reps they are the exact
   * scored vectors; on a mean rep, the retrieval index's vectors (items) and its queries (a user).
   */
  anchoredVectors?(side: 'user' | 'item', reps: Float32Array, anchor: Float32Array): Float32Array;
  /**
   * The user side in eval mode as a serving plan (one native call per request: tower, score, top-n); absent when
   * the model cannot express it, and then serving runs encodeUser + score on tensors.
   */
  servingPlan?(): UserServingPlan;
}

/** A model factory: the dataset's features, a seeded generator, and the model's own config object. */
export type ModelFactory<C = Record<string, unknown>> = (ctx: ModelContext, config: C) => RecModel;
