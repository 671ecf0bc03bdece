// The scorer module's instance (native/wasm/web_abi.cc): loading it from bytes, a URL or a fetch response, its
// exports typed, and the memory helpers the plan and item classes share (allocation, copies in and out, calls that
// restore the stack when the module throws). No Node built-ins: a page imports this as it is.
import { scorerImports, WasmScorerError } from './wasm-imports.js';

/** Where the module is: its bytes, a compiled module, a fetch response (or its promise), or a URL to fetch. */
export type WasmSource = ArrayBuffer | ArrayBufferView | WebAssembly.Module | Response | PromiseLike<Response> | URL | string;

/**
 * The three builds of the module (scripts/build-wasm.mjs): SIMD128 with relaxed SIMD's fused multiply-add, SIMD128,
 * and scalar code only. Each engine runs the first its WebAssembly accepts (wasmBuildFor).
 */
export type WasmBuild = 'relaxed-simd' | 'simd128' | 'portable';
export const WASM_BUILDS: readonly WasmBuild[] = ['relaxed-simd', 'simd128', 'portable'];

/** Each build beside this package's code (dist/wasm/). */
export const wasmUrls: Readonly<Record<WasmBuild, URL>> = {
  'relaxed-simd': new URL('../../wasm/prerank-scorer-relaxed.wasm', import.meta.url),
  simd128: new URL('../../wasm/prerank-scorer.wasm', import.meta.url),
  portable: new URL('../../wasm/prerank-scorer-portable.wasm', import.meta.url),
};

/** The SIMD128 build beside this package's code (dist/wasm/prerank-scorer.wasm): the one Node 20 runs. */
export const defaultWasmUrl = wasmUrls.simd128;

// Feature probes: one function (param v128 v128 v128) (result v128) of local.gets and one instruction, f32x4.add
// (fd e4 01) or f32x4.relaxed_madd in its final encoding (fd 85 02).
const probe = (body: number[]): Uint8Array<ArrayBuffer> => new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, body.length + 4, 0x01, body.length + 2, 0x00, ...body, 0x0b]);
const PROBES: Record<Exclude<WasmBuild, 'portable'>, Uint8Array<ArrayBuffer>> = {
  'relaxed-simd': probe([0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02]),
  simd128: probe([0x20, 0x00, 0x20, 0x01, 0xfd, 0xe4, 0x01]),
};

/** Whether this engine's WebAssembly runs `build` (validates its probe module). */
export function wasmSupports(build: WasmBuild): boolean {
  return build === 'portable' || WebAssembly.validate(PROBES[build]);
}

/**
 * The build to load: `build` itself when given (refused when this engine cannot run it), else the first of
 * relaxed-simd, simd128, portable that it runs. Node 20 (V8 11.3) validates no relaxed SIMD: simd128 there.
 */
export function wasmBuildFor(build: WasmBuild | 'auto' = 'auto'): WasmBuild {
  if (build === 'auto') return WASM_BUILDS.find(wasmSupports)!;
  if (!WASM_BUILDS.includes(build)) throw new WasmScorerError(`build must be one of auto, ${WASM_BUILDS.join(', ')}; got ${JSON.stringify(build)}`);
  if (!wasmSupports(build)) throw new WasmScorerError(`this engine's WebAssembly does not validate ${build} (build: 'auto' picks what it runs)`);
  return build;
}

export interface ScorerExports {
  memory: WebAssembly.Memory;
  __stack_pointer: WebAssembly.Global;
  _initialize(): void;
  prerank_alloc(bytes: number): number;
  prerank_free(ptr: number): void;
  prerank_plan_new(arena: number, input: number, repOffset: number, repLength: number): number;
  prerank_plan_step(b: number, kind: number, src: number, dst: number, aux: number, inn: number, out: number, rows: number, tail: number,
    act: number, residual: number, eps: number, scale: number, w: number, wLen: number, bias: number, bLen: number): void;
  prerank_builder_free(b: number): void;
  prerank_plan_number(b: number, key: number, v: number): void;
  prerank_plan_floats(b: number, key: number, ptr: number, n: number): void;
  prerank_plan_finish(b: number, kind: number, scale: number, bias: number): number;
  prerank_plan_delete(p: number): void;
  prerank_plan_input_len(p: number): number;
  prerank_plan_rep_len(p: number): number;
  prerank_plan_item_dim(p: number): number;
  prerank_plan_macs(p: number): number;
  prerank_encode(p: number, input: number, rep: number): void;
  prerank_score(p: number, fromRep: number, user: number, fmt: number, table: number, scales: number, rows: number, m: number,
    scores: number, n: number, top: number): number;
  prerank_set_simd(on: number): number;
  prerank_build_isa(): number;
}

