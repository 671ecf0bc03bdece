// CS3 as ONNX: the base model's towers and scorer, with CS3's field rewrite inside each tower as the model serves
// it. Sync: shift = s_other W (the other tower's frozen statistic, a buffer) added to the side's field embeddings.
// Cycle: pass 1 runs the base tower over e + shift, its rep r1 gives the gates g = 2 sigmoid(gate MLP(r1)) [B, F],
// pass 2 runs the base tower again over e * g + shift, and its rep is the tower's. The scorer is the base's.
// Shape letters: B batch, F fields of a side, D embedding dim, W the other side's rep width.
import type { Source } from '../../../models/common/field-embedder.js';
import { Cs3 } from '../../../models/cs3.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { withFieldTransform, type GraphFieldTransform } from '../features.js';
import { linear, mlp } from '../layers.js';
import type { OnnxModel, Rep, TwoTowerOnnx } from '../declaration.js';

const WHAT = 'cs3';

const sameSources = (a: readonly Source[], b: readonly Source[]): boolean => a.length === b.length && a.every((s) => b.includes(s));

export function cs3Onnx(model: RecModel, declare: (inner: RecModel) => OnnxModel): TwoTowerOnnx {
  if (!(model instanceof Cs3)) throw new Error(`onnx export (${WHAT}): expected a CS3 model, got '${model.kind}'`);
  const base = declare(model.base);
  if (base.towers !== 2) throw new Error(`onnx export (${WHAT}): the base '${model.base.kind}' is not exported as two towers`);
  const embed = model.embedder;
  type Side = Cs3['user'];

  /** [1, F, D]: the side's sync shift from the other side's statistic, or null without sync. */
  const shiftOf = (g: OnnxGraph, s: Side, other: Side): string | null => {
    if (!s.proj || !other.mean) return null;
    const stat = g.op('Reshape', [g.weight(other.mean), g.int64s([1, other.width])]); // [1, W]
    return g.op('Reshape', [linear(g, stat, s.proj), g.int64s([1, s.fields, embed.dim])]);
  };

  /** The side's field rewrite: e * gates + shift (gates [B, F] or none, shift or none). */
  const rewrite = (s: Side, shift: string | null, gates: string | null): GraphFieldTransform => (g, e, sources) => {
    if (!sameSources(sources, s.sources)) {
      if (sameSources(sources, model.user.sources) || sameSources(sources, model.item.sources)) {
        throw new Error(`onnx export (${WHAT}): the ${s.name} tower of '${model.base.kind}' embeds the other tower's fields`);
      }
      return e;
    }
    const x = gates ? g.op('Mul', [e, g.op('Unsqueeze', [gates, g.int64s([2])])]) : e;
    return shift ? g.op('Add', [x, shift]) : x;
  };

  const side = (s: Side, other: Side, baseSide: (g: OnnxGraph) => Rep) => (g: OnnxGraph): Rep => {
    const shift = shiftOf(g, s, other);
    const r1 = withFieldTransform(g, embed, rewrite(s, shift, null), () => baseSide(g));
    if (!s.gate) return r1;
    const gates = g.op('Mul', [g.op('Sigmoid', [mlp(g, r1.value, s.gate).at(-1)!]), g.floats([2], [])]); // [B, F]
    return withFieldTransform(g, embed, rewrite(s, shift, gates), () => baseSide(g));
  };

  const parts = [model.cycle && 'cycle gates (two passes of the base tower)', model.sync && 'the sync shift'].filter(Boolean).join(' and ');
  const how = parts ? ` (${parts} on the field embeddings)` : '';
  return {
    towers: 2,
    user: side(model.user, model.item, base.user),
    item: side(model.item, model.user, base.item),
    score: base.score,
    userDoc: `${model.base.kind}: ${base.userDoc}${how}`,
    itemDoc: `${model.base.kind}: ${base.itemDoc}${how}`,
    scoreDoc: base.scoreDoc,
  };
}
