#!/usr/bin/env node
// Builds the WebAssembly scorer (the serving kernels of native/ for wasm32, no threads, the C ABI of
// native/wasm/web_abi.cc) with Debian's clang + lld + wasi-libc + libc++ (scripts/install-wasm-toolchain.sh installs
// them), twice, the two builds in parallel:
//   dist/wasm/prerank-scorer.wasm          SIMD128 (every engine with WebAssembly SIMD);
//   dist/wasm/prerank-scorer-relaxed.wasm  SIMD128 + relaxed SIMD: the kernels' multiply-add is f32x4.relaxed_madd
//                                          (one FMA instruction where the CPU has one). clang 14 emits relaxed SIMD's
//                                          pre-standard opcodes, which scripts/wasm-relaxed.mjs rewrites to the final
//                                          ones after linking;
//   dist/wasm/prerank-scorer-portable.wasm no SIMD at all, for engines without WebAssembly SIMD.
// prerank/web loads the relaxed build where WebAssembly.validate accepts relaxed_madd (src/web/wasm-module.ts). `npm ci` / `npm run prepare` call it with --if-toolchain: it
// says so and builds nothing when clang cannot target wasm32-wasi; `npm run build:wasm` fails then.
// The module is the same on every machine, so a packed tarball ships it (package.json "files") and installing prerank
// needs no toolchain for it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rewriteRelaxed } from './wasm-relaxed.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const optional = process.argv.includes('--if-toolchain');
const outDir = join(root, 'dist', 'wasm');
const builds = [
  { out: join(outDir, 'prerank-scorer.wasm'), flags: ['-msimd128'] },
  { out: join(outDir, 'prerank-scorer-relaxed.wasm'), flags: ['-msimd128', '-mrelaxed-simd'], relaxed: true },
  { out: join(outDir, 'prerank-scorer-portable.wasm'), flags: [] },
];
const cxx = process.env.WASM_CXX ?? 'clang++';

// The serving sources; the x86 ISA files compile to their "not compiled in" stubs on wasm32.
const sources = [
  'serve.cc', 'serve_scores.cc', 'serve_portable.cc', 'serve_wasm128.cc', 'serve_avx2.cc', 'serve_avx512.cc',
  'serve_avx512bf16.cc', 'gemm.cc', 'gemm_portable.cc', 'gemm_avx2.cc', 'gemm_avx512.cc', 'cpu.cc',
  'wasm/pool_single.cc', 'wasm/web_abi.cc',
].map((f) => join(root, 'native', f));

const flags = [
  '--target=wasm32-wasi', '-O3', '-std=c++17', '-mexec-model=reactor', '-Wall', '-Wno-unknown-pragmas',
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
mkdirSync(outDir, { recursive: true });

/** One build: clang's exit status, and for the relaxed build the rewrite of its opcodes. */
function build({ out, flags: extra, relaxed }) {
  const t0 = Date.now();
  const linked = relaxed ? `${out}.prestandard` : out;
  return new Promise((done) => {
    const child = spawn(cxx, [...flags, ...extra, ...sources, '-o', linked], { cwd: root, stdio: 'inherit' });
    child.on('error', (e) => fail(`building ${out} failed (${e.message})`));
    child.on('close', (status, signal) => {
      if (status !== 0) fail(`building ${out} failed (${cxx} exited with ${status ?? signal})`);
      let note = '';
      if (relaxed) {
        let result;
        try {
          result = rewriteRelaxed(readFileSync(linked));
        } catch (e) {
          fail(`rewriting the relaxed-SIMD opcodes of ${linked} failed: ${e.message}`);
        }
        const { bytes, instructions, rewritten } = result;
        if (!rewritten['f32x4.relaxed_madd']) fail(`${linked} has no relaxed multiply-add (native/serve_wasm128.cc's vfma under -mrelaxed-simd)`);
        writeFileSync(out, bytes);
        rmSync(linked);
        note = `, ${instructions} instructions decoded, rewritten to final relaxed SIMD: ${Object.entries(rewritten).map(([n, c]) => `${c} ${n}`).join(', ')}`;
      }
      console.log(`prerank: built ${out} (${(statSync(out).size / 1024).toFixed(0)} KiB, ${((Date.now() - t0) / 1000).toFixed(1)} s${note})`);
      done();
    });
  });
}

await Promise.all(builds.map(build));
