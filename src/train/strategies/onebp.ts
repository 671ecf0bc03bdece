// One Backpropagation (OneBP; arXiv 2403.18227, and the authors' code): the
// user tower gets no gradient. Each user keeps a stored encoding e_u; the loss is InfoNCE over the row's positive
// item and N items the user never interacted with in train (uniform over the items seen in train, drawn by
// src/data/samplers.ts), scored with e_u held constant, so only item-side parameters learn. Right after each optimizer step, e_u <- beta e_u + (1 - beta)
// e_i+ with the positive item's freshly updated encoding (moving aggregation).
// Decisions: initial encodings (`init`) are the user tower's output for the user's first train row ('tower'), or
// the mean of the item encodings of the user's train positives ('history-mean'; users with train rows but no
// positive get the tower's output); users without train rows (cold users) are scored by the tower at evaluation and
// serving. `warmupEpochs` N trains the first N epochs with two-sided backpropagation (the user tower's output with
// its gradient, every parameter optimised, no stored encodings), then initialises the encodings from the warmed-up
// tower (or history) at the start of epoch N and switches to OneBP, nulling the gradients of user-only parameters
// so the optimizer stops moving them (whether the switch happened is read back from the state: any stored encoding).
// `positives` K adds K extra positives per positive row, drawn uniformly from the user's train positives (the
// row's item itself when it is the only one); each positive gets its own InfoNCE term against the row's N negatives
// (this project's reading of the authors' option); the moving aggregation still uses the row's own item only.
// The model must score by an inner product of same-width reps (checked by fitting score = a <u, v> + b on sampled
// pairs: DSSM, DAT, MF qualify; IntTower's max-sim and RankTower's attention do not, and LR's reps are summed, not
// multiplied), since e_u moves towards item encodings.
// `twobp` is the comparison the paper makes: the same sampled InfoNCE, the user rep from the user tower with its
// gradient, every parameter optimised (ordinary two-sided backpropagation); it works for any two-tower model.
// Shape letters: B batch, P positive rows, N negatives, K extra positives, W = K + 1 + N items per positive row,
// U users, D rep width.
import { z } from 'zod';
import { Tensor } from '../../core/tensor.js';
import { Rng } from '../../core/random.js';
import { backward, noGrad } from '../../core/tape.js';
import { scope } from '../../core/scope.js';
import * as ops from '../../core/ops/index.js';
import { buffer } from '../../nn/init.js';
import type { Batch, Dataset } from '../../data/index.js';
import { UniformSampler } from '../../data/samplers.js';
import { headOf } from '../../data/batch.js';
import type { LossOutput, RecModel } from '../../models/types.js';
import { innerProductFit } from '../../models/common/base.js';
import { TrainingStrategy, type StrategyExport, type SyncStrategyFactory } from './types.js';
import { parseConfig } from '../../util/config.js';

/** The sampling options OneBP and TwoBP share. */
const SAMPLING = {
  negatives: z.number().int().min(1).default(20).describe('N sampled negatives per positive'),
  temperature: z.number().positive().default(1).describe("temperature of the InfoNCE over the model's logits"),
  positives: z.number().int().min(0).default(0).describe("K extra positives per positive row, from the user's train positives (0: only the row's item)"),
  uniqueItems: z.boolean().default(true).describe('encode each distinct item of a step once and share its rep among the slots that drew it; '
    + 'false: one item-tower row per slot (equal for towers without batch statistics; with batch norm in training mode the '
    + "step's statistics are over distinct items, and a dropout mask is shared by a step's copies of an item)"),
};

export const OneBpConfigSchema = z.strictObject({
  beta: z.number().min(0).lt(1).default(0.99).describe('beta of the moving aggregation (the paper suggests 0.999 for larger sets)'),
  ...SAMPLING,
  init: z.enum(['tower', 'history-mean']).default('tower')
    .describe("initial encodings: the user tower's output, or the mean encoding of the user's train positive items"),
  warmupEpochs: z.number().int().min(0).default(0).describe('epochs of two-sided backpropagation before the switch to OneBP (encodings initialised then)'),
});
export type OneBpConfig = z.input<typeof OneBpConfigSchema>;

