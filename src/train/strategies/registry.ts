// Every training strategy by its registry name (one line each, like the models), and its config schema.
import { z } from 'zod';
import type { StrategyFactory } from './types.js';
import { createOneBp, createTwoBp, OneBpConfigSchema, TwoBpConfigSchema } from './onebp.js';
import { createCs3Cascade, Cs3CascadeConfigSchema } from './cs3-cascade.js';
import { refineWith, unknownName } from '../../util/config.js';
import { own } from '../../util/own.js';

export const STRATEGIES = {
  onebp: createOneBp,
  twobp: createTwoBp,
  'cs3-cascade': createCs3Cascade,
} satisfies Record<string, StrategyFactory<any>>;

export type StrategyName = keyof typeof STRATEGIES;

/** Each strategy's config schema (strict: unknown keys are errors). */
export const STRATEGY_CONFIGS = {
  onebp: OneBpConfigSchema, twobp: TwoBpConfigSchema, 'cs3-cascade': Cs3CascadeConfigSchema,
} satisfies Record<StrategyName, z.ZodType>;

/** A training strategy named in a config file, its config checked against the strategy's schema (kept as written). */
export const StrategySpecSchema = z.strictObject({
  kind: z.string().describe('a registered training strategy: ' + Object.keys(STRATEGIES).join(', ')),
  config: z.record(z.string(), z.unknown()).default({}).describe("the strategy's own config ({} = its defaults; `prerank schema strategy:<kind>`)"),
}).superRefine((s, ctx) => {
  const schema = own(STRATEGY_CONFIGS as Record<string, z.ZodType>, s.kind);
  if (!schema) unknownName(ctx, 'training strategy', s.kind, Object.keys(STRATEGY_CONFIGS), ['kind']);
  else refineWith(ctx, schema, s.config, ['config']);
});
