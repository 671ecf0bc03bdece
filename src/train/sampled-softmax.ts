// The sampled-softmax objective: training a two-tower model for retrieval. Per positive row, a softmax over its
// item, the items of the batch's other positive rows (in-batch negatives) and M items sampled once per step and
// shared by the batch (uniform, or train count^alpha), with log-Q correction (Yi et al., RecSys 2019, for in-batch
// candidates; Jean et al. 2015 / TensorFlow's sampled_softmax_loss for sampled ones), accidental-hit masking and a
// temperature; optionally plus the model's own loss (BCE, and IntTower's CIR term...) times a weight.
// Scores come from the model's own pairwise `score` over the cross product of the P users and the candidate items
// (gathered reps), so max-sim (IntTower) and cross-attention (RankTower) models train with it as DSSM does.
// Decisions:
// - The correction is the log of how many times a candidate's source is expected to put the item in the step:
//   P q(i) for an in-batch column (q: the item's share of the train split's positive rows, the stream in-batch
//   candidates come from) and M Q(i) for a sampled one (Q: the sampler's draw probability). Each source's sum
//   is then an estimate of the full partition. The positive's own column is in-batch (the diagonal) when in-batch
//   negatives are on, else it takes the sampled source's correction, as TensorFlow's sampled softmax does.
// - z = score / temperature - correction: the estimate of the tempered softmax's partition stays unbiased.
// - Sampler counts are the train split's rows (every label: what OneBP's uniform pool uses), positives' shares the
//   train split's positive rows; nothing of val or test is read.
// - Draws depend only on the run's seed and the epoch (the generator is reseeded at each epoch's start), so a run
//   resumed from a checkpoint draws what an uninterrupted one would.
// Shape letters: B batch, P positive rows, M sampled items, C candidates per row (P + M with in-batch negatives,
// 1 + M without), U user rep width, I item rep width.
import { z } from 'zod';
import { Rng } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import * as ops from '../core/ops/index.js';
import type { Batch, Dataset } from '../data/index.js';
import { PopularitySampler } from '../data/samplers.js';
import type { LossOutput, RecModel } from '../models/types.js';
import { modelSoftmaxTemperature } from '../models/registry.js';

export const SampledSoftmaxSchema = z.strictObject({
  kind: z.literal('sampled-softmax').describe('a softmax over in-batch and sampled items for each positive row (retrieval training)'),
  negatives: z.number().int().min(0).default(100).describe('M items sampled once per step and shared by every positive row of the batch'),
  sampler: z.enum(['uniform', 'popularity']).default('popularity')
    .describe("how sampled items are drawn: uniform over the items seen in train, or proportional to train count^alpha"),
  alpha: z.number().min(0).max(2).default(0.75).describe("the popularity sampler's exponent (0: uniform, 1: popularity, word2vec's 0.75)"),
  inBatch: z.boolean().default(true).describe("the other positive rows' items of the batch are negatives too"),
  logQ: z.boolean().default(true).describe('subtract the log expected count of each candidate (in-batch: P q(i); sampled: M Q(i))'),
  maskHits: z.boolean().default(true)
    .describe("leave out of a row's denominator every candidate equal to its item or to another positive of the same user in the batch"),
  temperature: z.number().positive().optional()
    .describe("the softmax's temperature over the model's logits (which may have their own); default: the model's (DSSM 0.25, measured in docs/STRATEGIES.md), else 1"),
  modelLossWeight: z.number().min(0).default(0).describe("weight of the model's own loss (BCE, CIR, mimic terms) added to the softmax; 0: the softmax only"),
}).superRefine((o, ctx) => {
  if (!o.inBatch && o.negatives === 0) ctx.addIssue({ code: 'custom', path: ['negatives'], message: 'with inBatch false, negatives must be >= 1 (a softmax needs negatives)' });
});
export type SampledSoftmaxConfig = z.infer<typeof SampledSoftmaxSchema>;

/** A masked candidate's offset: exp underflows to 0 in float32 and float64, so it leaves the denominator. */
export const MASKED = -1e9;

/** The columns of one step's softmax: which user and item rep each of the [P, C] logits reads, and its offset. */
export interface SoftmaxPlan {
  P: number;
  C: number;
  /** [P*C] row p's user rep index (p). */
  userIndex: Int32Array;
  /** [P*C] index into the item reps [P + M, I]: the positive rows' items, then the sampled ones. */
  itemIndex: Int32Array;
  /** [P*C] added to score / temperature: -log expected count (logQ), MASKED for an accidental hit, else 0. */
  offset: Float64Array;
  /** [P] the column of the row's own item. */
  labels: Int32Array;
}