export const ONEBP_DEFAULTS: Required<OneBpConfig> = OneBpConfigSchema.parse({});

/** InfoNCE over each positive row's item and N uniform negatives; subclasses say where the user reps come from. */
abstract class SampledInfoNce extends TrainingStrategy {
  private readonly rng: Rng;
  /** Uniform over the items seen in train, avoiding the user's train items (10 tries, then any). */
  private readonly negatives: UniformSampler;
  /** Per user entity: its train positive items (sorted, unique). */
  protected readonly liked: Int32Array[];
  protected itemBatch: Batch;

  constructor(model: RecModel, protected readonly data: Dataset,
    private readonly sampling: { negatives: number; temperature: number; positives: number; uniqueItems: boolean }, rng: Rng, kind: string) {
    super();
    if (!model.twoTower || !model.encodeUser || !model.encodeItem || !model.score) throw new Error(`${kind}: '${model.kind}' is not a two-tower model (it needs encodeUser, encodeItem and score)`);
    this.rng = this.addRng('negatives', rng);
    this.negatives = new UniformSampler(data.trainItemCounts(), { rng: this.rng, exclude: data.trainUserItems(), maxTries: 10 });
    this.liked = trainPositives(data);
    this.itemBatch = data.itemBatch(4096);
  }

  override onlineRefusal(): string {
    return `its negatives and extra positives come from each user's offline train interactions${this.kind === 'onebp' ? ' and its stored encodings are indexed by the offline users' : ''}`;
  }

  /** User reps [P*W, U] for the slots: slot k belongs to batch row rows[k], user entity users[k]. */
  protected abstract usersOf(model: RecModel, batch: Batch, users: Int32Array, rows: Int32Array): Tensor;

  /** Item reps [S, D] of the slots' items: each distinct item encoded once and gathered (uniqueItems), or one row per slot. */
  private encodeSlots(model: RecModel, items: Int32Array): Tensor {
    let ids = items;
    let slotOf: Int32Array | null = null;
    if (this.sampling.uniqueItems) {
      const at = new Map<number, number>();
      slotOf = new Int32Array(items.length);
      for (let s = 0; s < items.length; s++) {
        let j = at.get(items[s]);
        if (j === undefined) at.set(items[s], (j = at.size));
        slotOf[s] = j;
      }
      ids = Int32Array.from(at.keys());
    }
    if (ids.length > this.itemBatch.size) this.itemBatch = this.data.itemBatch(ids.length); // grows to the largest step once
    const v = model.encodeItem!(this.data.fillItems(this.itemBatch, ids, ids.length));
    return slotOf ? ops.gather(v, Tensor.from(slotOf, [slotOf.length])) : v;
  }

  /** One extra positive for user u: uniform over the user's train positives, avoiding `item` when there is another. */
  private extraPositive(u: number, item: number): number {
    const liked = this.liked[u];
    if (!liked || liked.length === 0 || (liked.length === 1 && liked[0] === item)) return item;
    let it = liked[this.rng.int(liked.length)];
    while (it === item) it = liked[this.rng.int(liked.length)];
    return it;
  }

