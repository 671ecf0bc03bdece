// DAT as ONNX: each tower's input is its field embeddings and dense features followed by the augmented vector
// looked up by the side's id (a_u in the user tower, a_v in the item tower: learned in training by the mimic loss,
// fixed weights when served), then the tower MLP and L2 normalisation; logit = <u, v> / T + b.
// Shape letters: B batch, F fields, D embedding dim, O tower output width.
import { Embedding, Mlp } from '../../../nn/index.js';
import { Dat } from '../../../models/dat.js';
import { FieldEmbedder, ITEM_SIDE, USER_SIDE, idFeature, type Source } from '../../../models/common/field-embedder.js';
import type { RecModel } from '../../../models/types.js';
import type { OnnxGraph } from '../graph.js';
import { idInput, towerInput, flatten } from '../features.js';
import { l2Normalize, mlp, subModule } from '../layers.js';
import { scaledDot } from '../parts.js';
import { paramOf, type Rep, type TwoTowerOnnx } from '../declaration.js';

const WHAT = 'dat';

export function datOnnx(model: RecModel): TwoTowerOnnx {
  if (!(model instanceof Dat)) throw new Error(`onnx export (${WHAT}): expected a DAT model, got '${model.kind}'`);
  const c = model.config;
  const embed = subModule(model, 'embed', FieldEmbedder, WHAT);
  const side = (sources: readonly Source[], source: 'user' | 'item', idName: string, tower: string, aug: string) => (g: OnnxGraph): Rep => {
    const t = towerInput(g, embed, sources, WHAT);
    const id = idInput(g, idFeature(WHAT, embed.features, source, idName)).name;
    const a = g.op('Gather', [g.weight(subModule(model, aug, Embedding, WHAT).table), id], { axis: 0 }); // [B, O]
    const x = t.fields || t.dense ? g.op('Concat', [flatten(g, t.fields, t.dense, t.fieldCount * embed.dim), a], { axis: 1 }) : a;
    const net = subModule(model, tower, Mlp, WHAT);
    const outs = mlp(g, x, net);
    return { value: l2Normalize(g, outs[outs.length - 1]), width: net.layers[net.layers.length - 1].outFeatures };
  };
  return {
    towers: 2,
    user: side(USER_SIDE, 'user', c.userIdFeature, 'user', 'augUser'),
    item: side(ITEM_SIDE, 'item', c.itemIdFeature, 'item', 'augItem'),
    score: (g, user, items) => scaledDot(g, user, items, c.temperature, g.weight(paramOf(model, 'bias', WHAT))),
    userDoc: 'the L2-normalised user tower output (its input ends with the user\'s augmented vector)',
    itemDoc: 'the L2-normalised item tower output (its input ends with the item\'s augmented vector)',
    scoreDoc: `logit = <user_rep, item_rep> / ${c.temperature} + bias`,
  };
}
