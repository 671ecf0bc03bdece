// prerank/web: the serving kernels in WebAssembly, for pages and other runtimes without Node's built-ins, and whole
// bundles loaded over fetch and scored there (docs/WEB.md). Nothing here imports a Node module:
// test/web-requests.test.ts holds the entry to that.
export { loadBundle, type LoadBundleOptions } from './load-bundle.js';
export { WebBundle, type UserColumn, type UserVectors } from './web-bundle.js';
export { WebBundleError, type FetchFn } from './bundle-fetch.js';
export { RequestError, type PrerankRequest, type ScoreResponse, type ScoredItem, type UserFeatures, type ItemId, type RawFeatureValue } from '../export/requests.js';
export type { BundleManifest } from '../export/manifest-format.js';
export type { Ids } from '../export/id-table.js';
export { WasmScorer } from './wasm-scorer.js';
export { WasmPlan, type WasmScoreOptions, type WasmScores } from './wasm-plan.js';
export { WasmItems, type WasmItemDType, type WasmItemsOptions } from './wasm-items.js';
export { defaultWasmUrl, type WasmSource } from './wasm-module.js';
export { WasmScorerError } from './wasm-imports.js';
export type { ServingPlanSpec, PlanStep, PlanScore, GauWeights } from '../models/common/serving.js';
