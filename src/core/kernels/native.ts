// Loads the C++ addon (build/Release/prerank_native.node). When it is missing or fails to load, prerank keeps
// working on the TypeScript reference kernels and says so once on stderr.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './types.js';

export interface EngineInfo {
  cpu: string;
  isa: string;
  detectedIsa: string;
  supportedIsas: string[];
  threads: number;
  /** Max-sim and dot over bfloat16 item tables use the CPU's bf16 dot-product instruction (AVX512_BF16). */
  bf16Dot?: boolean;
  bf16DotAvailable?: boolean;
  /** The multiply-adds per piece a large scoring step is cut into for the pool threads (0: one share per thread). */
  servePieceMacs?: number;
}

/** native/serve.h: one model's user tower + scoring, built from a ServingPlanSpec (src/models/common/serving.ts). */
export interface NativeServePlan {
  readonly inputLength: number;
  readonly repLength: number;
  readonly itemDim: number;
  /** Multiply-adds per scored candidate. */
  readonly macsPerItem: number;
  encode(input: Float32Array, rep: Float32Array): void;
  /**
   * Candidate k is row rows[k] of table (or row k when rows is null); returns the count written to top. dtype
   * (default float32) says how table stores the reps (src/serve/compiled.ts, TableDType).
   */
  score(input: Float32Array, table: Float32Array | Uint16Array | Int8Array, rows: Int32Array | null, m: number, scores: Float32Array, n: number, top: Int32Array | null, dtype?: string, scales?: Float32Array): number;
  /** The same on a libuv worker thread; table and rows must not change until it settles. */
  scoreAsync(input: Float32Array, table: Float32Array | Uint16Array | Int8Array, rows: Int32Array | null, m: number, n: number, dtype?: string, scales?: Float32Array): Promise<{ scores: Float32Array; top: Int32Array }>;
  /** score() from a given user rep (repLength floats) instead of the tower input: the tower is skipped. */
  scoreRep(rep: Float32Array, table: Float32Array | Uint16Array | Int8Array, rows: Int32Array | null, m: number, scores: Float32Array, n: number, top: Int32Array | null, dtype?: string, scales?: Float32Array): number;
}

export interface NativeAddon extends Omit<Kernels, 'name'> {
  ServePlan: new (spec: object) => NativeServePlan;
  info(): EngineInfo;
  setIsa(isa: string): void;
  setThreads(n: number): void;
  /** Turns the bf16 dot-product kernels on or off (throws when turning them on where they are not available). */
  setBf16Dot(on: boolean): void;
  /** Multiply-adds per piece of a large scoring step on the pool (0: one equal share per thread). */
  setServePiece(macs: number): void;
  fmaPeak(isa: string, threads: number, seconds: number): number;
}

let addon: NativeAddon | null | undefined;
let loadError = '';

function findAddon(): string | null {
  if (process.env.PRERANK_NATIVE_PATH) return existsSync(process.env.PRERANK_NATIVE_PATH) ? process.env.PRERANK_NATIVE_PATH : null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'prerank_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

export function nativeAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  const path = findAddon();
  try {
    if (!path) throw new Error(`${process.env.PRERANK_NATIVE_PATH ?? 'build/Release/prerank_native.node'} not found (was \`npm install\` run with a C++ compiler?)`);
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    addon = null;
    loadError = (err as Error).message;
    process.stderr.write(`prerank: native addon unavailable (${loadError}); using the slow TypeScript reference kernels.\n`);
  }
  return addon;
}

export function nativeLoadError(): string {
  return loadError;
}

export function loadNative(): Kernels | null {
  const a = nativeAddon();
  return a ? { ...a, name: 'native' } : null;
}
