// Every model by its registry name, its config schema, and the tiny config each ships for the parametrised model test.
import { z } from 'zod';
import type { ModelContext, ModelFactory, RecModel } from './types.js';
import { createLr, LR_TINY, LrConfigSchema } from './lr.js';
import { createDssm, DSSM_TINY, DssmConfigSchema } from './dssm.js';
import { createDat, DAT_TINY, DatConfigSchema } from './dat.js';
import { createCold, COLD_TINY, ColdConfigSchema } from './cold.js';
import { createIntTower, INT_TOWER_TINY, IntTowerConfigSchema } from './int-tower.js';
import { createWideDeep, WIDE_DEEP_TINY, WideDeepConfigSchema } from './wide-deep.js';
import { createDeepFm, DEEPFM_TINY, DeepFmConfigSchema } from './deepfm.js';
import { createDcn, DCN_TINY, DcnConfigSchema } from './dcn.js';
import { createAutoInt, AUTOINT_TINY, AutoIntConfigSchema } from './autoint.js';
import { createRankTower, RANK_TOWER_TINY, RankTowerConfigSchema } from './rank-tower.js';
import { createMf, MF_TINY, MfConfigSchema } from './mf.js';
import { createCs3, CS3_TINY, Cs3ConfigSchema, type Cs3Config } from './cs3.js';
import { refineWith, unknownName } from '../util/config.js';
import { own } from '../util/own.js';

export const MODELS = {
  lr: createLr, dssm: createDssm, dat: createDat, cold: createCold, 'int-tower': createIntTower,
  'wide-deep': createWideDeep, deepfm: createDeepFm, dcn: createDcn, autoint: createAutoInt, 'rank-tower': createRankTower,
  mf: createMf, cs3: createCs3Model,
} satisfies Record<string, ModelFactory<any>>;

export type ModelName = keyof typeof MODELS;

/** Each model's config schema (strict: unknown keys are errors); CS3's base config is checked against its base's. */
export const MODEL_CONFIGS = {
  lr: LrConfigSchema, dssm: DssmConfigSchema, dat: DatConfigSchema, cold: ColdConfigSchema, 'int-tower': IntTowerConfigSchema,
  'wide-deep': WideDeepConfigSchema, deepfm: DeepFmConfigSchema, dcn: DcnConfigSchema, autoint: AutoIntConfigSchema,
  'rank-tower': RankTowerConfigSchema, mf: MfConfigSchema,
  cs3: Cs3ConfigSchema.superRefine((c, ctx) => {
    if (c.base !== 'cs3') checkModelConfig(ctx, c.base, c.config, ['base'], ['config']);
  }),
} satisfies Record<ModelName, z.ZodType>;

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
/** The config type of each registered model. */
export type ModelConfigs = { [K in ModelName]: Parameters<(typeof MODELS)[K]>[1] };

export const TINY_CONFIGS: ModelConfigs = {
  lr: LR_TINY, dssm: DSSM_TINY, dat: DAT_TINY, cold: COLD_TINY, 'int-tower': INT_TOWER_TINY,
  'wide-deep': WIDE_DEEP_TINY, deepfm: DEEPFM_TINY, dcn: DCN_TINY, autoint: AUTOINT_TINY, 'rank-tower': RANK_TOWER_TINY,
  mf: MF_TINY, cs3: CS3_TINY,
};

/** CS3 (this project's interpretation) wraps another registered two-tower model, so it is given this registry. */
function createCs3Model(ctx: ModelContext, config: Cs3Config): RecModel {
  return createCs3(ctx, config, MODELS);
}
