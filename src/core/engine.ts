// Engine-wide settings and facts: CPU model, the SIMD path in use, the thread pool size.
import { loadedAddon, nativeAddon, nativeLoadError, type EngineInfo } from './kernels/native.js';

export type { EngineInfo } from './kernels/native.js';

export function engineInfo(): EngineInfo & { kernels: 'native' | 'reference'; loadError?: string } {
  const a = nativeAddon();
  if (!a) return { cpu: 'unknown', isa: 'none', detectedIsa: 'none', supportedIsas: [], threads: 1, kernels: 'reference', loadError: nativeLoadError() };
  return { ...a.info(), kernels: 'native' };
}

/** Forces the SIMD path (avx512 | avx2 | portable); throws if the CPU cannot run it or the addon is missing. */
export function setIsa(isa: string): void {
  loadedAddon('setIsa').setIsa(isa);
}

/** Resizes the one compute thread pool (PRERANK_THREADS sets the initial size). */
export function setThreads(n: number): void {
  nativeAddon()?.setThreads(n);
}

export function fmaPeakGflops(isa: string, threads: number, seconds = 0.3): number {
  return loadedAddon('fmaPeakGflops').fmaPeak(isa, threads, seconds);
}
