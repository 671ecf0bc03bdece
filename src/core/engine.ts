// Engine-wide settings and facts: CPU model, the SIMD path in use, the thread pool size.
import { nativeAddon, nativeLoadError, type EngineInfo, type NativeAddon } from './kernels/native.js';

export type { EngineInfo } from './kernels/native.js';

export function engineInfo(): EngineInfo & { kernels: 'native' | 'reference'; loadError?: string } {
  const a = nativeAddon();
  if (!a) return { cpu: 'unknown', isa: 'none', detectedIsa: 'none', supportedIsas: [], threads: 1, kernels: 'reference', loadError: nativeLoadError() };
  return { ...a.info(), kernels: 'native' };
}

/** The loaded addon, for a setting that has no meaning without it; throws naming the caller otherwise. */
function loadedAddon(caller: string): NativeAddon {
  const a = nativeAddon();
  if (!a) throw new Error(`${caller}: the native addon is not loaded (${nativeLoadError()})`);
  return a;
}

/** Forces the SIMD path (avx512 | avx2 | portable); throws if the CPU cannot run it or the addon is missing. */
export function setIsa(isa: string): void {
  loadedAddon('setIsa').setIsa(isa);
}

/** Turns the bf16 dot-product kernels (max-sim and dot, AVX512_BF16) on or off; throws where the CPU or the addon has none. */
export function setBf16Dot(on: boolean): void {
  loadedAddon('setBf16Dot').setBf16Dot(on);
}

/**
 * How a large scoring step (>= 8M multiply-adds: IntTower 32 x 64 at 1,000 candidates) is shared by the pool threads:
 * in pieces of about `macs` multiply-adds taken one at a time (default 4M; PRERANK_SERVE_PIECE sets it at start-up),
 * or with 0 one equal share per thread. The scores are the same either way.
 */
export function setServePiece(macs: number): void {
  loadedAddon('setServePiece').setServePiece(macs);
}

/** Resizes the one compute thread pool (PRERANK_THREADS sets the initial size). */
export function setThreads(n: number): void {
  nativeAddon()?.setThreads(n);
}

export function fmaPeakGflops(isa: string, threads: number, seconds = 0.3): number {
  return loadedAddon('fmaPeakGflops').fmaPeak(isa, threads, seconds);
}
