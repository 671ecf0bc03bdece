// DCN as ONNX (model.onnx): x0 = [flattened field embeddings, dense features]; cross layers
// x_{l+1} = x0 (x_l . w_l) + b_l + x_l; the deep MLP over x0; logit = [x_L, deep] w_out (+ wide) + b.
// Shape letters: B batch, K input width.
import { Linear, Mlp } from '../../../nn/index.js';
import { ALL_SOURCES, FieldEmbedder } from '../../../models/common/field-embedder.js';
import { LinearPart } from '../../../models/common/layers.js';
import { Dcn } from '../../../models/dcn.js';
import type { RecModel } from '../../../models/types.js';
import { denseBlock, fieldEmbeddings, flatten } from '../features.js';
import { linear, mlp, optionalModule, subModule } from '../layers.js';
import { linearPart, logits } from '../parts.js';
import { paramOf, type SingleTowerOnnx } from '../declaration.js';

const WHAT = 'dcn';

export function dcnOnnx(model: RecModel): SingleTowerOnnx {
  if (!(model instanceof Dcn)) throw new Error(`onnx export (${WHAT}): expected a DCN model, got '${model.kind}'`);
  const embed = subModule(model, 'embed', FieldEmbedder, WHAT);
  return {
    towers: 1,
    forward(g) {
      const fields = fieldEmbeddings(g, embed, ALL_SOURCES, WHAT);
      const x0 = flatten(g, fields, denseBlock(g, embed, ALL_SOURCES), embed.fieldsOf(ALL_SOURCES).length * embed.dim); // [B, K]
      let x = x0;
      for (let l = 0; l < model.config.crossLayers; l++) {
        const xw = linear(g, x, subModule(model, `cross.w${l}`, Linear, WHAT)); // [B, 1]
        x = g.op('Add', [g.op('Add', [g.op('Mul', [x0, xw]), g.weight(paramOf(model, `cross.b${l}`, WHAT))]), x]);
      }
      const deep = mlp(g, x0, subModule(model, 'dnn', Mlp, WHAT));
      const head = linear(g, g.op('Concat', [x, deep[deep.length - 1]], { axis: 1 }), subModule(model, 'out', Linear, WHAT)); // [B, 1]
      const wideModule = optionalModule(model, 'wide', LinearPart);
      const wide = wideModule ? linearPart(g, wideModule, ALL_SOURCES, WHAT) : null;
      return logits(g, [head, wide], g.weight(paramOf(model, 'bias', WHAT)), WHAT);
    },
    doc: 'logit = [cross network output, deep MLP output] w_out (+ wide) + bias',
  };
}
