// Every model by its registry name, and the tiny config each ships for the parametrised model test.
import type { ModelContext, ModelFactory, RecModel } from './types.js';
import { createLr, LR_TINY } from './lr.js';
import { createDssm, DSSM_TINY } from './dssm.js';
import { createDat, DAT_TINY } from './dat.js';
import { createCold, COLD_TINY } from './cold.js';
import { createIntTower, INT_TOWER_TINY } from './int-tower.js';
import { createWideDeep, WIDE_DEEP_TINY } from './wide-deep.js';
import { createDeepFm, DEEPFM_TINY } from './deepfm.js';
import { createDcn, DCN_TINY } from './dcn.js';
import { createAutoInt, AUTOINT_TINY } from './autoint.js';
import { createRankTower, RANK_TOWER_TINY } from './rank-tower.js';
import { createMf, MF_TINY } from './mf.js';
import { createCs3, CS3_TINY, type Cs3Config } from './cs3.js';

export const MODELS = {
  lr: createLr, dssm: createDssm, dat: createDat, cold: createCold, 'int-tower': createIntTower,
  'wide-deep': createWideDeep, deepfm: createDeepFm, dcn: createDcn, autoint: createAutoInt, 'rank-tower': createRankTower,
  mf: createMf, cs3: createCs3Model,
} satisfies Record<string, ModelFactory<any>>;

export type ModelName = keyof typeof MODELS;
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
