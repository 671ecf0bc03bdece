// CS3 part 3, cascade model sharing (arXiv 2604.22761), as THIS PROJECT'S INTERPRETATION: the paper was withdrawn
// and only its summary is public. A training strategy that reuses a
// trained downstream ranking model of the zoo (the teacher; DCN or DeepFM, any registered model works):
//   - warm start (`warmStart`): every embedding table of the two-tower model's FieldEmbedder is overwritten, row for
//     row, by the teacher's table of the same feature, once, before training (Adam's slots start from zero);
//   - distillation (`distill`, weight `weight`): loss = the model's own loss + weight * d(student logits, teacher
//     logits), d = BCE against the teacher's probabilities (soft labels) or MSE between logits; the teacher runs in
//     eval mode without a tape on each batch.
// The teacher is a training run directory (config.json + best/ or last/ checkpoint) trained on the same data: its
// data config must have the same name, its checkpoint must fit a model built on this dataset's features (vocabulary
// sizes), and warm start needs the same embedding width; each mismatch stops with a message naming both sides.
// The teacher is not part of the strategy's checkpointed state (it is reloaded from its directory on resume).
// Online (`prerank train --online`) the strategy keeps distilling on every stream batch; the warm start happened in
// the offline phase and is not repeated on the trained model.
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../core/tensor.js';
import { noGrad } from '../../core/tape.js';
import * as ops from '../../core/ops/index.js';
import { loadDataConfig, recipeConfig, type Batch, type Dataset, type RecipeName } from '../../data/index.js';
import type { LossOutput, RecModel } from '../../models/types.js';
import { fieldEmbedderOf } from '../../models/cs3.js';
import { ALL_SOURCES, FieldEmbedder } from '../../models/common/field-embedder.js';
import { TrainingStrategy, type StrategyContext } from './types.js';
import { parseConfig } from '../../util/config.js';

export const Cs3CascadeConfigSchema = z.strictObject({
  teacher: z.string({ error: 'must be the run directory of a trained ranking model (e.g. a DCN run)' }).min(1,
    'must be the run directory of a trained ranking model (e.g. a DCN run)').describe('a training run directory of the teacher (config.json + best/ or last/)'),
  warmStart: z.boolean().default(true).describe("copy the teacher's embedding tables into the student's once, before training"),
  distill: z.enum(['bce', 'mse', 'none']).default('bce')
    .describe("'bce': BCE against sigmoid(teacher logits); 'mse': squared logit gap; 'none': warm start only"),
  weight: z.number().min(0).default(0.5).describe('weight of the distillation term'),
});
export type Cs3CascadeConfig = Partial<z.input<typeof Cs3CascadeConfigSchema>>;

export class Cs3Cascade extends TrainingStrategy {
  readonly kind = 'cs3-cascade';
  /** Embedding tables copied from the teacher (by table name) at construction. */
  readonly warmStarted: string[] = [];

  constructor(model: RecModel, readonly teacher: RecModel, readonly config: Required<Cs3CascadeConfig>, trained = false) {
    super();
    teacher.eval();
    if (config.warmStart && !trained) this.warmStarted = warmStart(model, teacher, config.teacher);
  }

  /** Teacher logits [B] (eval mode, no tape). */
  teacherLogits(batch: Batch): Tensor {
    return noGrad(() => this.teacher.forward(batch));
  }

  override loss(model: RecModel, batch: Batch): LossOutput {
    const out = model.loss(batch);
    if (this.config.distill === 'none' || !(this.config.weight > 0)) return out;
    const t = this.teacherLogits(batch);
    const d = distillation(out.logits, t, this.config.distill);
    const term = ops.scale(d, this.config.weight);
    return { ...out, loss: ops.add(out.loss, term), parts: { ...out.parts, distill: term.item() } };
  }
}

/** BCE of student logits s [B] against sigmoid(t), or mean (s - t)^2; t is a constant. */
export function distillation(s: Tensor, t: Tensor, kind: 'bce' | 'mse'): Tensor {
  if (kind === 'bce') {
    const p = new Float32Array(t.size);
    for (let i = 0; i < p.length; i++) p[i] = 1 / (1 + Math.exp(-t.f[i]));
    return ops.bceWithLogits(s, Tensor.from(p, [p.length]));
  }
  const diff = ops.sub(s, Tensor.from(Float32Array.from(t.f), [t.size]));
  return ops.meanAll(ops.mul(diff, diff));
}

/** Copies the teacher's embedding tables into the student's (same features, same width); returns the table names. */
export function warmStart(student: RecModel, teacher: RecModel, from: string): string[] {
  const s = fieldEmbedderOf(student, 'cs3-cascade warm start');
  const candidates = teacher.namedModules().filter(([, m]) => m instanceof FieldEmbedder && m.dim > 1) as [string, FieldEmbedder][];
  const same = candidates.filter(([, m]) => m.dim === s.dim);
  if (same.length !== 1) {
    throw new Error(`cs3-cascade warm start: the teacher '${teacher.kind}' (${from}) has ${same.length} embedders of width ${s.dim} (the student's embedDim); ` +
      `its embedders: ${candidates.map(([n, m]) => `${n} (dim ${m.dim})`).join(', ') || 'none'}. Train the teacher with the same embedDim.`);
  }
  const t = same[0][1];
  const copied: string[] = [];
  for (const f of s.fieldsOf(ALL_SOURCES)) {
    const dst = s.table(f).table;
    const tf = t.features.find((x) => x.name === f.name && x.kind !== 'dense');
    if (!tf) throw new Error(`cs3-cascade warm start: the teacher '${teacher.kind}' (${from}) has no embedded feature '${f.name}'`);
    const src = t.table(tf).table;
    if (src.shape[0] !== dst.shape[0] || src.shape[1] !== dst.shape[1]) {
      throw new Error(`cs3-cascade warm start: feature '${f.name}': the teacher's table is [${src.shape.join(', ')}], the student's [${dst.shape.join(', ')}] (vocabulary size, embedDim)`);
    }
    const name = f.table ?? f.name;
    if (copied.includes(name)) continue;
    dst.f.set(src.f);
    copied.push(name);
  }
  return copied;
}

/** The name of the data a config points at (a recipe's or a data config file's). */
export const createCs3Cascade = async (ctx: StrategyContext, config: Cs3CascadeConfig): Promise<Cs3Cascade> => {
  const c = parseConfig(Cs3CascadeConfigSchema, config ?? {}, 'cs3-cascade', 'cs3-cascade config');
  if (!ctx.model.twoTower) throw new Error(`cs3-cascade: '${ctx.model.kind}' is not a two-tower model`);
  if (!ctx.loadRun) throw new Error('cs3-cascade: the strategy context has no loadRun to read the teacher run with');
  return new Cs3Cascade(ctx.model, await ctx.loadRun(c.teacher, ctx.data, 'cs3-cascade: teacher'), c, ctx.trained);
};
