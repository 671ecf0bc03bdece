// The relaxed-SIMD build's opcode rewrite (scripts/wasm-relaxed.mjs) and the choice of build in Node. The walker
// decodes every instruction of the built modules and re-encodes them byte for byte, with the instruction count
// llvm-objdump gives; a planted module shows that bytes which only look like clang 14's pre-standard
// f32x4.relaxed_madd (inside an i32.const and a v128.const) are left alone while the real instruction is rewritten,
// and that the result runs as a * b + c, fused (a V8 with relaxed SIMD: Node 20 with --experimental-wasm-relaxed-simd
// in a child process). test/web-browser.test.ts runs the relaxed build's scores in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WasmScorer, wasmBuildFor, wasmSupports, wasmUrls, type WasmBuild } from '../src/web/index.js';
import { skipWasm, wasmBytes } from './helpers/wasm-scorer.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Rewriter {
  reencode(b: Uint8Array): { bytes: Uint8Array; instructions: number };
  rewriteRelaxed(b: Uint8Array): { bytes: Uint8Array; instructions: number; rewritten: Record<string, number> };
  WasmRewriteError: new (m: string) => Error;
}
const rw = (await import(pathToFileURL(join(REPO, 'scripts', 'wasm-relaxed.mjs')).href)) as Rewriter;

const file = (b: WasmBuild) => fileURLToPath(wasmUrls[b]);
const objdump = spawnSync('llvm-objdump-14', ['--version']).status === 0 ? 'llvm-objdump-14' : null;

/** Instructions llvm-objdump disassembles in the module (one line each, `  offset: bytes  mnemonic`). */
function objdumpCount(path: string): number {
  const out = spawnSync(objdump!, ['-d', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.split('\n').filter((l) => /^\s+[0-9a-f]+:/.test(l)).length;
}

/** A LEB128 u32. */
const u32 = (n: number): number[] => {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
};

/**
 * A module exporting f(a, b, c: f32): f32 = lane 0 of <instr> over the three splats, after an i32.const whose LEB128
 * bytes are fd af 01 and a v128.const of fd af 01 repeated (both dropped).
 */
function planted(instr: number[]): Uint8Array {
  const body = [0x00,
    0x41, 0xfd, 0xaf, 0x01, 0x1a,
    0xfd, 0x0c, 0xfd, 0xaf, 0x01, 0xfd, 0xaf, 0x01, 0xfd, 0xaf, 0x01, 0xfd, 0xaf, 0x01, 0xfd, 0xaf, 0x01, 0xfd, 0x1a,
    0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13, ...instr, 0xfd, 0x1f, 0x00, 0x0b];
  const code = [0x01, ...u32(body.length), ...body];
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d,
    0x03, 0x02, 0x01, 0x00,
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
    0x0a, ...u32(code.length), ...code]);
}

/** In a child Node with relaxed SIMD on: whether each module validates, and f(...args) of those that do (args given). */
function runRelaxed(mods: Uint8Array[], args: number[] | null): { valid: boolean; f: number | null }[] {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-relaxed-'));
  try {
    const paths = mods.map((m, i) => {
      const p = join(dir, `${i}.wasm`);
      writeFileSync(p, m);
      return p;
    });
    const script = `const fs = require('fs'); const out = [];
      for (const p of ${JSON.stringify(paths)}) {
        const b = fs.readFileSync(p); const valid = WebAssembly.validate(b);
        out.push({ valid, f: valid && ${JSON.stringify(args)} ? new WebAssembly.Instance(new WebAssembly.Module(b)).exports.f(...${JSON.stringify(args ?? [])}) : null });
      }
      console.log(JSON.stringify(out));`;
    const res = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '-e', script], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    return JSON.parse(res.stdout) as { valid: boolean; f: number | null }[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the walker re-encodes every instruction of the built modules byte for byte, as many as llvm-objdump lists', { skip: skipWasm }, () => {
  for (const b of ['simd128', 'relaxed-simd', 'portable'] as const) {
    const bytes = readFileSync(file(b));
    const { bytes: again, instructions } = rw.reencode(bytes);
    assert.ok(Buffer.from(again).equals(bytes), `${b}: re-encoded bytes differ`);
    assert.ok(instructions > 10_000, `${b}: ${instructions} instructions`);
    if (objdump && b !== 'relaxed-simd') assert.equal(instructions, objdumpCount(file(b)), `${b}: instruction count`);
    // the SIMD128 and portable modules hold no relaxed opcode: the rewrite leaves them as they are
    if (b !== 'relaxed-simd') assert.deepEqual(rw.rewriteRelaxed(bytes).rewritten, {}, b);
  }
});

