// LR as ONNX, served as two towers like the model: user rep = the user + context features' weight sum [B, 1], item
// rep = the item features' [B, 1], logit = user + item + b.
import { ITEM_SIDE, USER_SIDE, type Source } from '../../../models/common/field-embedder.js';
import { LinearPart } from '../../../models/common/layers.js';
import { Lr } from '../../../models/lr.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { subModule } from '../layers.js';
import { linearPart } from '../parts.js';
import { paramOf, type Rep, type TwoTowerOnnx } from '../declaration.js';

const WHAT = 'lr';

export function lrOnnx(model: RecModel): TwoTowerOnnx {
  if (!(model instanceof Lr)) throw new Error(`onnx export (${WHAT}): expected an LR model, got '${model.kind}'`);
  const part = subModule(model, 'linear', LinearPart, WHAT);
  const side = (sources: readonly Source[], name: string) => (g: OnnxGraph): Rep => {
    const value = linearPart(g, part, sources, WHAT);
    if (!value) throw new Error(`onnx export (${WHAT}): the ${name} side has no features`);
    return { value, width: 1 };
  };
  return {
    towers: 2,
    user: side(USER_SIDE, 'user'),
    item: side(ITEM_SIDE, 'item'),
    score: (g, user, items) => g.op('Add', [g.op('Reshape', [g.op('Add', [items, user]), g.int64s([-1])]), g.weight(paramOf(model, 'bias', WHAT))]),
    userDoc: 'the sum of the user and context features\' weights',
    itemDoc: 'the sum of the item features\' weights',
    scoreDoc: 'logit = user_rep + item_rep + bias',
  };
}
