// model.safetensors against the format's specification, read here byte by byte: an 8-byte little-endian header
// length, a UTF-8 JSON header (dtype, shape, data_offsets per tensor; __metadata__ of strings) padded so the data
// starts 8-byte aligned, then the tensors' little-endian bytes covering the data exactly, in order, with no holes.
// Where Debian's Python has the safetensors package it loads the file too (skipped with a message otherwise).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/core/index.js';
import { Linear } from '../src/nn/index.js';
import { encodeSafetensors } from '../src/export/safetensors.js';
import { exportOnnxRun } from '../src/export/onnx/export-onnx.js';
import { tempDir, tinyRun } from './serve-fixture.js';

const root = tempDir('safetensors');
after(() => rmSync(root, { recursive: true, force: true }));
const run = await tinyRun(root, 'dssm');
const out = join(root, 'onnx');
await exportOnnxRun(run.runDir, out);
const file = join(out, 'model.safetensors');
const PY = '/usr/bin/python3';
const hasReader = spawnSync(PY, ['-c', 'import safetensors.numpy'], { stdio: 'ignore' }).status === 0;

interface Entry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** The file read by the specification: header length, header, and each tensor's float32 values. */
function parse(bytes: Buffer): { header: Record<string, unknown>; start: number; tensors: Map<string, { entry: Entry; values: Float32Array }> } {
  assert.ok(bytes.length >= 8, 'shorter than the 8-byte header length');
  const n = Number(bytes.readBigUInt64LE(0));
  assert.ok(8 + n <= bytes.length, `header length ${n} runs past the file`);
  const text = bytes.subarray(8, 8 + n).toString('utf8');
  assert.equal(text[0], '{', 'the header starts with {');
  assert.match(text, /^[^]*\}\s*$/, 'the header may end only in spaces after the JSON');
  const header = JSON.parse(text) as Record<string, unknown>;
  const start = 8 + n;
  const tensors = new Map<string, { entry: Entry; values: Float32Array }>();
  const ranges: [number, number][] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = e as Entry;
    assert.equal(entry.dtype, 'F32', name);
    const [b, end] = entry.data_offsets;
    assert.equal(end - b, entry.shape.reduce((a, x) => a * x, 1) * 4, `${name}: data_offsets span shape x 4 bytes`);
    ranges.push([b, end]);
    const values = new Float32Array((end - b) / 4);
    for (let i = 0; i < values.length; i++) values[i] = bytes.readFloatLE(start + b + i * 4);
    tensors.set(name, { entry, values });
  }
  ranges.sort((x, y) => x[0] - y[0]);
  let at = 0;
  for (const [b, end] of ranges) {
    assert.equal(b, at, 'tensors are back to back, with no holes or overlaps');
    at = end;
  }
  assert.equal(start + at, bytes.length, 'the tensors cover the data to the end of the file');
  return { header, start, tensors };
}

test("model.safetensors follows the format's specification and holds every parameter and buffer under its checkpoint name", () => {
  const { header, start, tensors } = parse(readFileSync(file));
  assert.equal(start % 8, 0, 'the data starts 8-byte aligned');
  const meta = header.__metadata__ as Record<string, unknown>;
  assert.equal(meta.model, 'dssm');
  for (const v of Object.values(meta)) assert.equal(typeof v, 'string', '__metadata__ values are strings');
  const state = run.model.stateTensors();
  assert.deepEqual([...tensors.keys()].sort(), [...state.keys()].sort());
  for (const [name, t] of state) {
    assert.deepEqual(tensors.get(name)!.entry.shape, t.shape, name);
    assert.deepEqual(tensors.get(name)!.values, Float32Array.from(t.f), name);
  }
  assert.ok(tensors.has('user.bn0.runningMean') && tensors.has('embed.user_id.table'));
});

test('the header is padded with spaces to an 8-byte boundary whatever the names', () => {
  for (const name of ['w', 'ww', 'www', 'wwww', 'weight_with_a_long_name']) {
    const layer = new Linear(3, 2, new Rng(1));
    const bytes = Buffer.from(encodeSafetensors([[name, layer.weight]], { a: 'b' }));
    const { start, tensors } = parse(bytes);
    assert.equal(start % 8, 0, name);
    assert.deepEqual(tensors.get(name)!.values, Float32Array.from(layer.weight.f));
  }
  assert.throws(() => encodeSafetensors([['__metadata__', new Linear(1, 1, new Rng(1)).weight]]), /may not be named '__metadata__'/);
});

test("Python's safetensors loads model.safetensors with the same values", { skip: hasReader ? false : "Debian's Python has no safetensors package: the Python load is skipped" }, () => {
  const script = 'import sys, json, safetensors.numpy as st\nt = st.load_file(sys.argv[1])\nprint(json.dumps({k: [list(v.shape), float(v.sum())] for k, v in t.items()}))';
  const r = spawnSync(PY, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, [number[], number]>;
  for (const [name, t] of run.model.stateTensors()) {
    assert.deepEqual(got[name][0], t.shape, name);
    const sum = Array.from(t.f).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(got[name][1] - sum) <= 1e-4 * (1 + Math.abs(sum)), name);
  }
});
