// RankTower (Pan et al., "RankTower: A Synergistic Framework for Enhancing Two-Tower Pre-Ranking Model", 2023).
//   Multi-Head Gated Network per tower (eq. 1-2): e = MLP(X) * sigmoid(gMLP(sg(X))), split into H sub-spaces of
//   size k; the input embedding gets no gradient through the gating branch (sg = stop-gradient).
//   Bi-directional Gated Cross-Attention (eq. 3-7), one GAU per direction: Q = phi(E_q W_Q), K = phi(E_kv W_K),
//   V = phi(E_kv W_V), U = sigmoid(E_q W_U), A = softmax(Q K^T / sqrt(d)), O = (U * A V) W_o, out = LN(E_q + O); the
//   user->item branch attends from the user's H_u sub-spaces over the item's H_i, the item->user branch the reverse.
//   Maximum Similarity (eq. 8): s = sum over user sub-spaces of the max cosine over item sub-spaces, / tau (learned).
// The paper leaves open (our choices, each a config option):
//   - MLP widths: the towers' 300-300 hidden layers (as the other models here) then a linear H*k output; gMLP is
//     two layers (hidden gateHidden, ReLU) ending in H*k gate logits. H_u = H_i = 4, k = 32, d = dv = k, phi = SiLU.
//   - tau is learned as log(1/tau) (stays positive), initialised at 0.5 (the ML-100K search's four kept trials had
//     0.38-0.81, docs/TUNING.md; 0.2, DSSM's temperature, before 2026-12-05); a learned output
//     bias is added so the logit can be calibrated for BCE (the paper's s has none).
//   - LayerNorm normalises each sub-space (over k), with its own gamma/beta per branch. GAU projections have biases.
//   - loss() here is the zoo's pointwise BCE (+ L2 on embeddings); the listwise hybrid objective on cascade lists is
//     src/cascade/train.ts + src/train/ranking-losses.ts (docs/RANKING.md).
// Serving split (what is cached): everything that depends on one side only. encodeUser returns, per user,
// [E_u | Q_u | U_u | K'_u | V'_u] (its sub-spaces, the user->item branch's query and gate, and the item->user
// branch's keys and values computed from E_u); encodeItem returns [E_i | K_i | V_i | Q'_i | U'_i]. score() runs only
// the per-pair part: the two attentions, gating, W_o, LayerNorm, and max-sim.
// Longer than a model file's ~200 lines: two gated towers, two attention branches, and a served rep that carries
// every one-side projection, so the per-pair score has its own split code and serving plan beside the training path.
// Shape letters: B batch, N pairs, H_u/H_i sub-spaces, k sub-space size, d query/key width, v value width.
import { z } from 'zod';
import { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';
import type { ActName } from '../core/kernels/types.js';
import { detach, noGrad } from '../core/tape.js';
import { scope } from '../core/scope.js';
import * as ops from '../core/ops/index.js';
import { param } from '../nn/init.js';
import { LayerNorm, Linear, type Mlp } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Batch } from '../data/index.js';
import type { ModelContext } from './types.js';
import { oneUser, COMMON_CONFIG, DEEP_CONFIG, widthsConfig, ACTIVATIONS } from './common/base.js';
import { TwoTowerModel, type TowerOutput } from './common/model-base.js';
import { ITEM_SIDE, USER_SIDE, flatInput, flatWidth, type FieldEmbedder, type Source } from './common/field-embedder.js';
import { makeMlp } from './common/layers.js';
import { PlanBuilder, floats, type GauWeights, type UserServingPlan } from './common/serving.js';
import { defineModel } from './define.js';

const RankTowerConfigSchema = z.strictObject({
  ...COMMON_CONFIG, ...DEEP_CONFIG,
  tower: widthsConfig([300, 300], "hidden widths of each tower's MLP before its H*k output layer"),
  userHeads: z.number().int().positive().default(4).describe('H_u: sub-spaces of the user side'),
  itemHeads: z.number().int().positive().default(4).describe('H_i: sub-spaces of the item side'),
  headSize: z.number().int().positive().default(32).describe('k: sub-space size'),
  gateHidden: z.number().int().positive().default(64).describe('hidden width of the two-layer gating MLP'),
  attnDim: z.number().int().min(0).default(0).describe('d: query/key width of the GAU (0 = k)'),
  valueDim: z.number().int().min(0).default(0).describe('v: value width of the GAU (0 = k)'),
  phi: z.enum(ACTIVATIONS).default('silu').describe('phi of the Q/K/V projections'),
  temperature: z.number().positive().default(0.5).describe('initial tau of the max-sim (learned)'),
  crossAttention: z.boolean().default(true).describe('ablation: false scores max-sim on the MHGN sub-spaces directly (no cross-attention)'),
});
export type RankTowerConfig = z.input<typeof RankTowerConfigSchema>;

