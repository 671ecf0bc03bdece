// The one place that chooses how a bundle is scored: single-tower bundles score full pairs; two-tower bundles run
// their compiled native plan when the model has one and the addon is loaded, else encodeUser + score on tensors.
import type { Bundle } from '../../export/bundle.js';
import { compileUserSide } from '../compiled.js';
import type { Scorer, ScorerOptions } from '../scorer.js';
import { NativePlanScorer } from './native-plan.js';
import { SingleTowerScorer } from './single-tower.js';
import { TensorScorer } from './tensor.js';

export function createScorer(bundle: Bundle, opts: ScorerOptions): Scorer {
  if (!bundle.model || !bundle.twoTower) return new SingleTowerScorer(bundle, opts);
  const compiled = compileUserSide(bundle.model);
  return compiled ? new NativePlanScorer(bundle, opts, compiled) : new TensorScorer(bundle, opts);
}

export { NativePlanScorer, SingleTowerScorer, TensorScorer };
export { ScorerBase, type Ranked } from './base.js';
export { TwoTowerScorer } from './two-tower.js';
export { UserRequests, type PreparedUser } from '../../export/user-request.js';
