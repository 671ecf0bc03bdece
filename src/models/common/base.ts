// What every model shares: the common config and the loss (mean BCE over the batch with the batch's weights, plus
// the model's own named terms and the L2 penalty on looked-up embeddings); the model bases are in model-base.ts.
// Shape letters: B batch, N items, U/I user/item rep widths.
import { z } from 'zod';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../core/ops/index.js';
import type { Batch } from '../../data/index.js';
import type { LossOutput, RecModel } from '../types.js';
import { scope } from '../../core/scope.js';
import { noGrad } from '../../core/tape.js';
import { ACT, type ActName } from '../../core/kernels/types.js';
import { parseConfig } from '../../util/config-parse.js';

/** 'authors': dense-layer weights N(0, 1e-4) (DeepCTR-torch's init_std, used by the IntTower code); 'default': nn's initialisers. */
export const INIT_SCHEMES = ['default', 'authors'] as const;
export type InitScheme = (typeof INIT_SCHEMES)[number];

/** Activations a config may name (the kernels' activation codes). */
export const ACTIVATIONS = Object.keys(ACT) as [ActName, ...ActName[]];

/** The config keys every model shares (zod shape; each model's schema spreads it). */
export const COMMON_CONFIG = {
  embedDim: z.number().int().positive().default(32).describe('D: width of every embedding table'),
  l2Embedding: z.number().min(0).default(1e-5)
    .describe("weight of the L2 penalty on the batch's looked-up field embeddings (sum of squares / B); 0 turns it off"),
  embedStd: z.number().min(0).default(1e-4).describe('std of the N(0, std) embedding initialisation'),
  init: z.enum(INIT_SCHEMES).default('default')
    .describe("'authors': dense-layer weights N(0, 1e-4) (the IntTower code's init); 'default': nn's initialisers"),
};
export type CommonConfig = z.input<z.ZodObject<typeof COMMON_CONFIG>>;

export const COMMON_DEFAULTS: Required<CommonConfig> = { embedDim: 32, l2Embedding: 1e-5, embedStd: 1e-4, init: 'default' };

/**
 * Widths, batch norm and dropout of the deep parts: 300-300-128 with BN (paper; authors' scripts) and dropout 0.2 (the
 * authors' scripts use 0.3; the ML-100K searches' best trials of DSSM, DCN, IntTower and RankTower had 0.08-0.27,
 * docs/TUNING.md).
 */
export const DEEP_DEFAULTS = { batchNorm: true, dropout: 0.2 } as const;
export const TOWER_DIMS: readonly number[] = [300, 300, 128];

/** Batch norm and dropout of a model's deep parts (zod shape). */
export const DEEP_CONFIG = {
  batchNorm: z.boolean().default(DEEP_DEFAULTS.batchNorm),
  dropout: z.number().min(0).lt(1).default(DEEP_DEFAULTS.dropout),
};

/** Layer widths (zod), `dims` by default. */
export function widthsConfig(dims: readonly number[], description: string) {
  return z.array(z.number().int().positive()).default(() => [...dims]).describe(description);
}

/** A model's config with its defaults filled in; unknown keys and bad values throw, naming `kind.key`. */
export function parseModelConfig<S extends z.ZodType>(kind: string, schema: S, cfg: unknown): z.output<S> {
  return parseConfig(schema, cfg ?? {}, kind, `${kind} model config`);
}

/** Labels [B] of a batch, wrapped without a copy. */
export function labelsOf(batch: Batch): Tensor {
  return Tensor.from(batch.label, [batch.size]);
}

/** Mean BCE (weighted by batch.weight when present) plus the given terms, which are already weighted scalars. */
export function lossOf(batch: Batch, logits: Tensor, terms: Record<string, Tensor | null>): LossOutput {
  const weights = batch.weight ? Tensor.from(batch.weight, [batch.size]) : undefined;
  const bce = ops.bceWithLogits(logits, labelsOf(batch), { weights });
  const parts: Record<string, number> = { bce: bce.item() };
  let loss = bce;
  for (const [name, t] of Object.entries(terms)) {
    if (!t) continue;
    loss = ops.add(loss, t);
    parts[name] = t.item();
  }
  return { loss, logits, parts };
}