/** Multi-Head Gated Network: MLP(x) * sigmoid(gMLP(sg(x))) -> [B, H*k]. */
class GatedTower extends Module {
  readonly mlp: Mlp;
  readonly gate: Mlp;

  constructor(width: number, out: number, c: Required<RankTowerConfig>, rng: Rng) {
    super();
    this.mlp = this.addModule('mlp', makeMlp(width, { dims: [...c.tower, out], batchNorm: c.batchNorm, dropout: c.dropout, lastAct: 'none' }, rng, c.init));
    this.gate = this.addModule('gate', makeMlp(width, { dims: [c.gateHidden, out], batchNorm: false, dropout: 0, lastAct: 'none' }, rng, c.init));
  }

  forward(x: Tensor): Tensor {
    return ops.mul(this.mlp.forward(x), ops.sigmoid(this.gate.forward(detach(x))));
  }
}

/** One direction of the gated cross-attention (a GAU): the query side's projections and the other side's keys/values. */
class CrossBranch extends Module {
  readonly q: Linear;
  readonly u: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly ln: LayerNorm;

  constructor(k: number, readonly d: number, v: number, phi: ActName, rng: Rng) {
    super();
    this.q = this.addModule('q', new Linear(k, d, rng, { act: phi }));
    this.u = this.addModule('u', new Linear(k, v, rng, { act: 'sigmoid' }));
    this.k = this.addModule('k', new Linear(k, d, rng, { act: phi }));
    this.v = this.addModule('v', new Linear(k, v, rng, { act: phi }));
    this.o = this.addModule('o', new Linear(v, k, rng));
    this.ln = this.addModule('ln', new LayerNorm(k, rng));
  }

  /**
   * Per pair: E [N, Hq, k], Q [N, Hq, d], U [N, Hq, v] from the query side, K [N, Hkv, d], V [N, Hkv, v] from the
   * other side -> LN(E + (U * softmax(Q K^T / sqrt d) V) W_o), [N * Hq, k].
   */
  attend(e: Tensor, q: Tensor, u: Tensor, k: Tensor, v: Tensor): Tensor {
    const [N, Hq, K] = e.shape;
    const a = ops.softmax(ops.scale(ops.bmm(q, k, { transB: true }), 1 / Math.sqrt(this.d)), -1); // [N, Hq, Hkv]
    const gated = ops.mul(u, ops.bmm(a, v)); // [N, Hq, v]
    const o = this.o.forward(ops.reshape(gated, [N * Hq, -1])); // [N*Hq, k]
    return this.ln.forward(ops.add(ops.reshape(e, [N * Hq, K]), o));
  }
}

export class RankTower extends TwoTowerModel {
  readonly kind = 'rank-tower';
  private readonly embed: FieldEmbedder;
  private readonly userTowerNet: GatedTower;
  private readonly itemTowerNet: GatedTower;
  private readonly userToItem: CrossBranch | null;
  private readonly itemToUser: CrossBranch | null;
  private readonly logInvTau: Tensor;
  private readonly bias: Tensor;
  private readonly d: number;
  private readonly v: number;

  constructor(ctx: ModelContext, readonly config: Required<RankTowerConfig>) {
    super(config.l2Embedding);
    const { rng } = ctx;
    const c = config;
    this.embed = this.addEmbedder(ctx, c);
    const tower = (sources: readonly Source[], heads: number, name: string): GatedTower =>
      this.addModule(name, new GatedTower(this.inputWidth(this.embed, sources, name), heads * c.headSize, c, rng));
    this.userTowerNet = tower(USER_SIDE, c.userHeads, 'user');
    this.itemTowerNet = tower(ITEM_SIDE, c.itemHeads, 'item');
    this.d = c.attnDim || c.headSize;
    this.v = c.valueDim || c.headSize;
    this.userToItem = c.crossAttention ? this.addModule('userToItem', new CrossBranch(c.headSize, this.d, this.v, c.phi, rng)) : null;
    this.itemToUser = c.crossAttention ? this.addModule('itemToUser', new CrossBranch(c.headSize, this.d, this.v, c.phi, rng)) : null;
    this.logInvTau = this.addParam('logInvTau', param([1], 'zeros', rng));
    this.logInvTau.f[0] = Math.log(1 / c.temperature);
    this.bias = this.addBias(rng);
  }

  /** The per-pair weights of one branch for the native scorer. */
  private static gau(b: CrossBranch): GauWeights {
    return { wo: floats(b.o.weight), bo: b.o.bias ? floats(b.o.bias) : new Float32Array(b.o.outFeatures), gamma: floats(b.ln.gamma), beta: floats(b.ln.beta) };
  }

