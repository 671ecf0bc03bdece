// Every model, one definition per line (each model's file declares its kind, config schema, tiny config, constructor
// and serving): adding a model is its file plus one line in MODEL_DEFINITIONS. The tables the rest of prerank uses
// (MODELS, MODEL_CONFIGS, TINY_CONFIGS) are derived from the list.
import { z } from 'zod';
import type { ModelContext, RecModel } from './types.js';
import { DEFAULT_LR, type ModelDefinition } from './define.js';
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
import { refineWith, unknownName } from '../util/config-parse.js';
import { parseModelConfig } from './common/base.js';
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

/** The tables a list of definitions gives (registryOf). */
export interface ModelTables {
  /** Each model's factory: parses its config (defaults filled in, bad keys and values throw) and builds the model. */
  models: Record<string, (ctx: ModelContext, config: unknown) => RecModel>;
  /** Each model's config schema (strict); a wrapper's inner config is checked against the schema of the model it names. */
  configs: Record<string, z.ZodType>;
  /** Each model's tiny config. */
  tiny: Record<string, unknown>;
}

/** The registry tables of a list of definitions (a kind listed twice throws). */
export function registryOf(definitions: readonly ModelDefinition<string, z.ZodType, RecModel>[]): ModelTables {
  const t: ModelTables = { models: {}, configs: {}, tiny: {} };
  for (const d of definitions) {
    if (Object.hasOwn(t.models, d.kind)) throw new Error(`models: '${d.kind}' is registered twice`);
    t.models[d.kind] = (ctx, config) => d.build(ctx, config as never, t.models);
    t.configs[d.kind] = d.wraps ? wrapperSchema(d, d.wraps, t.configs) : d.config;
    t.tiny[d.kind] = d.tiny;
  }
  return t;
}

const TABLES = registryOf(MODEL_DEFINITIONS);

export const MODELS = TABLES.models as {
  [D in Definition as D['kind']]: (ctx: ModelContext, config: ConfigOf<D>) => ModelOf<D>
};

/** Each model's config schema (strict: unknown keys are errors); CS3's base config is checked against its base's. */
export const MODEL_CONFIGS = TABLES.configs as { [K in ModelName]: z.ZodType };

/** The tiny config each model ships for the tests that build and train every registered model. */
export const TINY_CONFIGS = TABLES.tiny as ModelConfigs;

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

/** A model's config with its defaults filled in, as the model is built with it (a wrapper's inner config as written). */
export function resolvedModelConfig(kind: string, config: unknown): unknown {
  const schema = own(MODEL_CONFIGS as Record<string, z.ZodType>, kind);
  if (!schema) throw new Error(`unknown model '${kind}' (models: ${Object.keys(MODEL_CONFIGS).join(', ')})`);
  return parseModelConfig(kind, schema, config);
}

/** The sampled softmax's temperature for an objective that sets none: the model's own (ModelSpec.softmaxTemperature), else 1. */
export function modelSoftmaxTemperature(kind: string): number {
  return modelDefinition(kind)?.softmaxTemperature ?? 1;
}

/** The learning rate a train config without one uses: the model's own (ModelSpec.lr), else DEFAULT_LR. */
export function modelDefaultLr(kind: string): number {
  return modelDefinition(kind)?.lr ?? DEFAULT_LR;
}

/** A model named in a config file: a registered model and its own config ({} = its defaults). */
export const ModelSpecSchema = z.strictObject({
  kind: z.string().describe('a registered model: ' + Object.keys(MODELS).join(', ')),
  config: z.record(z.string(), z.unknown()).default({}).describe("the model's own config ({} = its defaults; `prerank schema model:<kind>`)"),
}).superRefine((m, ctx) => checkModelConfig(ctx, m.kind, m.config, ['kind'], ['config']));

/** A wrapper's schema: its own, then the config of the model it names checked against that model's schema in `configs`. */
function wrapperSchema(d: ModelDefinition<string, z.ZodType, RecModel>, wraps: { kind: string; config: string }, configs: Record<string, z.ZodType>): z.ZodType {
  return d.config.superRefine((c, ctx) => {
    const o = c as Record<string, unknown>;
    const base = own(o, wraps.kind);
    if (typeof base !== 'string' || base === d.kind) return;
    const schema = own(configs, base);
    if (!schema) unknownName(ctx, 'model', base, Object.keys(configs), [wraps.kind]);
    else refineWith(ctx, schema, own(o, wraps.config), [wraps.config]);
  });
}
