// One Backpropagation (OneBP; arXiv 2403.18227, and the authors' code as summarised in shared/papers/NOTES.md): the
// user tower gets no gradient. Each user keeps a stored encoding e_u; the loss is InfoNCE over the row's positive
// item and N items the user never interacted with in train (uniform over the items seen in train), scored with e_u
// held constant, so only item-side parameters learn. Right after each optimizer step, e_u <- beta e_u + (1 - beta)
// e_i+ with the positive item's freshly updated encoding (moving aggregation).
// Decisions: initial encodings are the user tower's output for the user's first train row (then users without train
// rows, i.e. cold users, are scored by the tower at evaluation); the model must score by an inner product of
// same-width reps (checked by fitting score = a <u, v> + b on sampled pairs: DSSM, DAT, MF qualify; IntTower's
// max-sim and RankTower's attention do not, and LR's reps are summed, not multiplied), since e_u moves towards item
// encodings. Extra positives per user (an option in the authors' code) are not implemented.
// `twobp` is the comparison the paper makes: the same sampled InfoNCE, the user rep from the user tower with its
// gradient, every parameter optimised (ordinary two-sided backpropagation); it works for any two-tower model.
// Shape letters: B batch, P positive rows, N negatives, W = N + 1 items per positive, U users, D rep width.
import { Tensor } from '../../core/tensor.js';
import { Rng } from '../../core/random.js';
import { backward, noGrad } from '../../core/tape.js';
import { scope } from '../../core/scope.js';
import * as ops from '../../core/ops/index.js';
import { buffer } from '../../nn/init.js';
import type { Batch, Dataset } from '../../data/index.js';
import { headOf } from '../../data/batch.js';
import type { LossOutput, RecModel } from '../../models/types.js';
import { innerProductFit } from '../../models/common/base.js';
import { TrainingStrategy, type SyncStrategyFactory } from './types.js';

export interface OneBpConfig {
  /** beta of the moving aggregation (0.99; the paper suggests 0.999 for larger sets). */
  beta?: number;
  /** N sampled negatives per positive. */
  negatives?: number;
  /** Temperature of the InfoNCE over the model's logits. */
  temperature?: number;
}

export const ONEBP_DEFAULTS: Required<OneBpConfig> = { beta: 0.99, negatives: 20, temperature: 1 };

/** InfoNCE over each positive row's item and N uniform negatives; subclasses say where the user reps come from. */
abstract class SampledInfoNce extends TrainingStrategy {
  private readonly rng: Rng;
  private readonly pool: Int32Array;
  private readonly seen: Int32Array[];
  protected itemBatch: Batch;

  constructor(model: RecModel, protected readonly data: Dataset, private readonly sampling: { negatives: number; temperature: number }, rng: Rng, kind: string) {
    super();
    if (!model.twoTower || !model.encodeUser || !model.encodeItem || !model.score) throw new Error(`${kind}: '${model.kind}' is not a two-tower model (it needs encodeUser, encodeItem and score)`);
    this.rng = this.addRng('negatives', rng);
    const counts = data.trainItemCounts();
    this.pool = Int32Array.from({ length: counts.length }, (_, i) => i).filter((i) => counts[i] > 0);
    this.seen = data.trainUserItems();
    this.itemBatch = data.itemBatch(4096);
  }

  /** User reps [P*W, U] for the slots: slot k belongs to batch row rows[k], user entity users[k]. */
  protected abstract usersOf(model: RecModel, batch: Batch, users: Int32Array, rows: Int32Array): Tensor;

  /** One uniform negative for user u among train items the user has not interacted with (10 tries, then any). */
  private negative(u: number): number {
    const avoid = this.seen[u];
    let it = this.pool[this.rng.int(this.pool.length)];
    for (let t = 1; t < 10 && avoid && contains(avoid, it); t++) it = this.pool[this.rng.int(this.pool.length)];
    return it;
  }

