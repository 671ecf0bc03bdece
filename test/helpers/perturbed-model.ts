// A registry model whose parameters and batch-norm statistics are away from their initial values (LayerNorm gains
// of 1, zero biases...), so each one matters in a comparison: one training-mode pass over the train split updates
// the running statistics, then every parameter moves by N(0, 0.05²). Returned in eval mode.
import { Rng, noGrad, scope } from '../../src/core/index.js';
import type { Dataset } from '../../src/data/index.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../../src/models/registry.js';
import type { RecModel } from '../../src/models/types.js';

export function perturbedModel(ds: Dataset, kind: ModelName, extra: Record<string, unknown> = {}): RecModel {
  const model = MODELS[kind]({ features: ds.features, rng: new Rng(7) }, { ...TINY_CONFIGS[kind], ...extra } as never) as RecModel;
  model.train();
  noGrad(() => {
    for (const b of ds.batches('train', { batchSize: 64, shuffle: true, seed: 1 }).epoch(0)) scope(() => void model.forward(b));
  });
  const rng = new Rng(11);
  for (const t of model.parameters()) for (let i = 0; i < t.size; i++) t.f[i] += 0.05 * rng.normal();
  model.eval();
  return model;
}
