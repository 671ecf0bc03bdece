// DSSM as ONNX: per side, field embeddings + dense features -> MLP -> L2 normalisation; logit = <u, v> / T + b.
import { Mlp } from '../../../nn/index.js';
import type { RecModel } from '../../../models/types.js';
import { Dssm } from '../../../models/dssm.js';
import { FieldEmbedder, ITEM_SIDE, USER_SIDE, type Source } from '../../../models/common/field-embedder.js';
import type { OnnxGraph } from '../graph.js';
import { flatten, towerInput } from '../features.js';
import { l2Normalize, mlp, subModule } from '../layers.js';
import { scaledDot } from '../parts.js';
import { paramOf, type Rep, type TwoTowerOnnx } from '../declaration.js';

export function dssmOnnx(model: RecModel): TwoTowerOnnx {
  if (!(model instanceof Dssm)) throw new Error(`onnx export (dssm): expected a DSSM model, got '${model.kind}'`);
  const embed = subModule(model, 'embed', FieldEmbedder, 'dssm');
  const side = (sources: readonly Source[], tower: string) => (g: OnnxGraph): Rep => {
    const t = towerInput(g, embed, sources, 'dssm');
    const net = subModule(model, tower, Mlp, 'dssm');
    const outs = mlp(g, flatten(g, t.fields, t.dense, t.fieldCount * embed.dim), net);
    return { value: l2Normalize(g, outs[outs.length - 1]), width: net.layers[net.layers.length - 1].outFeatures };
  };
  return {
    towers: 2,
    user: side(USER_SIDE, 'user'),
    item: side(ITEM_SIDE, 'item'),
    score: (g, user, items) => scaledDot(g, user, items, model.config.temperature, g.weight(paramOf(model, 'bias', 'dssm'))),
    userDoc: 'the L2-normalised user tower output',
    itemDoc: 'the L2-normalised item tower output',
    scoreDoc: `logit = <user_rep, item_rep> / ${model.config.temperature} + bias`,
  };
}
