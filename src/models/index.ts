// prerank/models: the model zoo (one file per model, each exporting its definition), its shared pieces and the registry.
export type { RecModel, ModelContext, LossOutput, ModelFactory } from './types.js';
export { defineModel, type ModelDefinition, type ModelSpec, type ModelLookup, type ServingKind } from './define.js';
export { MODELS, MODEL_CONFIGS, MODEL_DEFINITIONS, ModelSpecSchema, TINY_CONFIGS, modelDefinition, type ModelName, type ModelConfigs } from './registry.js';
export { FieldEmbedder, flatInput, flatWidth, USER_SIDE, ITEM_SIDE, ALL_SOURCES, type Source, type FieldEmbedderOptions } from './common/field-embedder.js';
export { lossOf, l2Penalty, oneUser, dotScores, parseModelConfig, COMMON_CONFIG, COMMON_DEFAULTS, DEEP_CONFIG, DEEP_DEFAULTS, TOWER_DIMS,
  type CommonConfig, type InitScheme } from './common/base.js';
export { ModelBase, TwoTowerModel, SingleTowerModel, type DeepOptions, type TowerOutput, type SingleOutput } from './common/model-base.js';
export { LinearPart, makeMlp, normalFill, type MlpOptions } from './common/layers.js';
export { PlanBuilder, normalizedDotSpec, type ServingPlanSpec, type UserServingPlan, type PlanStep, type PlanScore } from './common/serving.js';
export { Lr, lr, type LrConfig } from './lr.js';
export { Dssm, dssm, type DssmConfig } from './dssm.js';
export { Dat, dat, type DatConfig } from './dat.js';
export { Cold, cold, type ColdConfig } from './cold.js';
export { IntTower, intTower, type IntTowerConfig } from './int-tower.js';
export { WideDeep, wideDeep, type WideDeepConfig } from './wide-deep.js';
export { DeepFm, deepFm, fmSecondOrder, type DeepFmConfig } from './deepfm.js';
export { Dcn, dcn, type DcnConfig } from './dcn.js';
export { AutoInt, autoInt, InteractingLayer, type AutoIntConfig } from './autoint.js';
export { RankTower, rankTower, type RankTowerConfig } from './rank-tower.js';
export { Mf, mf, type MfConfig } from './mf.js';
export { Cs3, cs3, type Cs3Config } from './cs3.js';
