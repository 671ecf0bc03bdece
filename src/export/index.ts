// prerank/export: serving bundles (manifest + encoders + weights + item representation table).
export { exportBundle, type ExportSource, type ExportOptions, type ExportResult } from './export-bundle.js';
export { Bundle, BundleError, type BundlePart, type BundleLoadOptions, type ItemFeatures, type UserEncodings } from './bundle.js';
export { BUNDLE_FORMAT, FILES, modelHash, type BundleManifest, type ItemsInfo, type AccuracyCost, type RetrievalInfo, type StrategyInfo, type UserEncodingsInfo } from './manifest.js';
export { firstIds, idsOf, readIdTable, type Ids } from './id-table.js';
export { writeIdTable } from './id-table-write.js';
export { quantize, decodeRow, decodeAll, toHalf, ITEM_DTYPES, type ItemDType, type ItemTable } from './item-table.js';
export { publishVersion, readCurrentVersion, listVersions, versionName, parseVersionName, CURRENT_FILE, type VersionRef,
  type PublishOptions } from './versions.js';
export { exportOnnx, exportOnnxBundle, exportOnnxRun, onnxGraphs, ONNX_MODELS, type OnnxExportResult, type OnnxInputsJson } from './onnx/index.js';
