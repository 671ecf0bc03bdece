// Single-tower bundles (wide-deep, deepfm, dcn, autoint, cold, ...): nothing per item can be cached, so every
// candidate is scored as a full (user, item) pair: an [M]-row batch of the user's features repeated beside the
// candidates' encoded item features (held by the bundle), one forward, then the TypeScript topK.
// Shape letters: M candidates found, L a sequence feature's length.
import { noGrad, scope } from '../../core/index.js';
import { allocBatch, type Batch } from '../../data/batch.js';
import { topK } from '../../eval/top-k.js';
import type { Bundle } from '../../export/bundle.js';
import type { ScorerOptions } from '../scorer.js';
import { ScorerBase, type Ranked } from './base.js';
import { fillRow, type PreparedUser } from '../../export/user-request.js';

export class SingleTowerScorer extends ScorerBase {
  readonly path = 'single-tower' as const;

  constructor(bundle: Bundle, opts: ScorerOptions) {
    super(bundle, opts);
    if (!bundle.itemFeatures) throw new Error('Scorer: a single-tower bundle needs its item features (load parts "all")');
  }

  protected rank(user: PreparedUser, ids: string[], n: number): Ranked {
    const found: number[] = [];
    const rows: number[] = [];
    const index = this.bundle.itemFeatures!.ids;
    ids.forEach((id, i) => {
      const r = index.indexOf(id);
      if (r >= 0) {
        found.push(i);
        rows.push(r);
      }
    });
    const m = found.length;
    const scores = m === 0 ? new Float32Array(0) : this.forward(this.pairs(user, rows));
    return { found: Int32Array.from(found), scores, order: topK(scores, n, undefined, 'last') };
  }

  /** The [M]-row batch: the user's features in every row, item features gathered from the bundle's rows. */
  private pairs(user: PreparedUser, rows: number[]): Batch {
    const m = rows.length;
    const features = this.bundle.manifest.features;
    const b = allocBatch(features, m);
    for (let i = 0; i < m; i++) fillRow(b, user.row, i);
    const t = this.bundle.itemFeatures!.tensors;
    for (const f of features) {
      if (f.source !== 'item') continue;
      if (f.kind === 'sparse' || f.kind === 'dense') {
        const src = t.get(`${f.kind}.${f.name}`)!.data;
        const dst = f.kind === 'sparse' ? b.sparse[f.name] : b.dense[f.name];
        for (let i = 0; i < m; i++) dst[i] = src[rows[i]];
      } else {
        const s = b.sequence[f.name];
        const ids = t.get(`sequence.${f.name}.ids`)!.data, lens = t.get(`sequence.${f.name}.lengths`)!.data;
        const L = s.maxLen;
        for (let i = 0; i < m; i++) {
          s.ids.set(ids.subarray(rows[i] * L, rows[i] * L + L) as Int32Array, i * L);
          s.lengths[i] = lens[rows[i]];
        }
      }
    }
    return b;
  }

  private forward(b: Batch): Float32Array {
    const model = this.bundle.model!;
    return noGrad(() => scope(() => (model.forward(b).data as Float32Array).slice(0, b.size)));
  }
}