  override loss(model: RecModel, batch: Batch): LossOutput {
    const { negatives: N, temperature } = this.sampling;
    const pos: number[] = [];
    for (let b = 0; b < batch.size; b++) if (batch.label[b] > 0.5) pos.push(b);
    const P = pos.length, W = N + 1;
    if (P === 0) {
      const zero = ops.scale(ops.sumAll(model.encodeItem!(headOf(batch, 1))), 0);
      return { loss: zero, logits: Tensor.zeros([batch.size]), parts: { infoNCE: 0 } };
    }
    if (P * W > this.itemBatch.size) this.itemBatch = this.data.itemBatch(P * W); // grows to the largest batch once
    const items = new Int32Array(P * W);
    const users = new Int32Array(P * W);
    const rows = new Int32Array(P * W);
    pos.forEach((b, p) => {
      items[p * W] = batch.item[b];
      for (let j = 1; j < W; j++) items[p * W + j] = this.negative(batch.user[b]);
      users.fill(batch.user[b], p * W, p * W + W);
      rows.fill(b, p * W, p * W + W);
    });
    const v = model.encodeItem!(this.data.fillItems(this.itemBatch, items, P * W)); // [P*W, D]
    const logits = ops.reshape(model.score!(this.usersOf(model, batch, users, rows), ops.reshape(v, [P * W, -1])), [P, W]);
    const nce = ops.softmaxCrossEntropy(ops.scale(logits, 1 / temperature), Tensor.from(new Int32Array(P), [P]));
    return { loss: nce, logits: Tensor.zeros([batch.size]), parts: { infoNCE: nce.item() } };
  }
}

export class OneBp extends SampledInfoNce {
  readonly kind = 'onebp';
  /** [U, D] stored user encodings. */
  readonly encodings: Tensor;
  /** [U] 1 where the user has a stored encoding (else the tower scores it: a cold user). */
  readonly known: Tensor;

  constructor(model: RecModel, data: Dataset, readonly config: Required<OneBpConfig>, rng: Rng) {
    super(model, data, config, rng, 'onebp');
    const D = OneBp.checkInnerProduct(model, data);
    this.encodings = this.addBuffer('encodings', buffer([data.userCount, D]));
    this.known = this.addBuffer('known', buffer([data.userCount]));
    this.initFromTower(model);
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

  /** Only item-side parameters learn: those the item tower's output depends on. */
  override trainable(model: RecModel): [string, Tensor][] {
    const batch = this.data.batches('train', { batchSize: 64, shuffle: false }).epoch(0).next().value as Batch;
    const all = model.namedParameters();
    for (const [, t] of all) { t.grad = null; t.sparseGrad = null; }
    scope(() => backward(ops.sumAll(model.encodeItem!(batch))));
    const used = all.filter(([, t]) => t.grad !== null || t.sparseGrad !== null);
    for (const [, t] of all) { t.grad = null; t.sparseGrad = null; }
    return used;
  }

  /** Stored encodings, held constant: no gradient reaches the user side. */
  protected override usersOf(_model: RecModel, _batch: Batch, users: Int32Array, _rows: Int32Array): Tensor {
    return ops.gather(this.encodings, Tensor.from(users, [users.length]));
  }

  /** e_u <- beta e_u + (1 - beta) e_i+ with the positive items' encodings after the update. */
  override afterStep(model: RecModel, batch: Batch): void {
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

export type TwoBpConfig = Omit<OneBpConfig, 'beta'>;
export const TWOBP_DEFAULTS: Required<TwoBpConfig> = { negatives: 20, temperature: 1 };

function contains(sorted: Int32Array, x: number): boolean {
  let lo = 0, hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === x) return true;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

export const createOneBp: SyncStrategyFactory<OneBpConfig> = (ctx, config) => {
  for (const k of Object.keys(config)) if (!(k in ONEBP_DEFAULTS)) throw new Error(`unknown onebp config key '${k}' (known: ${Object.keys(ONEBP_DEFAULTS).join(', ')})`);
  return new OneBp(ctx.model, ctx.data, { ...ONEBP_DEFAULTS, ...config }, ctx.rng);
};

export const createTwoBp: SyncStrategyFactory<TwoBpConfig> = (ctx, config) => {
  for (const k of Object.keys(config)) if (!(k in TWOBP_DEFAULTS)) throw new Error(`unknown twobp config key '${k}' (known: ${Object.keys(TWOBP_DEFAULTS).join(', ')})`);
  return new TwoBp(ctx.model, ctx.data, { ...TWOBP_DEFAULTS, ...config }, ctx.rng);
};
