// prerank/web: the serving kernels in WebAssembly, for pages and other runtimes without Node's built-ins
// (docs/WEB.md). Nothing here imports a Node module: test/web-scorer.test.ts holds the entry to that.
export { WasmScorer } from './wasm-scorer.js';
export { WasmPlan, type WasmScoreOptions, type WasmScores } from './wasm-plan.js';
export { WasmItems, type WasmItemDType, type WasmItemsOptions } from './wasm-items.js';
export { defaultWasmUrl, type WasmSource } from './wasm-module.js';
export { WasmScorerError } from './wasm-imports.js';
export type { ServingPlanSpec, PlanStep, PlanScore, GauWeights } from '../models/common/serving.js';