  override loss(model: RecModel, batch: Batch): LossOutput {
    const { negatives: N, temperature, positives: K } = this.sampling;
    const pos: number[] = [];
    for (let b = 0; b < batch.size; b++) if (batch.label[b] > 0.5) pos.push(b);
    const P = pos.length, W = K + 1 + N;
    if (P === 0) {
      const zero = ops.scale(ops.sumAll(model.encodeItem!(headOf(batch, 1))), 0);
      return { loss: zero, logits: Tensor.zeros([batch.size]), parts: { infoNCE: 0 } };
    }
    const items = new Int32Array(P * W);
    const users = new Int32Array(P * W);
    const rows = new Int32Array(P * W);
    pos.forEach((b, p) => {
      items[p * W] = batch.item[b];
      for (let j = 1; j <= K; j++) items[p * W + j] = this.extraPositive(batch.user[b], batch.item[b]);
      this.negatives.sample([batch.user[b]], 1, N, items.subarray(p * W + K + 1, p * W + W));
      users.fill(batch.user[b], p * W, p * W + W);
      rows.fill(b, p * W, p * W + W);
    });
    const v = this.encodeSlots(model, items); // [P*W, D]
    let logits = ops.reshape(model.score!(this.usersOf(model, batch, users, rows), ops.reshape(v, [P * W, -1])), [P, W]);
    let R = P;
    if (K > 0) {
      // [P*(K+1), 1 + N]: each of a row's K + 1 positives against the row's N negatives.
      R = P * (K + 1);
      const at = new Int32Array(R * (N + 1));
      for (let p = 0; p < P; p++) {
        for (let j = 0; j <= K; j++) {
          const o = (p * (K + 1) + j) * (N + 1);
          at[o] = p * W + j;
          for (let n = 0; n < N; n++) at[o + 1 + n] = p * W + K + 1 + n;
        }
      }
      logits = ops.reshape(ops.gather(ops.reshape(logits, [P * W, 1]), Tensor.from(at, [at.length])), [R, N + 1]);
    }
    const nce = ops.softmaxCrossEntropy(ops.scale(logits, 1 / temperature), Tensor.from(new Int32Array(R), [R]));
    return { loss: nce, logits: Tensor.zeros([batch.size]), parts: { infoNCE: nce.item() } };
  }
}

export class OneBp extends SampledInfoNce {
  readonly kind = 'onebp';
  /** [U, D] stored user encodings. */
  readonly encodings: Tensor;
  /** [U] 1 where the user has a stored encoding (else the tower scores it: a cold user). */
  readonly known: Tensor;

  /** Names of the parameters the item tower's output depends on (the only ones OneBP optimises). */
  private itemSide: Set<string> | null = null;

  constructor(model: RecModel, data: Dataset, readonly config: Required<OneBpConfig>, rng: Rng) {
    super(model, data, config, rng, 'onebp');
    const D = OneBp.checkInnerProduct(model, data);
    this.encodings = this.addBuffer('encodings', buffer([data.userCount, D]));
    this.known = this.addBuffer('known', buffer([data.userCount]));
    if (config.warmupEpochs === 0) this.initialise(model);
  }

  /** False during the two-sided warm-up: no user has a stored encoding yet (the state a checkpoint restores). */
  get switched(): boolean {
    return this.known.f.some((x) => x > 0);
  }

  /** Initial encodings of every user with train rows, by `init`. */
  private initialise(model: RecModel): void {
    this.initFromTower(model);
    if (this.config.init === 'history-mean') this.initFromHistory(model);
  }

  /** At the end of the warm-up: encodings from the warmed-up model, and user-only parameters stop learning. */
  override startEpoch(model: RecModel, epoch: number): void {
    if (epoch < this.config.warmupEpochs || this.switched) return;
    this.initialise(model);
    const item = this.itemParameters(model);
    for (const [n, t] of model.namedParameters()) {
      if (item.has(n)) continue;
      t.grad = null; // the optimizer skips a parameter without a gradient; none reaches it any more
      t.sparseGrad = null;
    }
  }

  /** e_u <- mean of encodeItem over the user's train positive items (users with none keep what they have). */
  private initFromHistory(model: RecModel): void {
    const D = this.encodings.shape[1];
    const N = this.data.itemCount;
    const all = new Float32Array(N * D);
    model.eval();
    noGrad(() => {
      for (let i0 = 0; i0 < N; i0 += 4096) {
        const n = Math.min(4096, N - i0);
        scope(() => {
          const v = model.encodeItem!(this.data.fillItems(this.data.itemBatch(n), Int32Array.from({ length: n }, (_, k) => i0 + k)));
          all.set(v.f.subarray(0, n * D), i0 * D);
        });
      }
    });
    model.train();
    const e = this.encodings.f;
    this.liked.forEach((items, u) => {
      if (items.length === 0) return;
      const o = u * D;
      e.fill(0, o, o + D);
      for (const it of items) for (let d = 0; d < D; d++) e[o + d] += all[it * D + d];
      for (let d = 0; d < D; d++) e[o + d] /= items.length;
      this.known.f[u] = 1;
    });
  }

