// Relaxed SIMD's pre-standard opcodes, as clang 14 emits them (`-mrelaxed-simd`, `__builtin_wasm_fma_f32x4` is
// `fd af 01`), rewritten to the final ones of the relaxed-SIMD proposal (`f32x4.relaxed_madd` is `fd 85 02`), which
// engines validate. An exact rewrite, not a byte search: the code section is decoded instruction by instruction
// (every opcode and its immediates), so bytes that only look like an opcode (inside a v128.const, a shuffle's lanes,
// an i32.const) are never touched, and an opcode this file does not know stops the rewrite with an error naming the
// function and the byte. Every pre-standard relaxed opcode is 2 LEB128 bytes after 0xfd, as is every final one, so
// no size changes and the module is patched in place.
//
// Operands keep their order: the rewritten instruction has the final semantics (relaxed_madd(a, b, c) = a * b + c on
// the stack order a, b, c), and the C++ that calls the builtin is written for those (native/serve_wasm128.cc).
//
// Used by scripts/build-wasm.mjs; test/web-relaxed.test.ts checks the walker against the plain SIMD128 module.

/** Pre-standard relaxed-SIMD opcode (after 0xfd, clang/LLVM 14) -> [final opcode, final name]. */
export const RELAXED_FINAL = new Map([
  [0xa2, [0x100, 'i8x16.relaxed_swizzle']],
  [0xa5, [0x101, 'i32x4.relaxed_trunc_f32x4_s']],
  [0xa6, [0x102, 'i32x4.relaxed_trunc_f32x4_u']],
  [0xc5, [0x103, 'i32x4.relaxed_trunc_f64x2_s_zero']],
  [0xc6, [0x104, 'i32x4.relaxed_trunc_f64x2_u_zero']],
  [0xaf, [0x105, 'f32x4.relaxed_madd']],
  [0xb0, [0x106, 'f32x4.relaxed_nmadd']],
  [0xcf, [0x107, 'f64x2.relaxed_madd']],
  [0xd0, [0x108, 'f64x2.relaxed_nmadd']],
  [0xb2, [0x109, 'i8x16.relaxed_laneselect']],
  [0xb3, [0x10a, 'i16x8.relaxed_laneselect']],
  [0xd2, [0x10b, 'i32x4.relaxed_laneselect']],
  [0xd3, [0x10c, 'i64x2.relaxed_laneselect']],
  [0xb4, [0x10d, 'f32x4.relaxed_min']],
  [0xe2, [0x10e, 'f32x4.relaxed_max']],
  [0xd4, [0x10f, 'f64x2.relaxed_min']],
  [0xee, [0x110, 'f64x2.relaxed_max']],
]);

export class WasmRewriteError extends Error {
  constructor(message) {
    super(message);
    this.name = 'WasmRewriteError';
  }
}

const hex = (n) => `0x${n.toString(16)}`;

// Immediate kinds: 'u' unsigned LEB128, 's' signed LEB128 (i32/i64.const, block types), 'b<n>' n raw bytes,
// 'vec' a LEB128 count then that many 'u' (br_table's labels), 'tvec' a count then that many value-type bytes.
const MEMARG = ['u', 'u'];

/** MVP (with sign extension and reference types) opcodes -> immediate kinds; absent = unknown. */
const MVP = new Map();
for (const op of [0x00, 0x01, 0x05, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1]) MVP.set(op, []);
for (const op of [0x02, 0x03, 0x04]) MVP.set(op, ['s']);
for (const op of [0x0c, 0x0d, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xd2]) MVP.set(op, ['u']);
MVP.set(0x0e, ['vec', 'u']);
MVP.set(0x11, ['u', 'u']);
MVP.set(0x1c, ['tvec']);
for (let op = 0x28; op <= 0x3e; op++) MVP.set(op, MEMARG);
MVP.set(0x3f, ['u']);
MVP.set(0x40, ['u']);
MVP.set(0x41, ['s']);
MVP.set(0x42, ['s']);
MVP.set(0x43, ['b4']);
MVP.set(0x44, ['b8']);
for (let op = 0x45; op <= 0xc4; op++) MVP.set(op, []);
MVP.set(0xd0, ['b1']);

/** 0xfc-prefixed: saturating truncation, bulk memory, table ops. */
const FC = new Map();
for (let op = 0; op <= 7; op++) FC.set(op, []);
for (const [op, imm] of [[8, ['u', 'u']], [9, ['u']], [10, ['u', 'u']], [11, ['u']], [12, ['u', 'u']], [13, ['u']], [14, ['u', 'u']],
  [15, ['u']], [16, ['u']], [17, ['u']]]) FC.set(op, imm);