// Every export ScorerExports names (a module built by another prerank version lacks some).
const REQUIRED_EXPORTS = ['memory', '__stack_pointer', '_initialize', 'prerank_alloc', 'prerank_free', 'prerank_plan_new', 'prerank_plan_step',
  'prerank_builder_free', 'prerank_plan_number', 'prerank_plan_floats', 'prerank_plan_finish', 'prerank_plan_delete', 'prerank_plan_input_len',
  'prerank_plan_rep_len', 'prerank_plan_item_dim', 'prerank_plan_macs', 'prerank_encode', 'prerank_score', 'prerank_set_simd',
  'prerank_build_isa'] as const satisfies readonly (keyof ScorerExports)[];

async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source as BufferSource);
  let response: Response;
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    if (url.protocol === 'file:') {
      throw new WasmScorerError(`cannot fetch ${url.href}: fetch reads no file: URLs; pass the module's bytes instead (e.g. readFile(defaultWasmUrl))`);
    }
    response = await fetch(url);
  } else {
    response = await source;
  }
  if (!response.ok) throw new WasmScorerError(`cannot load the scorer module from ${response.url || 'the response'}: HTTP ${response.status}`);
  // Streaming compilation needs the server to say application/wasm; otherwise read it whole.
  if (response.headers.get('content-type')?.startsWith('application/wasm')) return WebAssembly.compileStreaming(response);
  return WebAssembly.compile(await response.arrayBuffer());
}

export class ScorerModule {
  private constructor(readonly x: ScorerExports) {}

  static async instantiate(source: WasmSource): Promise<ScorerModule> {
    const module = await compileSource(source);
    let memory: WebAssembly.Memory | null = null;
    const instance = await WebAssembly.instantiate(module, scorerImports(() => memory!));
    const x = instance.exports as unknown as ScorerExports;
    const missing = REQUIRED_EXPORTS.filter((name) => !(name in x));
    if (missing.length) {
      throw new WasmScorerError(`the module lacks ${missing.join(', ')}: not a scorer module of this prerank version (scripts/build-wasm.mjs builds it: npm run build:wasm)`);
    }
    memory = x.memory;
    x._initialize();
    return new ScorerModule(x);
  }

  /**
   * fn's result; when the module throws (env.prerank_throw or a trap), its stack pointer is put back first: the
   * unwinding skips the C++ epilogues that would restore it.
   */
  call<T>(fn: (x: ScorerExports) => T): T {
    const sp = this.x.__stack_pointer.value as number;
    try {
      return fn(this.x);
    } catch (e) {
      this.x.__stack_pointer.value = sp;
      throw e instanceof WebAssembly.RuntimeError ? new WasmScorerError(`the scorer module trapped: ${e.message}`) : e;
    }
  }

  alloc(bytes: number): number {
    const ptr = this.x.prerank_alloc(Math.max(bytes, 1));
    if (ptr === 0) throw new WasmScorerError(`the scorer module is out of memory (${bytes} bytes asked for)`);
    return ptr;
  }

  free(ptr: number): void {
    if (ptr) this.x.prerank_free(ptr);
  }

  /** A view of module memory (made afresh: the memory's buffer changes when it grows). */
  bytes(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, ptr, n);
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.x.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.x.memory.buffer, ptr, n);
  }

  /** A copy of `data` in module memory (free it). */
  copyIn(data: ArrayBufferView): number {
    const ptr = this.alloc(data.byteLength);
    this.bytes(ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  }

  /** A NUL-terminated UTF-8 copy of s (free it). */
  cString(s: string): number {
    const utf8 = new TextEncoder().encode(s);
    const ptr = this.alloc(utf8.length + 1);
    const b = this.bytes(ptr, utf8.length + 1);
    b.set(utf8);
    b[utf8.length] = 0;
    return ptr;
  }
}
