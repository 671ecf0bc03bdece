// The built WebAssembly scorer for tests: its bytes, or the reason it is missing. CI installs the toolchain
// (scripts/install-wasm-toolchain.sh) and `npm ci` builds it there, so a missing module fails under CI=true and
// skips elsewhere, saying how to build it.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultWasmUrl } from '../../src/web/index.js';

export const wasmPath = fileURLToPath(defaultWasmUrl);
export const wasmBytes: Uint8Array | null = existsSync(wasmPath) ? readFileSync(wasmPath) : null;
const missing = `${wasmPath} is not built (scripts/install-wasm-toolchain.sh, then npm run build:wasm)`;
if (!wasmBytes && process.env.CI) throw new Error(missing);
export const skipWasm: string | false = wasmBytes ? false : missing;
