// The WebAssembly scorer: prerank's serving kernels (native/serve*.cc) compiled to wasm32 with relaxed SIMD,
// SIMD128 or neither, and no threads (scripts/build-wasm.mjs), for scoring candidates where the user's features are: a page, a worker, an
// edge runtime, or Node without the native addon. One instance holds any number of plans and item tables.
import type { ServingPlanSpec } from '../models/common/serving.js';
import { buildPlan } from './plan-spec.js';
import { copyItems, streamItems, type WasmItems, type WasmItemsOptions } from './wasm-items.js';
import { ScorerModule, wasmBuildFor, wasmUrls, WASM_BUILDS, type WasmBuild, type WasmSource } from './wasm-module.js';
import { WasmPlan } from './wasm-plan.js';

export interface WasmLoadOptions {
  /**
   * Which build to fetch when no source is given: 'auto' (default) the fastest this engine validates (relaxed-simd,
   * else simd128, else portable); a build's name forces it (refused where the engine cannot run it).
   */
  build?: WasmBuild | 'auto';
}

export class WasmScorer {
  private simdOn: boolean;
  /** The build this instance runs (what the module was compiled for). */
  readonly build: WasmBuild;

  private constructor(private readonly mod: ScorerModule) {
    this.build = WASM_BUILDS[2 - mod.x.prerank_build_isa()];
    this.simdOn = mod.x.prerank_set_simd(1) === 1;
  }

  /**
   * Instantiates the module: `source` (bytes, a module, a URL, a response), or the build `opts.build` picks from
   * beside this package's code, fetched from its URL (wasmUrls).
   */
  static async load(source?: WasmSource, opts: WasmLoadOptions = {}): Promise<WasmScorer> {
    return new WasmScorer(await ScorerModule.instantiate(source ?? wasmUrls[wasmBuildFor(opts.build)]));
  }

  /** Whether the SIMD kernels run (default, in the SIMD builds) or the portable ones (one float at a time), for every plan of this instance. */
  get simd(): boolean {
    return this.simdOn;
  }

  set simd(on: boolean) {
    this.simdOn = this.mod.x.prerank_set_simd(on ? 1 : 0) === 1;
  }

  /** The kernels that run: the build's ('relaxed-simd', 'simd128'), or 'portable' (that build, or `simd` off). */
  get isa(): WasmBuild {
    return this.simdOn ? this.build : 'portable';
  }

  /** Bytes of module memory in use (it grows as plans and tables are added, and never shrinks). */
  get memoryBytes(): number {
    return this.mod.x.memory.buffer.byteLength;
  }

  /** A model's user side (model.servingPlan().spec), compiled; its weights are copied into the module. */
  compile(spec: ServingPlanSpec): WasmPlan {
    return new WasmPlan(this.mod, buildPlan(this.mod, spec));
  }

  /** An item table copied into the module. */
  items(data: Float32Array | Uint16Array | Int8Array, opts: WasmItemsOptions): WasmItems {
    return copyItems(this.mod, data, opts);
  }

  /** An item table read from a fetch response (or URL) straight into the module. */
  async fetchItems(source: Response | PromiseLike<Response> | URL | string, opts: WasmItemsOptions): Promise<WasmItems> {
    const response = typeof source === 'string' || source instanceof URL ? await fetch(source) : await source;
    return streamItems(this.mod, response, opts);
  }
}
