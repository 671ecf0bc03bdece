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
}

/** The addon's engine half: the kernels and the engine settings. Other parts of the addon are typed where they are used. */
export interface NativeAddon extends Omit<Kernels, 'name'> {
  info(): EngineInfo;
  setIsa(isa: string): void;
  setThreads(n: number): void;
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

/** The loaded addon, for a call that has no meaning without it; throws naming the caller otherwise. */
export function loadedAddon(caller: string): NativeAddon {
  const a = nativeAddon();
  if (!a) throw new Error(`${caller}: the native addon is not loaded (${loadError})`);
  return a;
}

export function loadNative(): Kernels | null {
  const a = nativeAddon();
  return a ? { ...a, name: 'native' } : null;
}
