// Every training strategy by its registry name (one line each, like the models).
import type { StrategyFactory } from './types.js';
import { createOneBp, createTwoBp } from './onebp.js';

export const STRATEGIES = {
  onebp: createOneBp,
  twobp: createTwoBp,
} satisfies Record<string, StrategyFactory<any>>;

export type StrategyName = keyof typeof STRATEGIES;
