// IntTower (Li et al., "IntTower: the Next Generation of Two-Tower Model for Pre-Ranking System", CIKM 2022).
//   Light-SE per tower: z = mean_D e [B, F]; k = softmax(z W + b) over fields; e <- k_f e_f (sec. 4.1, eq. 3-5).
//   Towers: MLP 300-300-128, BN, dropout, ReLU on every layer (eq. 1), dense features appended after Light-SE.
//   FE-Block: every user layer's output projected to H heads of size P, the item's last layer to H heads; heads
//   L2-normalised; logit = sum over layers i and user heads a of max over item heads b of <u_a^i, v_b> + bias
//   (eq. 6-9). CIR: InfoNCE between the last-layer multi-head user rep (flattened, normalised) of each positive row
//   and the item reps of every row in the batch, temperature tau, weight lambda1 (eq. 10, 12). L2 on embeddings.
// Differs (each an option; the defaults follow the paper, except as noted):
//   - Light-SE defaults to the authors' code, e + e * softmax(z W) with W without bias ('residual'); 'paper' is the
//     paper's e * softmax(z W + b). The paper's form scales each field by a weight averaging 1/F, which slows
//     learning: on the synthetic S log (one-pass regime) it cost 0.027 test AUC against the residual form, on
//     ML-100K and ml-latest-small the two were level (docs/TUNING.md).
//   - taps 'input' is the authors' code: heads are projected from the inputs of the FC layers, not their outputs
//     (the last user layer's output is then unused, so that tower stops one layer early); 'last' (one user layer)
//     is an ablation of the multi-layer interaction.
//   - The last tower layer has ReLU but no BN or dropout (nn Mlp's convention); the authors' DNN applies
//     BN + ReLU + dropout to every layer. The logit has a learned bias, as the authors' PredictionLayer does.
//   - normalizeHeads false is the authors' code (their fe_score uses raw dot products).
//   - temperature T divides the summed max-sims before the bias (1, the default, is the paper's logit).
//   - heads 0 means H = number of user-side embedded fields (paper); the authors' MovieLens script uses H = 32, P = 64.
//   - The paper gives no values for tau and lambda1, and the authors' latest code does not use CIR: tau = 0.07
//     (their contrast_loss) and lambda1 = 0.5 are our choices (lambda1 from the ML-100K search, whose best four
//     trials had 0.3-0.73; docs/TUNING.md); cir false turns it off.
//   - Loss is mean BCE; the authors sum BCE over the batch and add 1e-5 ||E||^2 over the whole tables, here the L2
//     covers the batch's looked-up embeddings, divided by B.
//   - Serving: encodeUser returns the L layers' normalised heads [B, L*H*P], encodeItem the item heads [B, H*P].
// Shape letters: B batch, N items, F fields, D embedding dim, L tapped user layers, H heads, P head size.
import { z } from 'zod';
import { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';
import * as ops from '../core/ops/index.js';
import { Linear, type Mlp } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Batch } from '../data/index.js';
import type { ModelContext } from './types.js';
import { TOWER_DIMS, oneUser, COMMON_CONFIG, DEEP_CONFIG, widthsConfig } from './common/base.js';
import { TwoTowerModel, type TowerOutput } from './common/model-base.js';
import { ITEM_SIDE, USER_SIDE, flatInput, flatWidth, type FieldEmbedder, type Source } from './common/field-embedder.js';
import { PlanBuilder, floats, type PlanStep, type UserServingPlan } from './common/serving.js';
import { defineModel } from './define.js';

const IntTowerConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  tower: widthsConfig(TOWER_DIMS, 'tower widths (both towers)'),
  lightSe: z.enum(['paper', 'residual', 'none']).default('residual')
    .describe("'residual': e + e * softmax(zW) (authors' code); 'paper': e * softmax(zW + b); 'none': ablation"),
  taps: z.enum(['output', 'input', 'last']).default('output')
    .describe('which user representations FE-Block projects: layer outputs (paper), layer inputs (authors), last output only'),
  heads: z.number().int().min(0).default(0).describe('H; 0 = the number of user-side embedded fields'),
  headSize: z.number().int().positive().default(64).describe('P'),
  normalizeHeads: z.boolean().default(true),
  cir: z.boolean().default(true),
  cirWeight: z.number().min(0).default(0.5).describe('lambda1'),
  cirTemperature: z.number().positive().default(0.07).describe('tau'),
  temperature: z.number().positive().default(1).describe('T in logit = (sum of max-sims) / T + b'),
});
export type IntTowerConfig = z.input<typeof IntTowerConfigSchema>;

/** Light-SE over e [B, F, D] -> [B, F, D]. */
class LightSe extends Module {
  private readonly fc: Linear;