test('the relaxed build holds relaxed_madd in its final encoding and no pre-standard relaxed opcode', { skip: skipWasm }, () => {
  const bytes = readFileSync(file('relaxed-simd'));
  assert.deepEqual(rw.rewriteRelaxed(bytes).rewritten, {}, 'nothing left to rewrite');
  const [ok] = runRelaxed([bytes], null);
  assert.equal(ok.valid, true, 'the relaxed build validates in a V8 with relaxed SIMD');
  assert.equal(WebAssembly.validate(bytes), false, 'Node 20 without the flag refuses it');
});

test('only the real pre-standard instruction is rewritten: look-alike bytes in immediates stay, and the result is a fused a * b + c', () => {
  const before = planted([0xfd, 0xaf, 0x01]);
  const { bytes: after, instructions, rewritten } = rw.rewriteRelaxed(before);
  assert.deepEqual(rewritten, { 'f32x4.relaxed_madd': 1 });
  assert.equal(instructions, 13);
  const changed = [...before.keys()].filter((i) => before[i] !== after[i]);
  const at = before.length - 7;  // fd af 01 | fd 1f 00 | 0b
  assert.deepEqual(changed, [at + 1, at + 2]);
  assert.deepEqual([...after.subarray(at, at + 3)], [0xfd, 0x85, 0x02]);
  assert.deepEqual(Buffer.from(rw.reencode(after).bytes), Buffer.from(after));
  // (1 + 2^-23)(1 - 2^-23) - 1 is -2^-46 when fused, 0 when the product is rounded first
  const e = 2 ** -23;
  const [pre, post] = runRelaxed([before, after], [1 + e, 1 - e, -1]);
  assert.equal(pre.valid, false, 'the pre-standard opcode does not validate');
  assert.equal(post.valid, true);
  assert.equal(post.f, -(2 ** -46));
  assert.equal(runRelaxed([after], [2, 3, 10])[0].f, 16, 'a * b + c in stack order');
});

test('an opcode the walker does not know is refused with the function and byte, and a truncated body too', () => {
  const unknown = planted([0xfd, 0x9a, 0x01]);  // a gap in the SIMD opcode space
  assert.throws(() => rw.rewriteRelaxed(unknown), (e: Error) => e instanceof rw.WasmRewriteError &&
    /^function 0: unknown opcode 0xfd 0x9a .* at byte 0x[0-9a-f]+$/.test(e.message));
  const atomics = planted([0xfe, 0x00]);
  assert.throws(() => rw.reencode(atomics), /function 0: unknown opcode 0xfe/);
  assert.throws(() => rw.reencode(new Uint8Array([1, 2, 3])), /not a WebAssembly module/);
  const cut = planted([0xfd, 0xaf, 0x01]);
  cut[cut.length - 1] = 0x01;  // the body's final end replaced by nop
  assert.throws(() => rw.reencode(cut), /function 0: its body ends inside a block/);
});

test('Node 20 validates SIMD128 but not relaxed SIMD: prerank/web picks the SIMD128 build there, and a forced build it cannot run is refused', { skip: skipWasm }, async () => {
  assert.equal(wasmSupports('simd128'), true);
  assert.equal(wasmSupports('relaxed-simd'), false);
  assert.equal(wasmBuildFor(), 'simd128');
  assert.equal(wasmBuildFor('portable'), 'portable');
  assert.throws(() => wasmBuildFor('relaxed-simd'), /does not validate relaxed-simd/);
  assert.throws(() => wasmBuildFor('avx' as WasmBuild), /build must be one of auto, relaxed-simd, simd128, portable; got "avx"/);
  const simd = await WasmScorer.load(wasmBytes!);
  assert.deepEqual([simd.build, simd.isa], ['simd128', 'simd128']);
  simd.simd = false;
  assert.deepEqual([simd.build, simd.isa], ['simd128', 'portable']);
  await assert.rejects(WasmScorer.load(planted([0xfd, 0x52])), /the module lacks memory, __stack_pointer, _initialize, .*prerank_build_isa: not a scorer module of this prerank version/);
  const portable = await WasmScorer.load(readFileSync(file('portable')));
  assert.deepEqual([portable.build, portable.isa, portable.simd], ['portable', 'portable', false]);
  portable.simd = true;
  assert.equal(portable.simd, false, 'the portable build has no SIMD kernels to turn on');
});
