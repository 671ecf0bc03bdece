// Loads the C++ addon (build/Release/prerank_native.node). When it is missing or fails to load, prerank keeps
// working on the TypeScript reference kernels and says so once on stderr. Node's modules are taken from the running
// process (process.getBuiltinModule, Node >= 20.16) rather than imported, so that core loads in a page as well
// (prerank/web builds a bundle's model there): outside Node there is no addon and the reference kernels run.
import type * as NodeFs from 'node:fs';
import type * as NodeModule from 'node:module';
import type * as NodePath from 'node:path';
import type * as NodeUrl from 'node:url';
import type { Kernels } from './types.js';

interface NodeHost {
  env: Record<string, string | undefined>;
  stderr: { write(s: string): unknown };
  fs: typeof NodeFs;
  module: typeof NodeModule;
  path: typeof NodePath;
  url: typeof NodeUrl;
}

type NodeProcess = { env: NodeHost['env']; stderr: NodeHost['stderr']; versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };

/** Node's process and the built-ins the loader needs; null outside Node; throws on a Node without getBuiltinModule. */
function nodeHost(): NodeHost | null {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (!proc?.versions?.node) return null;
  const get = proc.getBuiltinModule;
  if (typeof get !== 'function') {
    const why = `Node ${proc.versions.node} has no getBuiltinModule on its process object (Node >= 20.16 has)`;
    proc.stderr.write(`prerank: native addon unavailable (${why}); using the slow TypeScript reference kernels.\n`);
    throw new Error(why);
  }
  const load = <T>(id: string): T => get.call(proc, id) as T;
  return { env: proc.env, stderr: proc.stderr, fs: load('node:fs'), module: load('node:module'), path: load('node:path'), url: load('node:url') };
}

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

function findAddon(host: NodeHost): string | null {
  const { fs: { existsSync }, path: { dirname, join } } = host;
  const given = host.env.PRERANK_NATIVE_PATH;
  if (given) return existsSync(given) ? given : null;
  let dir = dirname(host.url.fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'prerank_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

export function nativeAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  let host: NodeHost | null;
  try {
    host = nodeHost();
  } catch (e) {
    loadError = (e as Error).message;
    return (addon = null);
  }
  if (!host) {
    // a page, a worker or an edge runtime: no addon to load, and nothing to warn about
    loadError = 'not running in Node';
    return (addon = null);
  }
  const path = findAddon(host);
  try {
    if (!path) throw new Error(`${host.env.PRERANK_NATIVE_PATH ?? 'build/Release/prerank_native.node'} not found (was \`npm install\` run with a C++ compiler?)`);
    addon = host.module.createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    addon = null;
    loadError = (err as Error).message;
    host.stderr.write(`prerank: native addon unavailable (${loadError}); using the slow TypeScript reference kernels.\n`);
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
