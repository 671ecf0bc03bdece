// The models that can be exported as ONNX: one line per model kind (a kind not listed fails with a clear message).
import type { OnnxDeclaration } from './declaration.js';
import { autoIntOnnx } from './models/autoint.js';
import { coldOnnx } from './models/cold.js';
import { cs3Onnx } from './models/cs3.js';
import { datOnnx } from './models/dat.js';
import { dcnOnnx } from './models/dcn.js';
import { dssmOnnx } from './models/dssm.js';
import { intTowerOnnx } from './models/int-tower.js';
import { lrOnnx } from './models/lr.js';
import { mfOnnx } from './models/mf.js';
import { rankTowerOnnx } from './models/rank-tower.js';
import { deepFmOnnx, wideDeepOnnx } from './models/wide-deep.js';

export const ONNX_MODELS = {
  lr: lrOnnx,
  dssm: dssmOnnx,
  'int-tower': intTowerOnnx,
  'wide-deep': wideDeepOnnx,
  deepfm: deepFmOnnx,
  dcn: dcnOnnx,
  autoint: autoIntOnnx,
  dat: datOnnx,
  cold: coldOnnx,
  mf: mfOnnx,
  'rank-tower': rankTowerOnnx,
  cs3: cs3Onnx,
} satisfies Record<string, OnnxDeclaration>;