/** 0xfd-prefixed: SIMD128 (final encoding), relaxed SIMD (final, 0x100-0x113) and clang 14's pre-standard relaxed opcodes. */
const FD = new Map();
for (let op = 0x00; op <= 0x0b; op++) FD.set(op, MEMARG);
FD.set(0x0c, ['b16']);
FD.set(0x0d, ['b16']);
for (let op = 0x0e; op <= 0x14; op++) FD.set(op, []);
for (let op = 0x15; op <= 0x22; op++) FD.set(op, ['b1']);
for (let op = 0x23; op <= 0x53; op++) FD.set(op, []);
for (let op = 0x54; op <= 0x5b; op++) FD.set(op, ['u', 'u', 'b1']);
FD.set(0x5c, MEMARG);
FD.set(0x5d, MEMARG);
const SIMD_GAPS = new Set([0x9a, 0xbb, 0xc2, ...RELAXED_FINAL.keys()]);
for (let op = 0x5e; op <= 0xff; op++) if (!SIMD_GAPS.has(op)) FD.set(op, []);
for (let op = 0x100; op <= 0x113; op++) FD.set(op, []);
for (const op of RELAXED_FINAL.keys()) FD.set(op, []);

class Reader {
  constructor(bytes, at, end) {
    this.b = bytes;
    this.at = at;
    this.end = end;
  }

  fail(what) {
    throw new WasmRewriteError(`${what} at byte ${hex(this.at)}`);
  }

  byte() {
    if (this.at >= this.end) this.fail('unexpected end of data');
    return this.b[this.at++];
  }

  /** A LEB128 value as a BigInt, with its width in bytes. */
  leb(signed, maxBits) {
    const start = this.at;
    let value = 0n, shift = 0n, byte;
    do {
      byte = this.byte();
      value |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (shift > BigInt(maxBits) + 6n) this.fail(`LEB128 longer than ${maxBits} bits`);
    } while (byte & 0x80);
    if (signed && byte & 0x40) value -= 1n << shift;
    return { value, width: this.at - start };
  }

  u32() {
    return Number(this.leb(false, 32).value);
  }
}

/** value as a LEB128 of exactly `width` bytes (padded with continuation bytes as linkers write them). */
function encodeLeb(value, width, signed) {
  const out = [];
  let v = value;
  for (let i = 0; i < width; i++) {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (i < width - 1) byte |= 0x80;
    out.push(byte);
  }
  if (signed ? v !== 0n && v !== -1n : v !== 0n) throw new WasmRewriteError(`${value} does not fit a LEB128 of ${width} bytes`);
  return out;
}

function readImm(r, kind) {
  if (kind === 'u') return { kind, ...r.leb(false, 64) };
  if (kind === 's') return { kind, ...r.leb(true, 64) };
  if (kind === 'vec' || kind === 'tvec') {
    const count = r.leb(false, 32);
    const items = [];
    for (let i = 0; i < Number(count.value); i++) items.push(kind === 'vec' ? r.leb(false, 32) : { value: BigInt(r.byte()), width: 1 });
    return { kind, count, items };
  }
  const n = Number(kind.slice(1));
  const start = r.at;
  for (let i = 0; i < n; i++) r.byte();
  return { kind, bytes: r.b.slice(start, r.at) };
}

function writeImm(out, imm) {
  if (imm.kind === 'u' || imm.kind === 's') out.push(...encodeLeb(imm.value, imm.width, imm.kind === 's'));
  else if (imm.kind === 'vec' || imm.kind === 'tvec') {
    out.push(...encodeLeb(imm.count.value, imm.count.width, false));
    for (const it of imm.items) out.push(...(imm.kind === 'vec' ? encodeLeb(it.value, it.width, false) : [Number(it.value)]));
  } else out.push(...imm.bytes);
}

/**
 * One instruction at r.at: { at, end, prefix (0 for none), op, opWidth, imms }. Throws on an opcode not in the
 * tables above (names the byte).
 */
function readInstr(r, fn) {
  const at = r.at;
  const first = r.byte();
  let prefix = 0, op = first, opWidth = 0, imms;
  if (first === 0xfc || first === 0xfd) {
    prefix = first;
    const sub = r.leb(false, 32);
    op = Number(sub.value);
    opWidth = sub.width;
    imms = (prefix === 0xfc ? FC : FD).get(op);
  } else imms = MVP.get(op);
  if (!imms) {
    r.at = at;
    r.fail(`function ${fn}: unknown opcode ${prefix ? `${hex(prefix)} ${hex(op)}` : hex(op)} (this rewriter knows the MVP, sign extension, ` +
      'saturating truncation, bulk memory, reference types, SIMD128 and relaxed SIMD; nothing else was expected from clang -msimd128 -mrelaxed-simd)');
  }
  return { at, prefix, op, opWidth, imms: imms.map((k) => readImm(r, k)), end: r.at };
}

