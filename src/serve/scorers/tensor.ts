// Two-tower bundles without a compiled plan (no native addon, or a configuration the plan cannot express, e.g. a tanh
// tower): the model's own encodeUser on the 1-row batch, store.get of the candidates' reps, model.score on tensors
// (noGrad + scope, eval mode), then the TypeScript topK (ties by position, NaN last, as the native top-n ranks them).
// Shape letters: U user rep width, I item rep width, M candidates found.
import { noGrad, scope } from '../../core/index.js';
import { scoreReps } from '../../models/common/base.js';
import { topK } from '../../eval/top-k.js';
import type { Ranked } from './base.js';
import { TwoTowerScorer } from './two-tower.js';
import type { PreparedUser } from '../../export/user-request.js';

export class TensorScorer extends TwoTowerScorer {
  readonly path = 'tensor' as const;

  protected async rank(user: PreparedUser, ids: string[], n: number): Promise<Ranked> {
    const rep = this.userRep(user); // before the await: the batch is refilled by the next request
    const { found, reps } = await this.store.get(ids);
    const scores = this.scoreReps(rep, reps, found.length);
    return { found, scores, order: topK(scores, n, undefined, 'last'), userRep: user.stored ? 'stored' : 'tower' };
  }

  protected userRep(user: PreparedUser): Float32Array {
    if (user.stored) return user.stored;
    const model = this.bundle.model!;
    return noGrad(() => scope(() => {
      const u = model.encodeUser!(this.requests.batch);
      return (u.data as Float32Array).slice(0, u.cols);
    }));
  }

  /** score(user [1, U], items [M, I]) -> [M]. */
  protected scoreReps(rep: Float32Array, reps: Float32Array, m: number): Float32Array {
    return m === 0 ? new Float32Array(0) : scoreReps(this.bundle.model!, rep, reps, reps.length / m);
  }
}
