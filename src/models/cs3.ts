// CS3 (Capability Synergy, arXiv 2604.22761), parts 1 and 2, as THIS PROJECT'S INTERPRETATION: the paper was
// withdrawn and only a summary is public; no equation here is the authors'.
// A wrapper model ('cs3') around any registered two-tower model whose towers embed their fields with one
// FieldEmbedder (DSSM, IntTower...); the base model's file is untouched. It hooks the embedder's field transform:
//   1. Cycle-adaptive structure (`cycle`): each tower encodes twice with shared weights. Pass 1 gives the rep r1;
//      a small gate MLP per tower (r1 -> hidden, ReLU -> F) gives g = 2 sigmoid(.) per field (1 at a zero logit,
//      in (0, 2)), and pass 2 re-weights the field embeddings by g (adaptive feature denoising). Towers stay
//      independent: each side's gates come from that side's own pass 1.
//   2. Cross-tower synchronisation (`sync`): buffers keep the EMA (beta) of the batch mean of each tower's
//      L2-normalised rep, updated once per training step (loss()) from that step's reps, like batch norm's running
//      statistics; frozen outside training, so they are part of the exported weights and serving stays decoupled.
//      Each tower receives the other tower's statistic as an additive input: shift = s_other W reshaped [F, D]
//      added to its field embeddings (W zero-initialised, learned). An alignment loss, weight `weight`, pulls the two
//      distributions together: ||mean(u) - mean(v)||^2 + ||u^T u / B - v^T v / B||_F^2 over row-normalised reps
//      (when the user rep is wider, as IntTower's L layers of heads, its last I columns: the last layer's heads).
// Pass-2 input = e * g + shift; pass-1 input = e + shift. Batch norm inside the towers sees both passes in training,
// so its running statistics average them (documented in docs/STRATEGIES.md). Serving: the base model's plan runs
// twice in one arena (relocated steps), with a native 'fieldGate' step between the passes.
// Longer than a model file's ~200 lines: two parts (cycle, sync), each changing the field transform, the loss and
// the serving plan of whichever model it wraps; the rep statistics it uses are in common/rep-stats.ts.
// Shape letters: B batch, F fields of a side, D embedding dim, U/I user/item rep widths, W the other side's width.
import { z } from 'zod';
import { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/tape.js';
import { scope } from '../core/scope.js';
import * as ops from '../core/ops/index.js';
import { Linear, type Mlp } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { buffer } from '../nn/init.js';
import type { Batch } from '../data/index.js';
import type { LossOutput, ModelContext, RecModel } from './types.js';
import { dssm } from './dssm.js';
import { FieldEmbedder, ITEM_SIDE, USER_SIDE, flatWidth, type Source } from './common/field-embedder.js';
import { makeMlp } from './common/layers.js';
import { own } from '../util/own.js';
import { PlanBuilder, floats, relocate, type UserServingPlan } from './common/serving.js';
import { alignment, meanNormalizedRow, repWidths } from './common/rep-stats.js';
import { defineModel } from './define.js';

const Cs3CycleSchema = z.strictObject({ hidden: z.number().int().positive().default(32).describe("width of the gate MLP's hidden layer") });
const Cs3SyncSchema = z.strictObject({
  beta: z.number().min(0).lt(1).default(0.99).describe("beta of the EMA of each tower's mean normalised rep"),
  weight: z.number().min(0).default(0.1).describe('weight of the alignment loss (0: statistics and their input only)'),
});
export type Cs3CycleConfig = z.input<typeof Cs3CycleSchema>;
export type Cs3SyncConfig = z.input<typeof Cs3SyncSchema>;

/** The registered two-tower model CS3 wraps and its config (checked against that model's schema by the registry). */
const Cs3ConfigSchema = z.strictObject({
  base: z.string({ error: 'must name a registered two-tower model (e.g. "dssm", "int-tower")' })
    .refine((b) => b !== 'cs3', 'the base cannot be cs3 itself'),
  config: z.record(z.string(), z.unknown()).default({}).describe("the base model's config ({} = its defaults)"),
  cycle: z.union([z.boolean(), Cs3CycleSchema]).default(false).describe('part 1, cycle-adaptive structure (true = defaults)'),
  sync: z.union([z.boolean(), Cs3SyncSchema]).default(false).describe('part 2, cross-tower synchronisation (true = defaults)'),
});
/** `base` is required; optional in the type so any config object type-checks against the factory. */
export type Cs3Config = Partial<z.input<typeof Cs3ConfigSchema>>;

export const CS3_CYCLE_DEFAULTS: Required<Cs3CycleConfig> = Cs3CycleSchema.parse({});
export const CS3_SYNC_DEFAULTS: Required<Cs3SyncConfig> = Cs3SyncSchema.parse({});

/** One tower's CS3 parts. */
interface Side {
  name: 'user' | 'item';
  sources: readonly Source[];
  /** F: embedded fields of this side. */
  fields: number;
  /** Width of this side's rep. */
  width: number;
  encode: (batch: Batch) => Tensor;
  /** Cycle: rep -> F gate logits. */
  gate: Mlp | null;
  /** Sync: the other side's statistic [W] -> shift [F*D] (no bias). */
  proj: Linear | null;
  /** Sync: EMA of this side's mean normalised rep [width]. */
  mean: Tensor | null;
  /** True while pass 1 runs (its embed() call gets no gates). */
  inPass1: boolean;
}

/** A part's options: true = its defaults, false = off. */
function partConfig<C extends object>(v: boolean | Required<C>, defaults: Required<C>): Required<C> | null {
  return v === false ? null : v === true ? { ...defaults } : v;
}

const sameSources = (a: readonly Source[], b: readonly Source[]): boolean => a.length === b.length && a.every((s) => b.includes(s));

/** The one FieldEmbedder of width > 1 a model embeds its fields with (throws, naming the model, when not exactly one). */
export function fieldEmbedderOf(model: Module & { kind: string }, who: string): FieldEmbedder {
  const found = model.namedModules().filter(([, m]) => m instanceof FieldEmbedder && m.dim > 1) as [string, FieldEmbedder][];
  if (found.length !== 1) throw new Error(`${who}: '${model.kind}' must embed its fields with exactly one FieldEmbedder (found ${found.length}: ${found.map(([n]) => n || '(root)').join(', ')})`);
  return found[0][1];
}

export class Cs3 extends Module implements RecModel {
  readonly kind = 'cs3';
  readonly twoTower = true;
  readonly base: RecModel;
  readonly embedder: FieldEmbedder;
  readonly cycle: Required<Cs3CycleConfig> | null;
  readonly sync: Required<Cs3SyncConfig> | null;
  readonly user: Side;
  readonly item: Side;
  /** Sync: training steps the statistics have seen ([1]; 0 = none yet: the statistics are zeros, so is the shift). */
  readonly syncSteps: Tensor | null;

  constructor(ctx: ModelContext, readonly config: z.output<typeof Cs3ConfigSchema>, base: RecModel) {
    super();
    this.cycle = partConfig(config.cycle, CS3_CYCLE_DEFAULTS);
    this.sync = partConfig(config.sync, CS3_SYNC_DEFAULTS);
    if (!base.twoTower || !base.encodeUser || !base.encodeItem || !base.score) throw new Error(`cs3: '${base.kind}' is not a two-tower model (it needs encodeUser, encodeItem and score)`);
    this.base = this.addModule('base', base);
    if (base.scoreCross) this.scoreCross = (u, v) => base.scoreCross!(u, v);
    if (base.anchoredVectors) this.anchoredVectors = (side, reps, anchor) => base.anchoredVectors!(side, reps, anchor);
    this.embedder = fieldEmbedderOf(base, 'cs3');
    const widths = repWidths(base, ctx);
    const side = (name: 'user' | 'item', sources: readonly Source[], width: number): Side => {
      const fields = this.embedder.fieldsOf(sources).length;
      if (fields === 0 && (this.cycle || this.sync)) throw new Error(`cs3: '${base.kind}' has no embedded ${name} fields to gate or shift`);
      return { name, sources, fields, width, encode: name === 'user' ? (b) => base.encodeUser!(b) : (b) => base.encodeItem!(b), gate: null, proj: null, mean: null, inPass1: false };
    };
    this.user = side('user', USER_SIDE, widths.user);
    this.item = side('item', ITEM_SIDE, widths.item);
    const D = this.embedder.dim;
    for (const s of [this.user, this.item]) {
      if (this.cycle) s.gate = this.addModule(`${s.name}Gate`, makeMlp(s.width, { dims: [this.cycle.hidden, s.fields], batchNorm: false, dropout: 0, lastAct: 'none' }, ctx.rng, 'default'));
    }
    if (this.sync) {
      if (widths.user < widths.item) throw new Error(`cs3 sync: the user rep (${widths.user} wide) is narrower than the item rep (${widths.item}); the alignment compares the item rep with the user rep's last ${widths.item} columns`);
      for (const [s, other] of [[this.user, this.item], [this.item, this.user]] as const) {
        s.proj = this.addModule(`${s.name}Sync`, new Linear(other.width, s.fields * D, ctx.rng, { bias: false, init: 'zeros' }));
        s.mean = this.addBuffer(`${s.name}Mean`, buffer([s.width]));
      }
    }
    this.syncSteps = this.sync ? this.addBuffer('syncSteps', buffer([1])) : null;
    if (this.cycle || this.sync) this.embedder.transform = (e, batch, sources) => this.rewrite(e, batch, sources);
  }

  /** The field transform: e [B, F, D] -> e * g + shift (pass 2), e + shift (pass 1 or no cycle). */
  private rewrite(e: Tensor, batch: Batch, sources: readonly Source[]): Tensor {
    const s = sameSources(sources, this.user.sources) ? this.user : sameSources(sources, this.item.sources) ? this.item : null;
    if (!s) return e;
    const [B, F, D] = e.shape;
    let x = e;
    if (s.gate && !s.inPass1) {
      const g = this.gatesOf(s, batch); // [B, F]
      x = ops.reshape(ops.mul(ops.reshape(x, [B * F, D]), ops.reshape(g, [B * F, 1])), [B, F, D]); // a per-row scale
    }
    const shift = this.shiftOf(s); // [1, F*D]
    return shift ? ops.reshape(ops.add(ops.reshape(x, [B, F * D]), shift), [B, F, D]) : x; // a per-column add
  }

  /** Cycle gates [B, F] of one side: 2 sigmoid(gate MLP(pass-1 rep)). */
  private gatesOf(s: Side, batch: Batch): Tensor {
    s.inPass1 = true;
    let r1: Tensor;
    try {
      r1 = s.encode(batch);
    } finally {
      s.inPass1 = false;
    }
    return ops.scale(ops.sigmoid(s.gate!.forward(r1)), 2);
  }

  /** Sync shift [1, F*D] of one side from the other side's (constant) statistic (zeros before the first step). */
  private shiftOf(s: Side): Tensor | null {
    if (!s.proj) return null;
    const other = s === this.user ? this.item : this.user;
    return s.proj.forward(Tensor.from(other.mean!.f, [1, other.width]));
  }

  /** The gates one side gives a batch ([B, F], no tape): what pass 2 multiplies the field embeddings by. */
  gates(side: 'user' | 'item', batch: Batch): Float32Array {
    const s = side === 'user' ? this.user : this.item;
    if (!s.gate) throw new Error('cs3: the cycle part is off');
    return noGrad(() => scope(() => Float32Array.from(this.gatesOf(s, batch).f)));
  }

  encodeUser(batch: Batch): Tensor {
    return this.base.encodeUser!(batch);
  }

  encodeItem(batch: Batch): Tensor {
    return this.base.encodeItem!(batch);
  }

  score(userReps: Tensor, itemReps: Tensor): Tensor {
    return this.base.score!(userReps, itemReps);
  }

  /** The base model's, when it has one. */
  readonly scoreCross?: (userReps: Tensor, itemReps: Tensor) => Tensor;

  /** The base model's, when it has one. */
  readonly anchoredVectors?: (side: 'user' | 'item', reps: Float32Array, anchor: Float32Array) => Float32Array;

  forward(batch: Batch): Tensor {
    return this.base.forward(batch);
  }

  loss(batch: Batch): LossOutput {
    const out = this.base.loss(batch);
    if (!this.sync) return out;
    if (!out.reps) throw new Error(`cs3 sync: '${this.base.kind}'.loss() does not return its reps`);
    const { user, item } = out.reps;
    let loss = out.loss;
    const parts = { ...out.parts };
    if (this.sync.weight > 0) {
      const align = ops.scale(alignment(user, item), this.sync.weight);
      loss = ops.add(loss, align);
      parts.align = align.item();
    }
    if (this.training) this.updateStatistics(user, item);
    return { loss, logits: out.logits, parts, reps: out.reps };
  }

  /** s <- beta s + (1 - beta) mean_b(r_b / ||r_b||) for both sides (the first step sets s). */
  private updateStatistics(user: Tensor, item: Tensor): void {
    const first = this.syncSteps!.f[0] === 0;
    const beta = first ? 0 : this.sync!.beta;
    for (const [s, r] of [[this.user, user], [this.item, item]] as const) {
      const m = meanNormalizedRow(r);
      const stat = s.mean!.f;
      for (let j = 0; j < m.length; j++) stat[j] = beta * stat[j] + (1 - beta) * m[j];
    }
    this.syncSteps!.f[0] += 1;
  }

  /**
   * The base model's plan with CS3 applied: raw input -> [fieldGate: + shift] -> pass 1 -> [gate MLP -> fieldGate:
   * raw * g + shift -> pass 2]; every pass is the base plan relocated into its own arena region. Throws (the tensor
   * path then serves) when the base has no plan or its input is not the embedder's row.
   */
  servingPlan(): UserServingPlan {
    if (!this.base.servingPlan) throw new Error(`cs3: '${this.base.kind}' has no serving plan`);
    const inner = this.base.servingPlan();
    if (!this.cycle && !this.sync) return inner;
    const s = inner.spec;
    const F = this.user.fields, D = this.embedder.dim;
    if (s.input !== flatWidth(this.embedder, USER_SIDE)) throw new Error(`cs3: '${this.base.kind}'s plan input (${s.input} floats) is not its user fields' row (${flatWidth(this.embedder, USER_SIDE)})`);
    const shift = noGrad(() => scope(() => {
      const t = this.shiftOf(this.user);
      return t ? Float32Array.from(t.f) : null;
    }));
    const p = new PlanBuilder(s.input);
    const tail = s.input - F * D;
    const pass = (gate: number | null): number => {
      const at = p.alloc(s.arena);
      p.steps.push({ op: 'fieldGate', src: 0, dst: at, gate, fields: F, dim: D, tail, scale: 2, shift });
      p.steps.push(...relocate(s.steps, at));
      return at + s.repOffset;
    };
    let rep = pass(null);
    if (this.user.gate) {
      const outs = p.mlp(this.user.gate, rep);
      rep = pass(outs[outs.length - 1]);
    }
    return { spec: p.finish(rep, s.repLength, s.score), writeInput: inner.writeInput };
  }
}

export const cs3 = defineModel({
  kind: 'cs3',
  summary: "CS3 (this project's interpretation): cycle gates and cross-tower sync around another two-tower model",
  config: Cs3ConfigSchema,
  tiny: { base: 'dssm', config: { ...dssm.tiny }, cycle: true, sync: true },
  serving: 'plan',
  wraps: { kind: 'base', config: 'config' },
  create: (ctx, c, models) => {
    const factory = own(models, c.base);
    if (!factory) throw new Error(`cs3: unknown base model '${c.base}' (registered: ${Object.keys(models).join(', ')})`);
    return new Cs3(ctx, c, factory(ctx, c.config));
  },
});
