// The models that can be exported as ONNX: one line per model kind (a kind not listed fails with a clear message).
import type { OnnxDeclaration } from './declaration.js';
import { dssmOnnx } from './models/dssm.js';
import { intTowerOnnx } from './models/int-tower.js';

export const ONNX_MODELS = {
  dssm: dssmOnnx,
  'int-tower': intTowerOnnx,
} satisfies Record<string, OnnxDeclaration>;
