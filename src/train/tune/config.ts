// The search config of `prerank tune`: a base train config, a search space over its keys, the trial budget, the
// successive-halving rungs and the sampler's seed. Every value a dimension can take is checked against the train
// config's schema before anything trains, so a misspelt key or an out-of-range value is named up front.
import { z } from 'zod';
import { ConfigError, configIssues, loadConfig, parseConfig } from '../../util/config.js';
import { DataRefSchema, resolveDataRef, TrainConfigSchema, type TrainConfig } from '../config.js';
import { applyValues, DimensionSchema, dimensionExtremes, setPath } from './space.js';

export const TuneConfigSchema = z.strictObject({
  name: z.string().describe('the search name used in every report'),
  /** A train config (`prerank schema train`) that every trial starts from; its `epochs` is the most a trial trains. */
  base: z.record(z.string(), z.unknown()).describe('the train config every trial starts from; its epochs is the most a trial trains'),
  space: z.record(z.string(), DimensionSchema).refine((s) => Object.keys(s).length > 0, 'at least one dimension')
    .describe('dotted train config paths ("optimizer.lr", "model.config.dropout") -> { choice | uniform | log | int }'),
  trials: z.number().int().positive().describe('how many configurations are tried (the base one included when baseline is on)'),
  baseline: z.boolean().default(true)
    .describe('trial 0 trains the base config as it is (every searched key at its base or default value), so the search never keeps a config that validates worse than the starting point'),
  seed: z.number().int().default(1).describe("the sampler's seed: the same seed draws the same trials"),
  parallel: z.number().int().positive().default(1).describe('trials trained at once, each in its own process'),
  asha: z.strictObject({
    minEpochs: z.number().int().positive().default(1).describe('epochs of the first rung'),
    eta: z.number().int().min(2).default(3).describe('rung k trains minEpochs * eta^k epochs; the best 1/eta of a rung are promoted'),
  }).default({ minEpochs: 1, eta: 3 }),
  outDir: z.string(),
});
export type TuneConfig = z.infer<typeof TuneConfigSchema> & { base: Record<string, unknown> };

/** The epochs at which trials are compared: minEpochs * eta^k below the base's epochs, then the base's epochs. */
export function rungEpochs(minEpochs: number, eta: number, maxEpochs: number): number[] {
  const rungs: number[] = [];
  for (let r = minEpochs; r < maxEpochs; r *= eta) rungs.push(r);
  rungs.push(maxEpochs);
  return rungs;
}

/** The train config of one trial (values at their paths), validated; errors name the train config's key. */
export function trialConfig(cfg: TuneConfig, values: Record<string, unknown>, outDir: string): TrainConfig {
  return parseConfig(TrainConfigSchema, { ...applyValues(cfg.base, values), outDir }, 'train');
}

/** Checks the base and every choice / range end of every dimension against the train config's schema. */
function checkSpace(cfg: TuneConfig): void {
  const lines: string[] = [];
  const base = configIssues(TrainConfigSchema, cfg.base, 'tune.base');
  if (!base.ok) lines.push(...base.lines);
  else if ('outDir' in cfg.base) lines.push("tune.base.outDir: trials are written under the search's outDir; remove it");
  for (const [path, d] of Object.entries(cfg.space)) {
    if (path === 'outDir' || path === 'epochs' || path.startsWith('data')) {
      lines.push(`tune.space.${path}: not a tunable key (epochs is the budget: set base.epochs; data and outDir are fixed)`);
      continue;
    }
    for (const v of dimensionExtremes(d)) {
      let trial: Record<string, unknown>;
      try {
        trial = setPath(cfg.base, path, v);
      } catch (e) {
        lines.push(`tune.space.${path}: ${(e as Error).message}`);
        break;
      }
      const r = configIssues(TrainConfigSchema, trial, 'train');
      if (!r.ok) {
        lines.push(...r.lines.map((l) => `tune.space.${path} = ${JSON.stringify(v)}: ${l}`));
        break;
      }
    }
  }
  if (lines.length) throw new ConfigError(`invalid tune config:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

/** Validates a search config object; a relative data config path in the base resolves against baseDir when given. */
export function parseTuneConfig(input: unknown, baseDir?: string): TuneConfig {
  const cfg = parseConfig(TuneConfigSchema, input, 'tune') as TuneConfig;
  const data = DataRefSchema.safeParse(cfg.base.data);
  if (baseDir && data.success) cfg.base = { ...cfg.base, data: resolveDataRef(data.data, baseDir) };
  checkSpace(cfg);
  return cfg;
}

/** Reads a search config file (JSON or YAML). */
export function loadTuneConfig(path: string): TuneConfig {
  return loadConfig(path, 'tune config', parseTuneConfig);
}
