// The loss of a two-tower model on cascade lists (RankTower sec. 3.3): per batch, encodeUser on the G users,
// each user's representation gathered to its L slots, encodeItem on the G*L items, score -> logits [G, L]; then
// either pointwise BCE on the impressions (target: raw feedback > 0), one listwise loss, or the hybrid objective over
// the scopes. The training loop is the Trainer's (list-run.ts makes these lists a batch source and this loss its
// objective). Model-specific extra loss terms (IntTower's CIR, ...) are not added on this path.
import { Tensor } from '../core/index.js';
import * as ops from '../core/ops/index.js';
import type { RecModel } from '../models/types.js';
import { amRankmaxLoss, approxNdcgLoss, distillationLoss, hybridLoss, pairwiseDistillationLoss, rankmaxLoss, rankNetLoss,
  softmaxLoss, sortingLoss, weightedLoglossDistillation, type HybridWeights, type ListBatch, type Scope } from '../train/ranking-losses.js';
import type { CascadeListBatch } from './lists.js';

/** Single listwise losses for the ablation of ranking losses (paper Table 3). */
export const LIST_LOSSES = {
  softmax: softmaxLoss, approxNdcg: approxNdcgLoss, rankNet: rankNetLoss, rankmax: rankmaxLoss, amRankmax: amRankmaxLoss,
  sorting: sortingLoss, distillation: distillationLoss,
} satisfies Record<string, (z: Tensor, b: ListBatch, scope: Scope) => Tensor>;
export type ListLossName = keyof typeof LIST_LOSSES;
/** The distillation term of the hybrid (paper Table 4): eq. 9's listwise softmax, weighted logloss or pairwise. */
export type DistillationVariant = 'softmax' | 'weightedLogloss' | 'pairwise';
export type ListScope = 'impressions' | 'candidates' | 'all';

export type CascadeObjective =
  | { kind: 'pointwise' }
  | { kind: 'hybrid'; weights: HybridWeights; distillation?: DistillationVariant }
  | { kind: 'listwise'; loss: ListLossName; scope?: ListScope };

/** Logits [G, L] of the batch's pairs: through the serving split of a two-tower model, else the model's forward over
 * the G*L (user, item) pairs (single-tower references such as COLD and LR). */
export function listLogits(model: RecModel, b: CascadeListBatch): Tensor {
  const G = b.groups, L = b.slots;
  if (!model.twoTower || !model.encodeUser || !model.encodeItem || !model.score) return ops.reshape(model.forward(b.pairs()), [G, L]);
  const userReps = model.encodeUser(b.users); // [G, U]
  const owner = new Int32Array(G * L);
  for (let s = 0; s < G * L; s++) owner[s] = Math.floor(s / L);
  const perSlot = ops.gather(userReps, Tensor.from(owner, [G * L], 'int32')); // [G*L, U]
  const z = model.score(perSlot, model.encodeItem(b.items)); // [G*L]
  return ops.reshape(z, [G, L]);
}

/** The objective on the batch's logits z [G, L]: a scalar loss and its named parts. */
export function cascadeLoss(z: Tensor, b: CascadeListBatch, objective: CascadeObjective): { loss: Tensor; parts: Record<string, number> } {
  if (objective.kind === 'pointwise') {
    const m = b.scopes.impressions;
    let n = 0;
    for (let s = 0; s < m.length; s++) n += m[s];
    const flat = ops.reshape(z, [b.groups * b.slots]);
    const sum = ops.bceWithLogits(flat, Tensor.from(b.clicked, [flat.size]), { reduction: 'sum', weights: Tensor.from(m, [flat.size]) });
    const loss = ops.scale(sum, 1 / Math.max(n, 1));
    return { loss, parts: { bce: loss.item() } };
  }
  const lb: ListBatch = { groups: b.groups, slots: b.slots, labels: b.labels, teacher: b.teacher };
  if (objective.kind === 'listwise') {
    const loss = LIST_LOSSES[objective.loss](z, lb, b.scopes[objective.scope ?? 'all']);
    return { loss, parts: { [objective.loss]: loss.item() } };
  }
  const variant = objective.distillation ?? 'softmax';
  if (variant === 'softmax') return hybridLoss(z, lb, b.scopes, objective.weights);
  // another distillation term on the impressions, plus the hybrid's other terms
  const w = objective.weights;
  let loss: Tensor | null = null;
  const parts: Record<string, number> = {};
  if (w.sorting > 0 || w.amRankmax > 0) {
    const h = hybridLoss(z, lb, b.scopes, { ...w, distillation: 0 });
    loss = h.loss;
    Object.assign(parts, h.parts);
  }
  if (w.distillation > 0) {
    const d = (variant === 'pairwise' ? pairwiseDistillationLoss : weightedLoglossDistillation)(z, lb, b.scopes.impressions);
    parts.distillation = d.item();
    const weighted = ops.scale(d, w.distillation);
    loss = loss ? ops.add(loss, weighted) : weighted;
  }
  if (!loss) throw new Error('cascade objective: every hybrid weight is 0');
  return { loss, parts };
}
