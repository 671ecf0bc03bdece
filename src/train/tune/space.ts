// A tuning search space: dotted paths into a train config ("optimizer.lr", "model.config.dropout",
// "strategy.config.beta") mapped to distributions, and the seeded sampler that draws one trial's values from it.
import { z } from 'zod';
import { Rng } from '../../core/random.js';

const range = (what: string) => z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo <= hi, `${what}: [low, high] with low <= high`);

/** One dimension: a list of choices, a uniform range, a log-uniform range, or an integer range (uniform or log). */
export const DimensionSchema = z.union([
  z.strictObject({ choice: z.array(z.unknown()).min(1).describe('values drawn with equal probability') }),
  z.strictObject({ uniform: range('uniform').describe('[low, high], uniform') }),
  z.strictObject({ log: range('log').refine(([lo]) => lo > 0, 'log: a log range needs low > 0').describe('[low, high], log-uniform (low > 0)') }),
  z.strictObject({
    int: range('int').refine(([lo, hi]) => Number.isInteger(lo) && Number.isInteger(hi), 'int: integer bounds').describe('[low, high], integers, both ends included'),
    log: z.boolean().default(false).describe('log-uniform over the integers (low >= 1)'),
  }).refine((d) => !d.log || d.int[0] >= 1, 'int with log: true needs low >= 1'),
]);
export type Dimension = z.infer<typeof DimensionSchema>;
export type Space = Record<string, Dimension>;

/** One draw of a dimension. */
export function sampleDimension(d: Dimension, rng: Rng): unknown {
  if ('choice' in d) return d.choice[rng.int(d.choice.length)];
  if ('uniform' in d) return d.uniform[0] + rng.uniform() * (d.uniform[1] - d.uniform[0]);
  if ('int' in d) {
    const [lo, hi] = d.int;
    if (!d.log) return lo + rng.int(hi - lo + 1);
    // log-uniform over [lo, hi + 1), floored: each integer weighted by log((k + 1) / k)
    return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + rng.uniform() * (Math.log(hi + 1) - Math.log(lo)))));
  }
  const [lo, hi] = d.log;
  return Math.exp(Math.log(lo) + rng.uniform() * (Math.log(hi) - Math.log(lo)));
}

/**
 * Trial `index`'s values, drawn from its own stream (seed, index): a trial's values do not depend on how many trials
 * ran before it or in which order, so a resumed or widened search draws the same trials.
 */
export function sampleTrial(space: Space, seed: number, index: number): Record<string, unknown> {
  const rng = new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const out: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(space)) out[key] = sampleDimension(d, rng);
  return out;
}

/** The values a dimension's validation tries: every choice, or both ends of a range. */
export function dimensionExtremes(d: Dimension): unknown[] {
  if ('choice' in d) return d.choice;
  if ('uniform' in d) return d.uniform;
  if ('int' in d) return d.int;
  return d.log;
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** A copy of `config` with `value` at the dotted `path`; objects on the way are created (or copied, never shared). */
export function setPath(config: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  if (keys.some((k) => k === '' || FORBIDDEN.has(k))) throw new Error(`'${path}' is not a dotted path of config keys`);
  const root = { ...config };
  let at: Record<string, unknown> = root;
  for (const k of keys.slice(0, -1)) {
    const next = Object.hasOwn(at, k) ? at[k] : undefined;
    if (next !== undefined && (typeof next !== 'object' || next === null || Array.isArray(next))) {
      throw new Error(`'${path}': '${k}' holds ${JSON.stringify(next)}, not an object`);
    }
    at = at[k] = { ...(next as Record<string, unknown> | undefined) };
  }
  at[keys[keys.length - 1]] = value;
  return root;
}

/** The base config with every sampled value set at its path. */
export function applyValues(base: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  let cfg = base;
  for (const [path, v] of Object.entries(values)) cfg = setPath(cfg, path, v);
  return cfg;
}
