// The native addon's serving half (native/serve.cc): a model's user side compiled for one call per request
// (ServePlan), the bf16 dot-product kernels and how a large scoring step is shared by the pool threads. The addon is
// loaded by core (src/core/kernels/native.ts), which types only its engine half.
import { loadedAddon, nativeAddon } from '../core/kernels/native.js';

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

/** The serving settings, as the addon reports them beside the engine's facts. */
export interface ServeInfo {
  /** Max-sim and dot over bfloat16 item tables use the CPU's bf16 dot-product instruction (AVX512_BF16). */
  bf16Dot: boolean;
  bf16DotAvailable: boolean;
  /** The multiply-adds per piece a large scoring step is cut into for the pool threads (0: one share per thread). */
  servePieceMacs: number;
}

export interface ServeAddon {
  /** Checks every field of the spec (a ServingPlanSpec) and throws naming the first one that is wrong. */
  ServePlan: new (spec: object) => NativeServePlan;
  info(): ServeInfo;
  /** Turns the bf16 dot-product kernels on or off (throws when turning them on where they are not available). */
  setBf16Dot(on: boolean): void;
  /** Multiply-adds per piece of a large scoring step on the pool (0: one equal share per thread). */
  setServePiece(macs: number): void;
  /** Candidate rows the dot and max-sim kernels prefetch ahead of the one they score (0: none). */
  setRowPrefetch(rows: number): void;
}

/** The loaded addon seen from serving (the object core loads carries both halves), or null when it is not loaded. */
export function serveAddon(): ServeAddon | null {
  return nativeAddon() as unknown as ServeAddon | null;
}

const loaded = (caller: string): ServeAddon => loadedAddon(caller) as unknown as ServeAddon;

/** The serving settings in force, or null when the addon is not loaded (the tensor path serves then). */
export function serveInfo(): ServeInfo | null {
  const a = serveAddon();
  if (!a) return null;
  const { bf16Dot, bf16DotAvailable, servePieceMacs } = a.info();
  return { bf16Dot, bf16DotAvailable, servePieceMacs };
}

/** Turns the bf16 dot-product kernels (max-sim and dot, AVX512_BF16) on or off; throws where the CPU or the addon has none. */
export function setBf16Dot(on: boolean): void {
  loaded('setBf16Dot').setBf16Dot(on);
}

/**
 * How a large scoring step (>= 8M multiply-adds: IntTower 32 x 64 at 1,000 candidates) is shared by the pool threads:
 * in pieces of about `macs` multiply-adds taken one at a time (default 4M; PRERANK_SERVE_PIECE sets it at start-up),
 * or with 0 one equal share per thread. The scores are the same either way.
 */
export function setServePiece(macs: number): void {
  loaded('setServePiece').setServePiece(macs);
}

/**
 * How many candidate rows ahead of the one it scores the dot kernel (DSSM-like scores) and the max-sim kernel
 * (IntTower) prefetch over a float32 table: 0 to 256, default 4 (PRERANK_ROW_PREFETCH sets it at start-up). The
 * scores are the same either way; docs/SERVING.md ("Row prefetch in the kernels") has what it buys at 1M items.
 */
export function setRowPrefetch(rows: number): void {
  loaded('setRowPrefetch').setRowPrefetch(rows);
}
