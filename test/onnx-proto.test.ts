// The ONNX writer's file format: the schema is the official onnx.proto, and a written ModelProto decodes to the graph
// it was built from (opset 17, IR 8, dynamic axes as dim_param, initializers as little-endian raw_data named after
// the model's parameters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/index.js';
import { Linear } from '../src/nn/index.js';
import { OnnxGraph } from '../src/export/onnx/graph.js';
import { decodeModel, encodeModel } from '../src/export/onnx/proto.js';
import { linear } from '../src/export/onnx/layers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

test('src/export/onnx/onnx-proto.ts is generated from third_party/onnx/onnx.proto', () => {
  const r = spawnSync(process.execPath, ['scripts/onnx-proto.mjs', '--check'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('a written model decodes to its graph: opset 17, IR 8, named dynamic axes, little-endian initializers named after parameters', () => {
  const layer = new Linear(3, 2, new Rng(1), { act: 'relu' });
  const g = new OnnxGraph('tiny', layer);
  const x = g.input('x', 'float32', ['batch', 3], 'features');
  g.output(linear(g, x, layer), 'y', 'float32', ['batch', 2]);
  const m = decodeModel(encodeModel(g, { doc: 'a linear layer', producerVersion: '1.2.3', metadata: { model: 'tiny' } })) as any;
  assert.equal(m.ir_version, 8);
  assert.deepEqual(m.opset_import, [{ domain: '', version: 17 }]);
  assert.equal(m.producer_name, 'prerank');
  assert.deepEqual(m.metadata_props, [{ key: 'model', value: 'tiny' }]);
  assert.deepEqual(m.graph.input[0].type.tensor_type.shape.dim, [{ dim_param: 'batch' }, { dim_value: 3 }]);
  assert.deepEqual(m.graph.node.map((n: { op_type: string }) => n.op_type), ['MatMul', 'Add', 'Relu', 'Identity']);
  assert.deepEqual(m.graph.output.map((o: { name: string }) => o.name), ['y']);
  const w = m.graph.initializer.find((t: { name: string }) => t.name === 'weight');
  assert.deepEqual(w.dims, [3, 2]);
  assert.equal(w.data_type, 1);
  const bytes = Buffer.from(w.raw_data);
  const values = Array.from({ length: 6 }, (_, i) => bytes.readFloatLE(i * 4));
  assert.deepEqual(values, Array.from(layer.weight.f));
});

test('a tensor that is not one of the model\'s parameters is refused, and so is a name used twice', () => {
  const layer = new Linear(3, 2, new Rng(1));
  const other = new Linear(3, 2, new Rng(2));
  const g = new OnnxGraph('tiny', layer);
  assert.throws(() => g.weight(other.weight), /onnx export \(tiny\): a tensor of shape \[3, 2\] is not a parameter or buffer of the model/);
  g.input('x', 'float32', [3]);
  assert.throws(() => g.input('x', 'float32', [3]), /the name 'x' is used twice/);
});