  constructor(fields: number, private readonly residual: boolean, rng: Rng) {
    super();
    this.fc = this.addModule('fc', new Linear(fields, fields, rng, { bias: !residual }));
  }

  /** The same reweighting as a serving-plan step on F fields of D floats at offset. */
  servingStep(offset: number, fields: number, dim: number): PlanStep {
    return { op: 'lightSe', offset, fields, dim, weight: floats(this.fc.weight), bias: this.fc.bias ? floats(this.fc.bias) : null, residual: this.residual };
  }

  forward(e: Tensor): Tensor {
    const [B, F] = e.shape;
    const k = ops.softmax(this.fc.forward(ops.mean(e, 2)), -1); // [B, F]
    const reweighted = ops.mul(e, ops.reshape(k, [B, F, 1]));
    return this.residual ? ops.add(e, reweighted) : reweighted;
  }
}

interface IntTowerSide extends TowerOutput {
  /** Last-layer heads [B, H*P] (for CIR). */
  last: Tensor;
}

export class IntTower extends TwoTowerModel<IntTowerSide, IntTowerSide> {
  readonly kind = 'int-tower';
  readonly heads: number;
  private readonly embed: FieldEmbedder;
  private readonly userSe: LightSe | null;
  private readonly itemSe: LightSe | null;
  private readonly userMlp: Mlp | null;
  private readonly itemMlp: Mlp;
  private readonly userProj: Linear[];
  private readonly itemProj: Linear;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<IntTowerConfig>) {
    super(config.l2Embedding);
    const { rng } = ctx;
    const c = config;
    this.embed = this.addEmbedder(ctx, c);
    const fu = this.embed.fieldsOf(USER_SIDE).length;
    const fi = this.embed.fieldsOf(ITEM_SIDE).length;
    this.heads = c.heads > 0 ? c.heads : Math.max(1, fu);
    const se = (f: number, name: string): LightSe | null =>
      c.lightSe !== 'none' && f > 0 ? this.addModule(name, new LightSe(f, c.lightSe === 'residual', rng)) : null;
    this.userSe = se(fu, 'userSe');
    this.itemSe = se(fi, 'itemSe');
    const dims = c.tower;
    const L = dims.length;
    const mlp = (sources: readonly Source[], name: string, widths: number[]): Mlp | null => {
      const width = this.inputWidth(this.embed, sources, name);
      return widths.length === 0 ? null : this.addMlp(name, width, widths, 'relu', c, rng);
    };
    // With 'input' taps the last user layer's output would be unused, so the user tower stops one layer earlier.
    this.userMlp = mlp(USER_SIDE, 'user', c.taps === 'input' ? dims.slice(0, L - 1) : dims);
    this.itemMlp = mlp(ITEM_SIDE, 'item', dims)!;
    const tapWidths = c.taps === 'output' ? dims : c.taps === 'input' ? [flatWidth(this.embed, USER_SIDE), ...dims.slice(0, L - 1)] : [dims[L - 1]];
    const hp = this.heads * c.headSize;
    this.userProj = tapWidths.map((w, i) => this.addModule(`userHead${i}`, new Linear(w, hp, rng)));
    this.itemProj = this.addModule('itemHead', new Linear(dims[L - 1], hp, rng));
    this.bias = this.addBias(rng);
  }

  /** Tower input [B, F*D + nDense] after Light-SE, and the raw field embeddings (for L2). */
  private input(batch: Batch, sources: readonly Source[], se: LightSe | null): { x: Tensor; fields: Tensor | null } {
    const fields = this.embed.embed(batch, sources); // [B, F, D]
    const refined = fields && se ? se.forward(fields) : fields;
    return { x: flatInput(refined, this.embed.dense(batch, sources)), fields };
  }

  /** [B, H*P] -> the same with every head of size P scaled to unit length. */
  private headsOf(h: Tensor): Tensor {
    if (!this.config.normalizeHeads) return h;
    const B = h.shape[0];
    return ops.reshape(ops.l2Normalize(ops.reshape(h, [B * this.heads, this.config.headSize])), [B, this.heads * this.config.headSize]);
  }

  protected userTower(batch: Batch): IntTowerSide {
    const { x, fields } = this.input(batch, USER_SIDE, this.userSe);
    const outs = this.userMlp ? this.userMlp.forwardAll(x) : [];
    const taps = this.config.taps === 'output' ? outs : this.config.taps === 'input' ? [x, ...outs] : [outs[outs.length - 1]];
    const heads = taps.map((t, i) => this.headsOf(this.userProj[i].forward(t))); // L x [B, H*P]
    const rep = heads.length === 1 ? heads[0] : ops.concat(heads, 1); // [B, L*H*P]
    return { rep, emb: [fields], last: heads[heads.length - 1] };
  }

  protected itemTower(batch: Batch): IntTowerSide {
    const { x, fields } = this.input(batch, ITEM_SIDE, this.itemSe);
    const rep = this.headsOf(this.itemProj.forward(this.itemMlp.forward(x))); // [B, H*P]
    return { rep, emb: [fields], last: rep };
  }

  /** FE-Block max-sim: userReps [N or 1, L*H*P], itemReps [N, H*P] -> [N]. */
  score(userReps: Tensor, itemReps: Tensor): Tensor {
    const n = itemReps.shape[0];
    const { headSize: P } = this.config;
    const H = this.heads;
    if (oneUser(userReps, n)) {
      // One user against N items: one GEMM [L*H, P] x [N*H, P]^T, then the max over each item's heads, summed.
      const sim = ops.matmul(ops.reshape(userReps, [-1, P]), ops.reshape(itemReps, [n * H, P]), { transB: true }); // [L*H, N*H]
      return this.logit(ops.groupMaxSum(sim, H)); // [N]
    }
    const u = ops.reshape(userReps, [n, -1, P]); // [N, L*H, P]
    const v = ops.reshape(itemReps, [n, H, P]); // [N, H, P]
    return this.logit(ops.pairMaxSim(u, v)); // sum over L*H user heads of the max over H item heads: [N]
  }

  /** Summed max-sims -> logit: / T + b. */
  private logit(maxSims: Tensor): Tensor {
    const T = this.config.temperature;
    return ops.add(T === 1 ? maxSims : ops.scale(maxSims, 1 / T), this.bias);
  }

  /** Every user against every item: userReps [U, L*H*P], itemReps [C, H*P] -> [U, C] (ops.maxSimCross). */
  scoreCross(userReps: Tensor, itemReps: Tensor): Tensor {
    const [U, C] = [userReps.shape[0], itemReps.shape[0]];
    const { headSize: P } = this.config;
    const H = this.heads;
    const A = userReps.shape[1] / P; // L*H user heads
    return this.logit(ops.maxSimCross(ops.reshape(userReps, [U * A, P]), ops.reshape(itemReps, [C * H, P]), A, H));
  }

  servingPlan(): UserServingPlan {
    const { headSize: P } = this.config;
    const H = this.heads;
    const fields = this.embed.fieldsOf(USER_SIDE).length;
    const p = new PlanBuilder(flatWidth(this.embed, USER_SIDE));
    const se = this.userSe?.servingStep(0, fields, this.embed.dim);
    if (se) p.steps.push(se);
    const outs = this.userMlp ? p.mlp(this.userMlp, 0) : [];
    const taps = this.config.taps === 'output' ? outs : this.config.taps === 'input' ? [0, ...outs] : [outs[outs.length - 1]];
    const rep = p.alloc(taps.length * H * P); // [L*H*P]: layer i's heads at rep + i*H*P, as encodeUser concatenates them
    taps.forEach((src, i) => p.linear(this.userProj[i], src, rep + i * H * P));
    if (this.config.normalizeHeads) p.l2norm(rep, taps.length * H, P);
    return {
      spec: p.finish(rep, taps.length * H * P, { kind: 'maxsim', heads: H, headSize: P, scale: 1 / this.config.temperature, bias: this.bias.f[0] }),
      writeInput: (batch, row, out) => void this.embed.writeRow(batch, row, USER_SIDE, out),
    };
  }

  protected override extraTerms(batch: Batch, u: IntTowerSide, i: IntTowerSide): Record<string, Tensor | null> {
    const c = this.config;
    if (!c.cir || !(c.cirWeight > 0)) return {};
    const y = batch.label;
    const pos: number[] = [];
    for (let b = 0; b < batch.size; b++) if (y[b] > 0.5) pos.push(b);
    if (pos.length === 0) return { cir: null };
    const ids = Tensor.from(Int32Array.from(pos), [pos.length]);
    const uq = ops.gather(ops.l2Normalize(u.last), ids); // [Q, H*P]: the positive rows
    const sim = ops.matmul(uq, ops.l2Normalize(i.last), { transB: true }); // [Q, B] cosine
    const nce = ops.softmaxCrossEntropy(sim, ids, 'mean', { scale: 1 / c.cirTemperature }); // each row's positive: its own item
    return { cir: ops.scale(nce, c.cirWeight) };
  }
}

export const intTower = defineModel({
  kind: 'int-tower',
  summary: 'IntTower: Light-SE, FE-Block multi-head max-sim over every user layer, CIR contrastive term',
  config: IntTowerConfigSchema,
  tiny: { embedDim: 8, tower: [32, 16], dropout: 0, heads: 2, headSize: 8 },
  serving: 'plan',
  create: (ctx, config) => new IntTower(ctx, config),
});