  /** The rep width D, after checking that scores are an increasing affine function of <u, v> with equal widths. */
  private static checkInnerProduct(model: RecModel, data: Dataset): number {
    const batch = data.batches('train', { batchSize: 256, shuffle: false }).epoch(0).next().value as Batch;
    const fit = noGrad(() => scope(() => {
      model.eval();
      const u = model.encodeUser!(batch), v = model.encodeItem!(batch);
      if (u.shape[1] !== v.shape[1]) return { d: -1, ok: false };
      const s = model.score!(u, v);
      return { d: u.shape[1], ok: innerProductFit(u.f, v.f, u.shape[1], s.f) !== null };
    }));
    model.train();
    if (!fit.ok) throw new Error(`onebp: '${model.kind}' does not score by an inner product of same-width user and item reps, so user encodings cannot move towards item encodings`);
    return fit.d;
  }

  /** e_u <- the user tower's output for the user's first train row. */
  private initFromTower(model: RecModel): void {
    const rows = this.data.splits.train;
    const first = new Map<number, number>();
    for (const r of rows) if (!first.has(this.data.rowUser[r])) first.set(this.data.rowUser[r], r);
    const D = this.encodings.shape[1];
    const ids = Int32Array.from(first.values());
    model.eval();
    noGrad(() => {
      for (const batch of this.data.batches(ids, { batchSize: 1024, shuffle: false }).epoch(0)) {
        scope(() => {
          const u = model.encodeUser!(batch);
          for (let b = 0; b < batch.size; b++) {
            this.encodings.f.set(u.f.subarray(b * D, b * D + D), batch.user[b] * D);
            this.known.f[batch.user[b]] = 1;
          }
        });
      }
    });
    model.train();
  }

  /** The parameters the item tower's output depends on (a gradient probe of encodeItem; computed once). */
  private itemParameters(model: RecModel): Set<string> {
    if (this.itemSide) return this.itemSide;
    const batch = this.data.batches('train', { batchSize: 64, shuffle: false }).epoch(0).next().value as Batch;
    const all = model.namedParameters();
    const saved = all.map(([, t]) => [t.grad, t.sparseGrad] as const);
    for (const [, t] of all) { t.grad = null; t.sparseGrad = null; }
    scope(() => backward(ops.sumAll(model.encodeItem!(batch))));
    this.itemSide = new Set(all.filter(([, t]) => t.grad !== null || t.sparseGrad !== null).map(([n]) => n));
    all.forEach(([, t], i) => { t.grad = saved[i][0]; t.sparseGrad = saved[i][1]; });
    return this.itemSide;
  }

  /** Only item-side parameters learn (every parameter during a two-sided warm-up; user-only ones stop at the switch). */
  override trainable(model: RecModel): [string, Tensor][] {
    const item = this.itemParameters(model);
    const all = model.namedParameters();
    return this.config.warmupEpochs > 0 ? all : all.filter(([n]) => item.has(n));
  }

  /** Stored encodings, held constant: no gradient reaches the user side (the tower with its gradient during a warm-up). */
  protected override usersOf(model: RecModel, batch: Batch, users: Int32Array, rows: Int32Array): Tensor {
    if (!this.switched) return ops.gather(model.encodeUser!(batch), Tensor.from(rows, [rows.length]));
    return ops.gather(this.encodings, Tensor.from(users, [users.length]));
  }

