// The models that can be exported as ONNX: one line per model kind (a kind not listed fails with a clear message).
import type { OnnxDeclaration } from './declaration.js';
import { autoIntOnnx } from './models/autoint.js';
import { dcnOnnx } from './models/dcn.js';
import { dssmOnnx } from './models/dssm.js';
import { intTowerOnnx } from './models/int-tower.js';
import { lrOnnx } from './models/lr.js';
import { deepFmOnnx, wideDeepOnnx } from './models/wide-deep.js';

export const ONNX_MODELS = {
  lr: lrOnnx,
  dssm: dssmOnnx,
  'int-tower': intTowerOnnx,
  'wide-deep': wideDeepOnnx,
  deepfm: deepFmOnnx,
  dcn: dcnOnnx,
  autoint: autoIntOnnx,
} satisfies Record<string, OnnxDeclaration>;
