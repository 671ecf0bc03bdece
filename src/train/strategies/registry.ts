// Every training strategy by its registry name (one line each, like the models).
import type { StrategyFactory } from './types.js';
import { createOneBp, createTwoBp } from './onebp.js';
import { createCs3Cascade } from './cs3-cascade.js';

export const STRATEGIES = {
  onebp: createOneBp,
  twobp: createTwoBp,
  'cs3-cascade': createCs3Cascade,
} satisfies Record<string, StrategyFactory<any>>;

export type StrategyName = keyof typeof STRATEGIES;
