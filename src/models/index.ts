// prerank/models: the model zoo (one file per model), its shared pieces and the registry.
export type { RecModel, ModelContext, LossOutput, ModelFactory } from './types.js';
export { MODELS, MODEL_CONFIGS, ModelSpecSchema, TINY_CONFIGS, type ModelName, type ModelConfigs } from './registry.js';
export { FieldEmbedder, flatInput, flatWidth, USER_SIDE, ITEM_SIDE, ALL_SOURCES, type Source, type FieldEmbedderOptions } from './common/field-embedder.js';
export { TwoTowerModel, SingleTowerModel, lossOf, l2Penalty, oneUser, dotScores, parseModelConfig, COMMON_CONFIG, COMMON_DEFAULTS, DEEP_CONFIG, DEEP_DEFAULTS, TOWER_DIMS,
  type CommonConfig, type InitScheme, type TowerOutput, type SingleOutput } from './common/base.js';
export { LinearPart, makeMlp, normalFill, type MlpOptions } from './common/layers.js';
export { Lr, createLr, LrConfigSchema, LR_DEFAULTS, LR_TINY, type LrConfig } from './lr.js';
export { Dssm, createDssm, DssmConfigSchema, DSSM_DEFAULTS, DSSM_TINY, type DssmConfig } from './dssm.js';
export { Dat, createDat, DatConfigSchema, DAT_DEFAULTS, DAT_TINY, type DatConfig } from './dat.js';
export { Cold, createCold, ColdConfigSchema, COLD_DEFAULTS, COLD_TINY, type ColdConfig } from './cold.js';
export { IntTower, createIntTower, IntTowerConfigSchema, INT_TOWER_DEFAULTS, INT_TOWER_TINY, type IntTowerConfig } from './int-tower.js';
export { WideDeep, createWideDeep, WideDeepConfigSchema, WIDE_DEEP_DEFAULTS, WIDE_DEEP_TINY, type WideDeepConfig } from './wide-deep.js';
export { DeepFm, createDeepFm, DeepFmConfigSchema, DEEPFM_DEFAULTS, DEEPFM_TINY, fmSecondOrder, type DeepFmConfig } from './deepfm.js';
export { Dcn, createDcn, DcnConfigSchema, DCN_DEFAULTS, DCN_TINY, type DcnConfig } from './dcn.js';
export { AutoInt, createAutoInt, AutoIntConfigSchema, AUTOINT_DEFAULTS, AUTOINT_TINY, InteractingLayer, type AutoIntConfig } from './autoint.js';
export { RankTower, createRankTower, RankTowerConfigSchema, RANK_TOWER_DEFAULTS, RANK_TOWER_TINY, type RankTowerConfig } from './rank-tower.js';
export { PlanBuilder, normalizedDotSpec, type ServingPlanSpec, type UserServingPlan, type PlanStep, type PlanScore } from './common/serving.js';
export { Mf, createMf, MfConfigSchema, MF_DEFAULTS, MF_TINY, type MfConfig } from './mf.js';