export interface PlanOptions {
  inBatch: boolean;
  logQ: boolean;
  maskHits: boolean;
  /** Probability that a positive train row has this item (in-batch candidates). */
  inBatchProb: (item: number) => number;
  /** Probability that one draw of the sampler returns this item. */
  sampledProb: (item: number) => number;
}

/** The plan for P positive rows (users[p], items[p]) and M shared sampled items. */
export function softmaxPlan(users: ArrayLike<number>, items: ArrayLike<number>, sampled: ArrayLike<number>, opts: PlanOptions): SoftmaxPlan {
  const P = items.length, M = sampled.length;
  const first = opts.inBatch ? P : 1; // the first sampled column
  const C = first + M;
  const plan: SoftmaxPlan = { P, C, userIndex: new Int32Array(P * C), itemIndex: new Int32Array(P * C), offset: new Float64Array(P * C), labels: new Int32Array(P) };
  const logCount = (n: number, prob: number): number => (opts.logQ && prob > 0 ? Math.log(n * prob) : 0);
  // One row's columns (the own column of a row without in-batch negatives is filled per row): items, offsets.
  const colItem = new Int32Array(C);
  const rowOffset = new Float64Array(C);
  const rowItemIndex = Int32Array.from({ length: C }, (_, c) => (c < first ? c : P + c - first));
  for (let c = 0; c < C; c++) {
    if (c >= first) colItem[c] = sampled[c - first];
    else if (opts.inBatch) colItem[c] = items[c];
    rowOffset[c] = c >= first ? -logCount(M, opts.sampledProb(colItem[c])) : opts.inBatch ? -logCount(P, opts.inBatchProb(colItem[c])) : 0;
  }
  // Where each item is a column, and each user's positive items in the batch (the candidates a row masks).
  const columnsOf = new Map<number, number[]>();
  for (let c = opts.inBatch ? 0 : first; c < C; c++) (columnsOf.get(colItem[c]) ?? columnsOf.set(colItem[c], []).get(colItem[c])!).push(c);
  const byUser = new Map<number, Set<number>>();
  for (let p = 0; p < P; p++) (byUser.get(users[p]) ?? byUser.set(users[p], new Set()).get(users[p])!).add(items[p]);
  for (let p = 0; p < P; p++) {
    const o = p * C;
    const own = opts.inBatch ? p : 0;
    plan.labels[p] = own;
    plan.userIndex.fill(p, o, o + C);
    plan.offset.set(rowOffset, o);
    plan.itemIndex.set(rowItemIndex, o);
    if (!opts.inBatch) {
      plan.itemIndex[o] = p;
      plan.offset[o] = -logCount(M, opts.sampledProb(items[p]));
    }
    if (!opts.maskHits) continue;
    for (const item of byUser.get(users[p])!) {
      for (const c of columnsOf.get(item) ?? []) if (c !== own) plan.offset[o + c] = MASKED;
    }
  }
  return plan;
}

/** How a model scores: pairs row by row, and (optionally) every user against every item in one go. */
export type Scorer = Required<Pick<RecModel, 'score'>> & Pick<RecModel, 'scoreCross'>;

/** The [P, C] logits of a plan: one `scoreCross` (own items row by row without in-batch columns), else `score` over gathered pairs. */
function planScores(model: Scorer, userReps: Tensor, itemReps: Tensor, plan: SoftmaxPlan): Tensor {
  const { P, C } = plan;
  if (model.scoreCross) {
    const sharedColumns = plan.labels.every((c, p) => c === p); // in-batch: column c is item rep c for every row
    if (sharedColumns) return model.scoreCross(userReps, itemReps);
    const [ownItems, sampled] = ops.split(itemReps, [P, C - 1], 0);
    return ops.concat([ops.reshape(model.score(userReps, ownItems), [P, 1]), model.scoreCross(userReps, sampled)], 1);
  }
  const u = ops.gather(userReps, Tensor.from(plan.userIndex, [P * C], 'int32')); // [P*C, U]
  const v = ops.gather(itemReps, Tensor.from(plan.itemIndex, [P * C], 'int32')); // [P*C, I]
  return ops.reshape(model.score(u, v), [P, C]);
}

/**
 * Mean over rows of -log softmax(score(u_p, v_c) / temperature + offset)[own]: userReps [P, U], itemReps [P + M, I]
 * (the positive rows' items, then the sampled ones).
 */
export function sampledSoftmaxLoss(model: Scorer, userReps: Tensor, itemReps: Tensor, plan: SoftmaxPlan, temperature: number): Tensor {
  const { P, C } = plan;
  const s = planScores(model, userReps, itemReps, plan);
  const offset = Tensor.from(s.dtype === 'float64' ? plan.offset : Float32Array.from(plan.offset), [P, C], s.dtype);
  const z = ops.add(ops.scale(s, 1 / temperature), offset);
  return ops.softmaxCrossEntropy(z, Tensor.from(plan.labels, [P], 'int32'));
}

