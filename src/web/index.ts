// prerank/web: the serving kernels in WebAssembly, for pages and other runtimes without Node's built-ins, and whole
// bundles loaded over fetch and scored there (docs/WEB.md). Nothing here imports a Node module, and the scorer
// alone imports no package: loadBundle loads the bundle readers and models (which import zod) when first called.
// test/web-requests.test.ts holds the entry to that.
import type { LoadBundleOptions } from './load-bundle.js';
import type { WebBundle } from './web-bundle.js';

/** Fetches the bundle at `url` (its directory, or its manifest.json) and makes it ready to score requests (load-bundle.ts). */
export async function loadBundle(url: string | URL, opts: LoadBundleOptions = {}): Promise<WebBundle> {
  const { loadBundle: load } = await import('./load-bundle.js');
  return load(url, opts);
}

export type { LoadBundleOptions } from './load-bundle.js';
export type { WebBundle, UserColumn, UserVectors } from './web-bundle.js';
export { WebBundleError, type FetchFn } from './bundle-fetch.js';
export { RequestError, type PrerankRequest, type ScoreResponse, type ScoredItem, type UserFeatures, type ItemId, type RawFeatureValue } from '../export/requests.js';
export type { BundleManifest } from '../export/manifest-format.js';
export type { Ids } from '../export/id-table.js';
export { WasmScorer, type WasmLoadOptions } from './wasm-scorer.js';
export { WasmPlan, type WasmScoreOptions, type WasmScores } from './wasm-plan.js';
export { WasmItems, type WasmItemDType, type WasmItemsOptions } from './wasm-items.js';
export { defaultWasmUrl, wasmUrls, wasmBuildFor, wasmSupports, WASM_BUILDS, type WasmBuild, type WasmSource } from './wasm-module.js';
export { WasmScorerError } from './wasm-imports.js';
export type { ServingPlanSpec, PlanStep, PlanScore, GauWeights } from '../models/common/serving.js';