/** weight * sum of squares of the embeddings / B (null when off or nothing to penalise). */
export function l2Penalty(weight: number, embs: readonly (Tensor | null)[], batchSize: number): Tensor | null {
  if (!(weight > 0)) return null;
  let total: Tensor | null = null;
  for (const e of embs) {
    if (!e) continue;
    // Row dot products then a sum over B: much faster here than mul + sumAll over every element (see docs/MODELS.md).
    const flat = ops.reshape(e, [e.shape[0], e.size / e.shape[0]]); // [B, F*D]
    const s = ops.sumAll(ops.rowDot(flat, flat));
    total = total ? ops.add(total, s) : s;
  }
  return total ? ops.scale(total, weight / batchSize) : null;
}

/** Checks that score() got N user rows for N items, or one user row for all of them; true for the one-user case. */
export function oneUser(userReps: Tensor, n: number): boolean {
  const rows = userReps.shape[0];
  if (rows === n) return false;
  if (rows !== 1) throw new Error(`score: ${rows} user rows for ${n} items (give N rows or one)`);
  return true;
}

/** <u, v> per pair: [N, D] x [N, D] -> [N]; one user [1, D] against N items is one matrix-vector product. */
export function dotScores(userReps: Tensor, itemReps: Tensor): Tensor {
  const n = itemReps.shape[0];
  if (!oneUser(userReps, n)) return ops.rowDot(userReps, itemReps);
  return ops.reshape(ops.matmul(itemReps, userReps, { transB: true }), [n]);
}

/** Every user against every item for an inner-product score: (u [P, D] v [C, D]ᵀ) / temperature + bias -> [P, C]. */
export function dotCross(userReps: Tensor, itemReps: Tensor, temperature: number, bias: Tensor): Tensor {
  return ops.add(ops.scale(ops.matmul(userReps, itemReps, { transB: true }), 1 / temperature), bias);
}

/** Rows per model.score call of scoreReps (a pairwise model's temporaries are [rows, ...] each). */
const SCORE_CHUNK = 16384;

/** model.score of one user rep [U] against item reps [M, I] -> [M], no tape, SCORE_CHUNK rows at a time. */
export function scoreReps(model: RecModel, rep: Float32Array, reps: Float32Array, dim: number): Float32Array {
  const m = reps.length / dim;
  const out = new Float32Array(m);
  noGrad(() => {
    for (let r0 = 0; r0 < m; r0 += SCORE_CHUNK) {
      const n = Math.min(SCORE_CHUNK, m - r0);
      scope(() => {
        const s = model.score!(Tensor.from(rep, [1, rep.length]), Tensor.from(reps.subarray(r0 * dim, (r0 + n) * dim), [n, dim]));
        out.set((s.data as Float32Array).subarray(0, n), r0);
      });
    }
  });
  return out;
}

/**
 * Least-squares fit score = scale * <u, v> + offset over N pairs (u, v [N, D] row by row, scores [N]): non-null when
 * it is exact (max residual <= 1e-4 (1 + max |score|)) with scale > 0, i.e. the model ranks by the inner product
 * (retrieval through an ANN index; OneBP's moving aggregation of user and item reps).
 */
export function innerProductFit(u: ArrayLike<number>, v: ArrayLike<number>, dim: number, scores: ArrayLike<number>): { scale: number; offset: number; maxResidual: number } | null {
  const n = scores.length;
  const dots = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += u[i * dim + j] * v[i * dim + j];
    dots[i] = s;
  }
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += dots[i]; my += scores[i]; }
  mx /= n; my /= n;
  let sxx = 0, sxy = 0, range = 0;
  for (let i = 0; i < n; i++) {
    sxx += (dots[i] - mx) ** 2;
    sxy += (dots[i] - mx) * (scores[i] - my);
    range = Math.max(range, Math.abs(scores[i]));
  }
  if (!(sxx > 0)) return null;
  const a = sxy / sxx, b = my - a * mx;
  let resid = 0;
  for (let i = 0; i < n; i++) resid = Math.max(resid, Math.abs(a * dots[i] + b - scores[i]));
  return a > 0 && resid <= 1e-4 * (1 + range) ? { scale: a, offset: b, maxResidual: resid } : null;
}
