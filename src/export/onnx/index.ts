// ONNX export: a model's towers, scorer and forward as ONNX graphs (opset 17) with inputs.json and encoders.json.
export { exportOnnx, exportOnnxBundle, exportOnnxRun, type OnnxExportOptions, type OnnxExportResult } from './export-onnx.js';
export { datasetSource, encodersSource, type OnnxSource } from './sources.js';
export { onnxGraphs, onnxModelOf, type OnnxGraphFile } from './graphs.js';
export { ONNX_MODELS } from './registry.js';
export { OnnxGraph, OPSET, IR_VERSION, type ElemType, type Dim, type AttrValue } from './graph.js';
export { encodeModel, decodeModel } from './proto.js';
export type { OnnxDeclaration, OnnxModel, TwoTowerOnnx, SingleTowerOnnx, Rep } from './declaration.js';
export type { OnnxInputsJson, OnnxExample } from './inputs-json.js';
