// Every item entity's rep [N, I] from a two-tower model's item tower, as a serving table.
import { noGrad, scope } from '../../src/core/index.js';
import type { Dataset } from '../../src/data/index.js';
import type { RecModel } from '../../src/models/types.js';

export function itemTable(ds: Dataset, model: RecModel): { table: Float32Array; dim: number; n: number } {
  const n = ds.itemCount;
  const b = ds.fillItems(ds.itemBatch(n), Int32Array.from({ length: n }, (_, i) => i));
  return noGrad(() => scope(() => {
    const t = model.encodeItem!(b);
    return { table: Float32Array.from(t.f), dim: t.shape[1], n };
  }));
}
