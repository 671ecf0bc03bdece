// Serving plans: a two-tower model's user side, compiled for one native call per request (native/serve.h). The
// model describes its user tower as steps over one float arena (eval mode: batch norm folded into the linear
// layers, dropout gone) plus how to score the resulting rep against cached item reps; it also writes the tower
// input of one batch row (embedding lookups, sequence pooling, dense values) straight into a Float32Array, with no
// tensors. encodeUser + score stay the reference: test/serve-plan.test.ts holds the plan to them.
// Shape letters: F fields, D embedding dim, H heads, P head size, L tapped layers.
import type { Batch } from '../../data/index.js';
import type { Mlp } from '../../nn/index.js';
import type { Linear } from '../../nn/layers.js';
import type { Tensor } from '../../core/tensor.js';

/** Activations a plan's linear step can apply. */
export type PlanAct = 'none' | 'relu' | 'silu' | 'sigmoid';

export type PlanStep =
  /** For each of `rows` (default 1) rows: arena[dst + r*out, +out) = act(arena[src + r*in, +in) W + b); W [in, out]. */
  | { op: 'linear'; src: number; dst: number; in: number; out: number; rows?: number; weight: Float32Array; bias: Float32Array | null; act: PlanAct }
  /** arena[dst + i] = arena[value + i] * sigmoid(arena[gate + i]) for i < size. */
  | { op: 'gate'; value: number; gate: number; dst: number; size: number }
  /** `rows` rows of `cols` floats at offset, each divided by max(||row||, eps), in place. */
  | { op: 'l2norm'; offset: number; rows: number; cols: number; eps: number }
  /** Light-SE in place on F fields of D floats: e *= softmax(mean_D(e) W + b) per field (residual: e + e * k). */
  | { op: 'lightSe'; offset: number; fields: number; dim: number; weight: Float32Array; bias: Float32Array | null; residual: boolean }
  /**
   * A tower input rewritten field by field into a new region: arena[dst + f*D + d] = arena[src + f*D + d] * g_f +
   * shift[f*D + d] for F fields of D floats (g_f = scale * sigmoid(arena[gate + f]), or 1 when gate is null; shift
   * null: 0), then the `tail` floats after them (the dense features) copied unchanged. CS3's field gates and sync shift.
   */
  | { op: 'fieldGate'; src: number; dst: number; gate: number | null; fields: number; dim: number; tail: number; scale: number; shift: Float32Array | null };

export type PlanScore =
  /** logit = scale * <u, v> + bias */
  | { kind: 'dot'; scale: number; bias: number }
  /** logit = scale * sum over user heads of max over the H item heads of <u_r, v_h> + bias */
  | { kind: 'maxsim'; heads: number; headSize: number; scale: number; bias: number }
  /** RankTower: per-pair gated cross-attention both ways, then max cosine (native/serve_kernels.h, RankTowerArgs). */
  | {
    kind: 'rankTower'; userHeads: number; itemHeads: number; headSize: number; attnDim: number; valueDim: number;
    crossAttention: boolean; lnEps: number; scale: number; bias: number; userToItem: GauWeights | null; itemToUser: GauWeights | null;
  };

/** The per-pair weights of one GAU direction: W_o [v, k], b_o, and the LayerNorm's gamma and beta. */
export interface GauWeights {
  wo: Float32Array;
  bo: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
}

export interface ServingPlanSpec {
  /** Floats in the arena; the tower input is written at offset 0. */
  arena: number;
  input: number;
  /** Where the user rep ends up (what encodeUser returns for the row). */
  repOffset: number;
  repLength: number;
  steps: PlanStep[];
  score: PlanScore;
}

export interface UserServingPlan {
  spec: ServingPlanSpec;
  /** Writes the user tower's input for row `row` of the batch into out[0, spec.input). */
  writeInput(batch: Batch, row: number, out: Float32Array): void;
}

/** Hands out arena regions (the tower input first, at offset 0) and collects steps. */
export class PlanBuilder {
  private size: number;
  readonly steps: PlanStep[] = [];

  constructor(readonly input: number) {
    this.size = input;
  }

  /** Reserves n floats; returns their offset. */
  alloc(n: number): number {
    const at = this.size;
    this.size += n;
    return at;
  }

  /** One Linear (with its own activation) on `rows` consecutive rows from src into a new region, or into dst. */
  linear(layer: Linear, src: number, dst = this.alloc(layer.outFeatures), rows = 1): number {
    const act = layer.act;
    if (act !== 'none' && act !== 'relu' && act !== 'silu' && act !== 'sigmoid') throw new Error(`serving plan: activation '${act}' is not supported`);
    this.steps.push({
      op: 'linear', src, dst, in: layer.inFeatures, out: layer.outFeatures, rows, weight: floats(layer.weight),
      bias: layer.bias ? floats(layer.bias) : null, act,
    });
    return dst;
  }

  /** Every layer of an eval-mode MLP from src; returns each layer's output offset. */
  mlp(mlp: Mlp, src: number): number[] {
    return mlp.servingLayers().map((l) => {
      const dst = this.alloc(l.out);
      this.steps.push({ op: 'linear', src, dst, in: l.in, out: l.out, weight: l.weight, bias: l.bias, act: l.relu ? 'relu' : 'none' });
      src = dst;
      return dst;
    });
  }

  l2norm(offset: number, rows: number, cols: number, eps = 1e-12): void {
    this.steps.push({ op: 'l2norm', offset, rows, cols, eps });
  }

  finish(repOffset: number, repLength: number, score: PlanScore): ServingPlanSpec {
    return { arena: this.size, input: this.input, repOffset, repLength, steps: this.steps, score };
  }
}

/** The DSSM-style user side: an MLP from the input, its output L2-normalised, logit = <u, v> / temperature + bias. */
export function normalizedDotSpec(input: number, mlp: Mlp, temperature: number, bias: number): ServingPlanSpec {
  const p = new PlanBuilder(input);
  const outs = p.mlp(mlp, 0);
  const rep = outs[outs.length - 1];
  const width = mlp.layers[outs.length - 1].outFeatures;
  p.l2norm(rep, 1, width);
  return p.finish(rep, width, { kind: 'dot', scale: 1 / temperature, bias });
}

/** The steps moved by `by` floats: a plan whose arena starts at offset `by` of a larger one (run a tower twice). */
export function relocate(steps: readonly PlanStep[], by: number): PlanStep[] {
  return steps.map((s): PlanStep => {
    switch (s.op) {
      case 'linear': return { ...s, src: s.src + by, dst: s.dst + by };
      case 'gate': return { ...s, value: s.value + by, gate: s.gate + by, dst: s.dst + by };
      case 'l2norm': case 'lightSe': return { ...s, offset: s.offset + by };
      case 'fieldGate': return { ...s, src: s.src + by, dst: s.dst + by, gate: s.gate === null ? null : s.gate + by };
    }
  });
}

/** A parameter's values as float32 (the native plan copies them; float64 tensors come from gradient checks). */
export function floats(t: Tensor): Float32Array {
  return t.f instanceof Float32Array ? t.f : Float32Array.from(t.f);
}