/** What the objective knows of the train split: sampler weights (every train row) and positives' item shares. */
export function trainItemStats(data: Dataset): { counts: Float64Array; positives: Float64Array } {
  const positives = new Float64Array(data.itemCount);
  for (const r of data.splits.train) if (data.label[r] > 0.5) positives[data.rowItem[r]]++;
  return { counts: data.trainItemCounts(), positives };
}

/** The objective on dataset rows: `loss` is a step's loss, `startEpoch` reseeds the draws for epoch e. */
export class SampledSoftmax {
  readonly sampler: PopularitySampler | null;
  /** [items] each item's share of the train split's positive rows. */
  readonly inBatchProb: Float64Array;
  /** The sampler's draws (reseeded each epoch; a mid-epoch checkpoint saves its state). */
  readonly rng: Rng;
  private itemBatch: Batch | null = null;
  /** The config's temperature, else the model's default (modelSoftmaxTemperature). */
  readonly temperature: number;

  constructor(model: RecModel, private readonly data: Dataset, readonly config: SampledSoftmaxConfig, private readonly seed: number) {
    if (!model.twoTower || !model.encodeUser || !model.encodeItem || !model.score) {
      throw new Error(`objective sampled-softmax: '${model.kind}' is not a two-tower model (it needs encodeUser, encodeItem and score)`);
    }
    const { counts, positives } = trainItemStats(data);
    const total = positives.reduce((a, b) => a + b, 0);
    this.inBatchProb = positives.map((c) => (total > 0 ? c / total : 0));
    this.rng = new Rng(seed);
    this.temperature = config.temperature ?? modelSoftmaxTemperature(model.kind);
    this.sampler = config.negatives > 0 ? new PopularitySampler(counts, config.sampler === 'uniform' ? 0 : config.alpha, { rng: this.rng }) : null;
  }

  /** Epoch e's draws depend only on the run's seed and e. */
  startEpoch(epoch: number): void {
    this.rng.setState(new Rng((Math.imul(this.seed, 0x9e3779b1) + epoch + 1) >>> 0).state());
  }

  loss(model: RecModel, batch: Batch): LossOutput {
    const cfg = this.config;
    const own = cfg.modelLossWeight > 0 ? model.loss(batch) : null;
    if (own && !own.reps) throw new Error(`objective sampled-softmax: '${model.kind}' loss gives no reps to add its own loss to`);
    const u = own ? own.reps!.user : model.encodeUser!(batch); // [B, U]
    const v = own ? own.reps!.item : model.encodeItem!(batch); // [B, I]
    const pos: number[] = [];
    for (let b = 0; b < batch.size; b++) if (batch.label[b] > 0.5) pos.push(b);
    const parts: Record<string, number> = { ...own?.parts };
    if (pos.length === 0) {
      const loss = own ? ops.scale(own.loss, cfg.modelLossWeight) : ops.scale(ops.sumAll(v), 0);
      return { loss, logits: own?.logits ?? Tensor.zeros([batch.size]), parts: { ...parts, sampledSoftmax: 0 } };
    }
    const rows = Tensor.from(Int32Array.from(pos), [pos.length], 'int32');
    const users = Int32Array.from(pos, (b) => batch.user[b]);
    const items = Int32Array.from(pos, (b) => batch.item[b]);
    const sampled = this.sampler ? this.sampler.sample([0], 1, cfg.negatives) : new Int32Array(0);
    const plan = softmaxPlan(users, items, sampled, {
      ...cfg, inBatchProb: (i) => this.inBatchProb[i] ?? 0, sampledProb: (i) => this.sampler?.prob(i) ?? 0,
    });
    const vPos = ops.gather(v, rows); // [P, I]
    const itemReps = sampled.length ? ops.concat([vPos, this.encodeItems(model, sampled)], 0) : vPos; // [P + M, I]
    const ssm = sampledSoftmaxLoss(model as Scorer, ops.gather(u, rows), itemReps, plan, this.temperature);
    parts.sampledSoftmax = ssm.item();
    const loss = own ? ops.add(ssm, ops.scale(own.loss, cfg.modelLossWeight)) : ssm;
    return { loss, logits: own?.logits ?? Tensor.zeros([batch.size]), parts };
  }

  /** Item reps [M, I] of item entities (their item-side features from the dataset). */
  private encodeItems(model: RecModel, ids: Int32Array): Tensor {
    if (!this.itemBatch || this.itemBatch.label.length < ids.length) this.itemBatch = this.data.itemBatch(ids.length);
    return model.encodeItem!(this.data.fillItems(this.itemBatch, ids, ids.length));
  }
}