  servingPlan(): UserServingPlan {
    const c = this.config;
    const H = c.userHeads, K = c.headSize;
    const p = new PlanBuilder(flatWidth(this.embed, USER_SIDE));
    const value = p.mlp(this.userTowerNet.mlp, 0).at(-1)!;
    const gate = p.mlp(this.userTowerNet.gate, 0).at(-1)!;
    const widths = this.parts(H);
    const rep = p.alloc(widths.reduce((a, b) => a + b, 0));
    p.steps.push({ op: 'gate', value, gate, dst: rep, size: H * K }); // E_u
    const u2i = this.userToItem, i2u = this.itemToUser;
    if (u2i && i2u) {
      // Q_u, U_u (user->item query side), K'_u, V'_u (item->user keys and values), each per sub-space of E_u.
      let at = rep + H * K;
      for (const [layer, w] of [[u2i.q, widths[1]], [u2i.u, widths[2]], [i2u.k, widths[3]], [i2u.v, widths[4]]] as const) {
        p.linear(layer, rep, at, H);
        at += w;
      }
    }
    return {
      spec: p.finish(rep, widths.reduce((a, b) => a + b, 0), {
        kind: 'rankTower', userHeads: H, itemHeads: c.itemHeads, headSize: K, attnDim: this.d, valueDim: this.v,
        crossAttention: !!(u2i && i2u), lnEps: u2i?.ln.eps ?? 1e-5, scale: Math.exp(this.logInvTau.f[0]), bias: this.bias.f[0],
        userToItem: u2i ? RankTower.gau(u2i) : null, itemToUser: i2u ? RankTower.gau(i2u) : null,
      }),
      writeInput: (batch, row, out) => void this.embed.writeRow(batch, row, USER_SIDE, out),
    };
  }

  /** Widths of a cached rep's parts: user [E, Q, U, K', V'], item [E, K, V, Q', U'] (d, v, d, v either way). */
  private parts(heads: number): number[] {
    const k = this.config.headSize;
    return this.userToItem ? [heads * k, heads * this.d, heads * this.v, heads * this.d, heads * this.v] : [heads * k];
  }

  /** The cached rep of one side: its sub-spaces and the projections that depend on them alone. */
  private side(batch: Batch, sources: readonly Source[], net: GatedTower, heads: number, isUser: boolean): TowerOutput {
    const fields = this.embed.embed(batch, sources);
    const e = net.forward(flatInput(fields, this.embed.dense(batch, sources))); // [B, H*k]
    if (!this.userToItem || !this.itemToUser) return { rep: e, emb: [fields] };
    const B = batch.size;
    const flat = ops.reshape(e, [B * heads, this.config.headSize]);
    const own = isUser ? this.userToItem : this.itemToUser; // branch where this side is the query
    const other = isUser ? this.itemToUser : this.userToItem; // branch where this side gives keys and values
    const proj = isUser
      ? [own.q.forward(flat), own.u.forward(flat), other.k.forward(flat), other.v.forward(flat)]
      : [other.k.forward(flat), other.v.forward(flat), own.q.forward(flat), own.u.forward(flat)];
    return { rep: ops.concat([e, ...proj.map((p) => ops.reshape(p, [B, -1]))], 1), emb: [fields] };
  }

  protected userTower(batch: Batch): TowerOutput {
    return this.side(batch, USER_SIDE, this.userTowerNet, this.config.userHeads, true);
  }

  protected itemTower(batch: Batch): TowerOutput {
    return this.side(batch, ITEM_SIDE, this.itemTowerNet, this.config.itemHeads, false);
  }

  /** userReps [N or 1, U], itemReps [N, I] -> [N]: the per-pair attention and max-sim. */
  score(userReps: Tensor, itemReps: Tensor): Tensor {
    const N = itemReps.shape[0];
    // One user against N items: the per-pair attention needs the user's parts on every row.
    return this.pairs(userReps, oneUser(userReps, N) ? new Int32Array(N) : null, itemReps, null);
  }

  /** userReps [P, U] against itemReps [C, I] -> [P, C]: every pair, row p's C items in a row. */
  scoreCross(userReps: Tensor, itemReps: Tensor): Tensor {
    const P = userReps.shape[0], C = itemReps.shape[0];
    const users = Int32Array.from({ length: P * C }, (_, k) => Math.floor(k / C));
    const items = Int32Array.from({ length: P * C }, (_, k) => k % C);
    return ops.reshape(this.pairs(userReps, users, itemReps, items), [P, C]);
  }