/** The instruction's bytes, encoded from its decoded form (LEB128 widths kept). */
export function encodeInstr(ins) {
  const out = [];
  if (ins.prefix) out.push(ins.prefix, ...encodeLeb(BigInt(ins.op), ins.opWidth, false));
  else out.push(ins.op);
  for (const imm of ins.imms) writeImm(out, imm);
  return out;
}

/**
 * Every function body of the module's code section, decoded: { index, bodyAt, codeAt, end, instrs }. Checks the
 * header, the section sizes, and that each body's instructions end with the `end` that closes it, exactly at its size.
 */
export function decodeCode(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (b.length < 8 || magic.some((x, i) => b[i] !== x)) throw new WasmRewriteError('not a WebAssembly module (version 1): the first 8 bytes are not \\0asm 01 00 00 00');
  const r = new Reader(b, 8, b.length);
  const functions = [];
  let codeSections = 0;
  while (r.at < b.length) {
    const id = r.byte();
    const size = r.u32();
    const sectionEnd = r.at + size;
    if (sectionEnd > b.length) r.fail(`section ${id} of ${size} bytes runs past the end of the module`);
    if (id === 10) {
      codeSections++;
      const s = new Reader(b, r.at, sectionEnd);
      const count = s.u32();
      for (let f = 0; f < count; f++) {
        const bodySize = s.u32();
        const bodyAt = s.at, end = s.at + bodySize;
        if (end > sectionEnd) s.fail(`function ${f}: its body of ${bodySize} bytes runs past the code section`);
        const body = new Reader(b, bodyAt, end);
        const groups = body.u32();
        for (let g = 0; g < groups; g++) {
          body.u32();
          body.byte();
        }
        const codeAt = body.at;
        const instrs = [];
        let depth = 1;
        while (depth > 0) {
          if (body.at >= end) body.fail(`function ${f}: its body ends inside a block`);
          const ins = readInstr(body, f);
          instrs.push(ins);
          if (ins.prefix === 0 && (ins.op === 0x02 || ins.op === 0x03 || ins.op === 0x04)) depth++;
          else if (ins.prefix === 0 && ins.op === 0x0b) depth--;
        }
        if (body.at !== end) body.fail(`function ${f}: ${end - body.at} bytes follow the end of its body`);
        functions.push({ index: f, bodyAt, codeAt, end, instrs });
        s.at = end;
      }
      if (s.at !== sectionEnd) s.fail(`the code section has ${sectionEnd - s.at} bytes after its ${count} functions`);
    }
    r.at = sectionEnd;
  }
  if (codeSections !== 1) throw new WasmRewriteError(`expected one code section, found ${codeSections}`);
  return functions;
}

/**
 * The module with every instruction re-encoded from its decoded form (everything outside the instructions copied):
 * equal to the input when the walker decodes and encodes every instruction exactly.
 */
export function reencode(bytes) {
  const b = new Uint8Array(bytes);
  const out = b.slice();
  let count = 0;
  for (const fn of decodeCode(b)) {
    for (const ins of fn.instrs) {
      const enc = encodeInstr(ins);
      if (enc.length !== ins.end - ins.at) throw new WasmRewriteError(`function ${fn.index}: instruction at byte ${hex(ins.at)} re-encodes to ${enc.length} bytes, not ${ins.end - ins.at}`);
      out.set(enc, ins.at);
      count++;
    }
  }
  return { bytes: out, instructions: count };
}

/**
 * The module with clang 14's pre-standard relaxed-SIMD opcodes replaced by the final ones (RELAXED_FINAL):
 * { bytes, instructions (decoded), rewritten: { name: count } }. The input is not modified.
 */
export function rewriteRelaxed(bytes) {
  const b = new Uint8Array(bytes);
  const out = b.slice();
  const rewritten = {};
  let instructions = 0;
  for (const fn of decodeCode(b)) {
    for (const ins of fn.instrs) {
      instructions++;
      if (ins.prefix !== 0xfd || !RELAXED_FINAL.has(ins.op)) continue;
      const [final, name] = RELAXED_FINAL.get(ins.op);
      const enc = encodeInstr({ ...ins, op: final });
      if (enc.length !== ins.end - ins.at) throw new WasmRewriteError(`function ${fn.index}: ${name} at byte ${hex(ins.at)} would change size`);
      out.set(enc, ins.at);
      rewritten[name] = (rewritten[name] ?? 0) + 1;
    }
  }
  return { bytes: out, instructions, rewritten };
}
