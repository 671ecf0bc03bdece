// Every model, one definition per line (each model's file declares its kind, config schema, tiny config, constructor
// and serving): adding a model is its file plus one line in MODEL_DEFINITIONS. The tables the rest of prerank uses
// (MODELS, MODEL_CONFIGS, TINY_CONFIGS) are derived from the list.
import { z } from 'zod';
import type { ModelContext, RecModel } from './types.js';
import type { ModelDefinition } from './define.js';
import { lr } from './lr.js';
import { dssm } from './dssm.js';
import { dat } from './dat.js';
import { cold } from './cold.js';
import { intTower } from './int-tower.js';
import { wideDeep } from './wide-deep.js';
import { deepFm } from './deepfm.js';
import { dcn } from './dcn.js';
import { autoInt } from './autoint.js';
import { rankTower } from './rank-tower.js';
import { mf } from './mf.js';
import { cs3 } from './cs3.js';
import { refineWith, unknownName } from '../util/config.js';
import { own } from '../util/own.js';

export const MODEL_DEFINITIONS = [
  lr,
  dssm,
  dat,
  cold,
  intTower,
  wideDeep,
  deepFm,
  dcn,
  autoInt,
  rankTower,
  mf,
  cs3,
] as const;

type Definition = (typeof MODEL_DEFINITIONS)[number];
export type ModelName = Definition['kind'];
type ConfigOf<D> = D extends ModelDefinition<string, infer S, RecModel> ? Partial<z.input<S>> : never;
type ModelOf<D> = D extends ModelDefinition<string, z.ZodType, infer M> ? M : never;

/** The config type of each registered model (what its factory takes; {} = its defaults). */
export type ModelConfigs = { [D in Definition as D['kind']]: ConfigOf<D> };

/** Each model's factory: parses its config (defaults filled in, bad keys and values throw) and builds it. */
export const MODELS = byKind((d) => (ctx: ModelContext, config: unknown) => d.build(ctx, config as never, MODELS)) as {
  [D in Definition as D['kind']]: (ctx: ModelContext, config: ConfigOf<D>) => ModelOf<D>
};

/** Each model's config schema (strict: unknown keys are errors); a wrapper's inner config is checked against its base's. */
export const MODEL_CONFIGS = byKind((d): z.ZodType => {
  const wraps = d.wraps;
  if (!wraps) return d.config;
  return d.config.superRefine((c, ctx) => {
    const o = c as Record<string, unknown>;
    const base = own(o, wraps.kind);
    if (typeof base === 'string' && base !== d.kind) checkModelConfig(ctx, base, own(o, wraps.config), [wraps.kind], [wraps.config]);
  });
}) as { [K in ModelName]: z.ZodType };

/** The tiny config each model ships for the tests that build and train every registered model. */
export const TINY_CONFIGS = byKind((d) => d.tiny) as ModelConfigs;

/** The definition of a registered model, or undefined (the name may come from a config or a manifest). */
export function modelDefinition(kind: string): ModelDefinition | undefined {
  return MODEL_DEFINITIONS.find((d) => d.kind === kind);
}

/**
 * Inside a zod superRefine: `kind` must be a registered model and `config` must fit its schema; problems are
 * reported at kindPath / configPath. The config stays as written (the model fills in its defaults when built).
 */
export function checkModelConfig(ctx: z.core.$RefinementCtx, kind: string, config: unknown, kindPath: PropertyKey[], configPath: PropertyKey[]): void {
  const schema = own(MODEL_CONFIGS as Record<string, z.ZodType>, kind);
  if (!schema) unknownName(ctx, 'model', kind, Object.keys(MODEL_CONFIGS), kindPath);
  else refineWith(ctx, schema, config, configPath);
}

/** A model named in a config file: a registered model and its own config ({} = its defaults). */
export const ModelSpecSchema = z.strictObject({
  kind: z.string().describe('a registered model: ' + Object.keys(MODELS).join(', ')),
  config: z.record(z.string(), z.unknown()).default({}).describe("the model's own config ({} = its defaults; `prerank schema model:<kind>`)"),
}).superRefine((m, ctx) => checkModelConfig(ctx, m.kind, m.config, ['kind'], ['config']));

/** { kind: value(definition) } over the definitions, in registry order; a kind registered twice throws. */
function byKind<T>(value: (d: Definition) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const d of MODEL_DEFINITIONS) {
    if (Object.hasOwn(out, d.kind)) throw new Error(`models: '${d.kind}' is registered twice`);
    out[d.kind] = value(d);
  }
  return out;
}
