// DAT, the Dual Augmented Two-tower model (Yu et al., DLP-KDD 2021): each user and each item has a learned
// augmented vector a_u / a_v (looked up by its id) appended to its tower input; towers end L2-normalised, logit =
// <p_u, p_v> / T + b. The Adaptive-Mimic Mechanism pulls a_u toward the item tower's output p_v on positives (and
// a_v toward p_u), with stop-gradient on the tower outputs:
//   L_u = 1/B sum_b y_b ||a_u - sg(p_v)||^2,  L_v = 1/B sum_b y_b ||a_v - sg(p_u)||^2,  L = BCE + l_u L_u + l_v L_v.
// Differs: the paper's Category Alignment Loss (for multi-category item sets) is left out; the temperature is ours
// (see dssm.ts). The IntTower authors' DAT.py feeds torch.rand noise as the "augmented vectors" and never trains
// them; this follows the DAT paper instead. Shape letters: B batch, N items, D embedding dim, O tower output width.
import { z } from 'zod';
import { Tensor } from '../core/tensor.js';
import { detach } from '../core/tape.js';
import * as ops from '../core/ops/index.js';
import { Embedding, type Mlp } from '../nn/layers.js';
import type { Batch, FeatureInfo } from '../data/index.js';
import type { ModelContext } from './types.js';
import { TOWER_DIMS, labelsOf, dotCross, dotScores, COMMON_CONFIG, DEEP_CONFIG, widthsConfig, ACTIVATIONS } from './common/base.js';
import { TwoTowerModel, type TowerOutput } from './common/model-base.js';
import { ITEM_SIDE, USER_SIDE, flatInput, flatWidth, idFeature, type FieldEmbedder, type Source } from './common/field-embedder.js';
import { normalizedDotSpec, type UserServingPlan } from './common/serving.js';
import { defineModel } from './define.js';

const DatConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  tower: widthsConfig(TOWER_DIMS, 'tower widths (both towers)'),
  lastAct: z.enum(ACTIVATIONS).default('none'),
  temperature: z.number().positive().default(0.2),
  mimicUser: z.number().min(0).default(1).describe('weight l_u of the user mimic loss'),
  mimicItem: z.number().min(0).default(1).describe('weight l_v of the item mimic loss'),
  userIdFeature: z.string().default('').describe("the sparse feature whose ids key the users' augmented vectors; '' = the first sparse user feature"),
  itemIdFeature: z.string().default('').describe("the same for items; '' = the first sparse item feature"),
});
export type DatConfig = z.input<typeof DatConfigSchema>;

interface DatSide extends TowerOutput {
  /** The augmented vector [B, O]. */
  aug: Tensor;
}

export class Dat extends TwoTowerModel<DatSide, DatSide> {
  readonly kind = 'dat';
  private readonly embed: FieldEmbedder;
  private readonly userMlp: Mlp;
  private readonly itemMlp: Mlp;
  private readonly augUser: Embedding;
  private readonly augItem: Embedding;
  private readonly userId: FeatureInfo;
  private readonly itemId: FeatureInfo;
  private readonly bias: Tensor;

  constructor(ctx: ModelContext, readonly config: Required<DatConfig>) {
    super(config.l2Embedding);
    const { rng, features } = ctx;
    const out = config.tower[config.tower.length - 1];
    this.embed = this.addEmbedder(ctx, config);
    this.userId = idFeature('dat', features, 'user', config.userIdFeature);
    this.itemId = idFeature('dat', features, 'item', config.itemIdFeature);
    this.augUser = this.addModule('augUser', new Embedding(this.userId.vocabSize, out, rng, { scale: config.embedStd }));
    this.augItem = this.addModule('augItem', new Embedding(this.itemId.vocabSize, out, rng, { scale: config.embedStd }));
    const tower = (sources: readonly Source[], name: string): Mlp =>
      this.addMlp(name, this.inputWidth(this.embed, sources, name, out), config.tower, config.lastAct, config, rng);
    this.userMlp = tower(USER_SIDE, 'user');
    this.itemMlp = tower(ITEM_SIDE, 'item');
    this.bias = this.addBias(rng);
  }

  private side(batch: Batch, sources: readonly Source[], mlp: Mlp, aug: Embedding, id: FeatureInfo): DatSide {
    const fields = this.embed.embed(batch, sources); // [B, F, D]
    const a = aug.forward(Tensor.from(batch.sparse[id.name], [batch.size])); // [B, O]
    const dense = this.embed.dense(batch, sources);
    const x = fields || dense ? ops.concat([flatInput(fields, dense), a], 1) : a; // [B, F*D + nDense + O]
    return { rep: ops.l2Normalize(mlp.forward(x)), emb: [fields], aug: a };
  }

  protected userTower(batch: Batch): DatSide {
    return this.side(batch, USER_SIDE, this.userMlp, this.augUser, this.userId);
  }

  protected itemTower(batch: Batch): DatSide {
    return this.side(batch, ITEM_SIDE, this.itemMlp, this.augItem, this.itemId);
  }

  /** userReps [N or 1, O], itemReps [N, O] -> [N]. */
  score(userReps: Tensor, itemReps: Tensor): Tensor {
    return ops.add(ops.scale(dotScores(userReps, itemReps), 1 / this.config.temperature), this.bias);
  }

  /** userReps [P, D], itemReps [C, D] -> [P, C]. */
  scoreCross(userReps: Tensor, itemReps: Tensor): Tensor {
    return dotCross(userReps, itemReps, this.config.temperature, this.bias);
  }

  servingPlan(): UserServingPlan {
    const flat = flatWidth(this.embed, USER_SIDE);
    const aug = this.augUser.table;
    const O = aug.shape[1];
    return {
      spec: normalizedDotSpec(flat + O, this.userMlp, this.config.temperature, this.bias.f[0]),
      writeInput: (batch, row, out) => {
        const at = this.embed.writeRow(batch, row, USER_SIDE, out);
        const id = batch.sparse[this.userId.name][row];
        out.set(aug.f.subarray(id * O, id * O + O), at);
      },
    };
  }

  protected override extraTerms(batch: Batch, u: DatSide, i: DatSide): Record<string, Tensor | null> {
    const y = labelsOf(batch);
    // 1/B sum_b y_b ||a - sg(p)||^2: only the augmented vector moves.
    const mimic = (a: Tensor, p: Tensor, w: number): Tensor | null => {
      if (!(w > 0)) return null;
      const diff = ops.sub(a, detach(p)); // [B, O]
      return ops.scale(ops.sumAll(ops.mul(ops.rowDot(diff, diff), y)), w / batch.size);
    };
    return { mimicUser: mimic(u.aug, i.rep, this.config.mimicUser), mimicItem: mimic(i.aug, u.rep, this.config.mimicItem) };
  }
}

export const dat = defineModel({
  kind: 'dat',
  summary: 'Dual Augmented Two-tower: learned per-id augmented vectors pulled toward the other tower (mimic losses)',
  config: DatConfigSchema,
  tiny: { embedDim: 8, tower: [32, 16], dropout: 0 },
  serving: 'plan',
  create: (ctx, config) => new Dat(ctx, config),
});