  /**
   * Each row of `reps` (one side) through its branch of the cross-attention against the other side's `anchor` rep,
   * L2-normalised: [n, R] -> [n * heads, k], the vectors max-sim compares. Without cross-attention, the normalised
   * sub-spaces themselves (the anchor is unused).
   */
  anchoredVectors(side: 'user' | 'item', reps: Float32Array, anchor: Float32Array): Float32Array {
    const { userHeads: Hu, itemHeads: Hi, headSize: K } = this.config;
    const [heads, otherHeads] = side === 'user' ? [Hu, Hi] : [Hi, Hu];
    const width = this.parts(heads).reduce((a, b) => a + b, 0);
    if (reps.length % width !== 0) throw new Error(`rank-tower: ${reps.length} ${side} rep values do not split into rows of ${width}`);
    const otherWidth = this.parts(otherHeads).reduce((a, b) => a + b, 0);
    if (this.userToItem && anchor.length !== otherWidth) throw new Error(`rank-tower: the anchor has ${anchor.length} values, a ${side === 'user' ? 'item' : 'user'} rep ${otherWidth}`);
    const n = reps.length / width, out = new Float32Array(n * heads * K), B = 8192;
    noGrad(() => {
      for (let at = 0; at < n; at += B) {
        scope(() => {
          const m = Math.min(B, n - at);
          const rows = Tensor.from(reps.slice(at * width, (at + m) * width), [m, width]);
          const [e, ...own] = ops.split(rows, this.parts(heads), 1).map((p) => ops.reshape(p, [m, heads, -1]));
          let v: Tensor = ops.reshape(e, [m * heads, K]);
          if (this.userToItem && this.itemToUser) {
            const other = ops.split(Tensor.from(anchor.slice(), [1, otherWidth]), this.parts(otherHeads), 1)
              .map((p) => ops.reshape(ops.gather(p, Tensor.from(new Int32Array(m), [m], 'int32')), [m, otherHeads, -1]));
            // user rep parts [E, Q, U, K', V'], item rep parts [E, K, V, Q', U']: each side's query and gate, the other's keys and values
            v = side === 'user'
              ? this.userToItem.attend(e, own[0], own[1], other[1], other[2])
              : this.itemToUser.attend(e, own[2], own[3], other[3], other[4]);
          }
          out.set(ops.l2Normalize(v).data.subarray(0, m * heads * K), at * heads * K);
        });
      }
    });
    return out;
  }

  /** The sizes of the per-pair score (ops.gauMaxSim). */
  private gauDims(): ops.GauDims {
    const c = this.config;
    return { userHeads: c.userHeads, itemHeads: c.itemHeads, headSize: c.headSize, attnDim: this.d, valueDim: this.v, eps: this.userToItem!.ln.eps };
  }

  /** Both branches' per-pair weights packed as ops.gauMaxSim takes them: [W_o | b_o | gamma | beta] each, user->item first. */
  private gauWeights(): Tensor {
    const flat = (t: Tensor) => ops.reshape(t, [1, t.size]);
    return ops.concat([this.userToItem!, this.itemToUser!].flatMap((b) => [flat(b.o.weight), flat(b.o.bias!), flat(b.ln.gamma), flat(b.ln.beta)]), 1);
  }

  /**
   * The score of the N pairs (userReps[users[n]], itemReps[items[n]]); a null index is the identity. With cross-
   * attention one op scores every pair from the two rep tables (nothing is gathered per pair); without, each side's
   * sub-spaces are normalised once per row and then gathered.
   */
  private pairs(userReps: Tensor, users: Int32Array | null, itemReps: Tensor, items: Int32Array | null): Tensor {
    const { userHeads: Hu, itemHeads: Hi, headSize: K } = this.config;
    const N = users?.length ?? items?.length ?? itemReps.shape[0];
    const iota = (): Int32Array => Int32Array.from({ length: N }, (_, k) => k);
    let s: Tensor;
    if (this.userToItem && this.itemToUser) {
      if (this.userToItem.ln.eps !== this.itemToUser.ln.eps) throw new Error('rank-tower: the two branches\' LayerNorm eps differ');
      s = ops.gauMaxSim(userReps, itemReps, users ?? iota(), items ?? iota(), this.gauWeights(), this.gauDims());
    } else {
      const unit = (rep: Tensor, index: Int32Array | null, heads: number): Tensor => {
        const n = ops.reshape(ops.l2Normalize(ops.reshape(rep, [-1, K])), [rep.shape[0], heads * K]);
        return ops.reshape(index ? ops.gather(n, Tensor.from(index, [N], 'int32')) : n, [N, heads, K]);
      };
      s = ops.pairMaxSim(unit(userReps, users, Hu), unit(itemReps, items, Hi));
    }
    return ops.add(ops.mul(s, ops.exp(this.logInvTau)), this.bias);
  }
}

export const rankTower = defineModel({
  kind: 'rank-tower',
  summary: 'RankTower: gated multi-head towers, per-pair gated cross-attention both ways, max cosine',
  config: RankTowerConfigSchema,
  tiny: { embedDim: 8, tower: [32], dropout: 0, userHeads: 3, itemHeads: 2, headSize: 8, gateHidden: 16 },
  serving: 'plan',
  create: (ctx, config) => new RankTower(ctx, config),
});