  /** e_u <- beta e_u + (1 - beta) e_i+ with the positive items' encodings after the update. */
  override afterStep(model: RecModel, batch: Batch): void {
    if (!this.switched) return; // two-sided warm-up
    const { beta } = this.config;
    const pos: number[] = [];
    for (let b = 0; b < batch.size; b++) if (batch.label[b] > 0.5) pos.push(b);
    if (pos.length === 0) return;
    const D = this.encodings.shape[1];
    const e = this.encodings.f;
    model.eval();
    noGrad(() => scope(() => {
      const v = model.encodeItem!(this.data.fillItems(this.itemBatch, Int32Array.from(pos, (b) => batch.item[b]))).f;
      pos.forEach((b, p) => {
        const o = batch.user[b] * D;
        for (let d = 0; d < D; d++) e[o + d] = beta * e[o + d] + (1 - beta) * v[p * D + d];
        this.known.f[batch.user[b]] = 1;
      });
    }));
    model.train();
  }

  /** Stored encodings for known users, the user tower for cold ones: [B, D]. */
  override userReps(model: RecModel, batch: Batch): Tensor {
    const D = this.encodings.shape[1];
    const tower = model.encodeUser!(batch);
    const u = new Float32Array(batch.size * D);
    for (let b = 0; b < batch.size; b++) {
      const id = batch.user[b];
      u.set(this.known.f[id] ? this.encodings.f.subarray(id * D, id * D + D) : tower.f.subarray(b * D, b * D + D), b * D);
    }
    return Tensor.from(u, [batch.size, D]);
  }

  override forward(model: RecModel, batch: Batch): Tensor {
    return model.score!(this.userReps(model, batch), model.encodeItem!(batch));
  }

  /** The stored encodings of every user that has one, by user key; the rest (cold users) are served by the tower.
   * None during a warm-up (a best checkpoint from a two-sided epoch): nothing is added. */
  override bundleExport(_model: RecModel, data: Dataset): StrategyExport | null {
    const D = this.encodings.shape[1];
    const users: number[] = [];
    for (let u = 0; u < data.userCount; u++) if (this.known.f[u]) users.push(u);
    if (users.length === 0) return null; // still in the two-sided warm-up: the tower serves every user, as in evaluation
    const out = new Float32Array(users.length * D);
    users.forEach((u, k) => out.set(this.encodings.f.subarray(u * D, u * D + D), k * D));
    return { userEncodings: { keys: users.map((u) => data.userKeys[u]), dim: D, data: out }, info: { config: { ...this.config }, cold: 'tower' } };
  }
}

/** The same sampled InfoNCE with the user tower's output and its gradient: ordinary two-sided backpropagation. */
export class TwoBp extends SampledInfoNce {
  readonly kind = 'twobp';

  constructor(model: RecModel, data: Dataset, readonly config: Required<TwoBpConfig>, rng: Rng) {
    super(model, data, config, rng, 'twobp');
  }

  protected override usersOf(model: RecModel, batch: Batch, _users: Int32Array, rows: Int32Array): Tensor {
    return ops.gather(model.encodeUser!(batch), Tensor.from(rows, [rows.length]));
  }
}

export const TwoBpConfigSchema = z.strictObject(SAMPLING);
export type TwoBpConfig = z.input<typeof TwoBpConfigSchema>;
export const TWOBP_DEFAULTS: Required<TwoBpConfig> = TwoBpConfigSchema.parse({});

/** Per user entity: the items of its positive train rows (sorted, unique). */
function trainPositives(data: Dataset): Int32Array[] {
  const lists: number[][] = Array.from({ length: data.userCount }, () => []);
  for (const r of data.splits.train) if (data.label[r] > 0.5) lists[data.rowUser[r]].push(data.rowItem[r]);
  return lists.map((l) => Int32Array.from(new Set(l)).sort());
}

export const createOneBp: SyncStrategyFactory<OneBpConfig> = (ctx, config) => {
  return new OneBp(ctx.model, ctx.data, parseConfig(OneBpConfigSchema, config ?? {}, 'onebp', 'onebp config'), ctx.rng);
};

export const createTwoBp: SyncStrategyFactory<TwoBpConfig> = (ctx, config) => {
  return new TwoBp(ctx.model, ctx.data, parseConfig(TwoBpConfigSchema, config ?? {}, 'twobp', 'twobp config'), ctx.rng);
};
