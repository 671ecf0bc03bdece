#!/usr/bin/env node
// Builds the WebAssembly scorer (the serving kernels of native/ for wasm32 with SIMD128, no threads, the C ABI of
// native/wasm/web_abi.cc) into dist/wasm/prerank-scorer.wasm with Debian's clang + lld + wasi-libc + libc++
// (scripts/install-wasm-toolchain.sh installs them). `npm ci` / `npm run prepare` call it with --if-toolchain: it
// says so and builds nothing when clang cannot target wasm32-wasi; `npm run build:wasm` fails then.
// The module is the same on every machine, so a packed tarball ships it (package.json "files") and installing prerank
// needs no toolchain for it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const optional = process.argv.includes('--if-toolchain');
const out = join(root, 'dist', 'wasm', 'prerank-scorer.wasm');
const cxx = process.env.WASM_CXX ?? 'clang++';

// The serving sources; the x86 ISA files compile to their "not compiled in" stubs on wasm32.
const sources = [
  'serve.cc', 'serve_scores.cc', 'serve_portable.cc', 'serve_wasm128.cc', 'serve_avx2.cc', 'serve_avx512.cc',
  'serve_avx512bf16.cc', 'gemm.cc', 'gemm_portable.cc', 'gemm_avx2.cc', 'gemm_avx512.cc', 'cpu.cc',
  'wasm/pool_single.cc', 'wasm/web_abi.cc',
].map((f) => join(root, 'native', f));

const flags = [
  '--target=wasm32-wasi', '-O3', '-std=c++17', '-msimd128', '-mexec-model=reactor', '-Wall', '-Wno-unknown-pragmas',
  // no exception handling in this build: a throw goes to web_abi.cc's __cxa_throw
  '-Wl,--gc-sections', '-Wl,--strip-all', '-Wl,--export=__stack_pointer', '-Wl,-z,stack-size=1048576',
];

function fail(msg) {
  const hint = 'install the toolchain with scripts/install-wasm-toolchain.sh, then run `npm run build:wasm`';
  if (optional) {
    console.warn(`prerank: ${msg}; the WebAssembly scorer (prerank/web) is not built: ${hint}.`);
    process.exit(0);
  }
  console.error(`prerank: ${msg} (${hint})`);
  process.exit(1);
}

const probe = spawnSync(cxx, ['--target=wasm32-wasi', '-print-file-name=libc++.a'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) fail(`${cxx} is not available (${probe.error?.message ?? probe.stderr.trim()})`);
mkdirSync(dirname(out), { recursive: true });
const t0 = Date.now();
const res = spawnSync(cxx, [...flags, ...sources, '-o', out], { cwd: root, stdio: 'inherit' });
if (res.status !== 0) fail(`building ${out} failed (${cxx} exited with ${res.status ?? res.signal})`);
console.log(`prerank: built ${out} (${(statSync(out).size / 1024).toFixed(0)} KiB, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
