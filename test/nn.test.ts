// Layers, optimizers (dense and lazy sparse), initialisers and tensor files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, Rng, backward, ops, scope } from '../src/core/index.js';
import { Adam, Adagrad, Embedding, Linear, Mlp, Sgd, assignTensors, loadTensors, param, saveTensors, Module } from '../src/nn/index.js';

test('an MLP learns a planted rule with each optimizer', () => {
  for (const make of [(p: Tensor[]) => new Adam(p, { lr: 0.01 }), (p: Tensor[]) => new Sgd(p, { lr: 0.1, momentum: 0.9 }), (p: Tensor[]) => new Adagrad(p, { lr: 0.1 })]) {
    const rng = new Rng(11);
    const mlp = new Mlp(8, { dims: [16, 1], batchNorm: true, dropout: 0.1 }, rng);
    const opt = make(mlp.parameters());
    const x = Tensor.from(Float32Array.from({ length: 256 * 8 }, () => rng.normal()), [256, 8]);
    const y = Tensor.from(Float32Array.from({ length: 256 }, (_, i) => (x.data[i * 8] + x.data[i * 8 + 1] > 0 ? 1 : 0)), [256]);
    const lossAt = (): number => scope(() => {
      opt.zeroGrad();
      const loss = ops.bceWithLogits(ops.reshape(mlp.forward(x), [256]), y);
      backward(loss);
      return loss.item();
    });
    const first = lossAt();
    let last = first;
    for (let i = 0; i < 150; i++) {
      last = lossAt();
      opt.step();
    }
    assert.ok(last < 0.5 * first, `${opt.constructor.name}: loss ${first} -> ${last}`);
  }
});

test('lazy Adam on a sparse table equals dense Adam on the touched rows and leaves the rest alone', () => {
  const ids = Tensor.from(new Int32Array([1, 3, 3, 7]), [4]);
  const tables = [true, false].map((sparse) => {
    const e = new Embedding(10, 4, new Rng(5), { sparse, init: 'normal', scale: 0.1 });
    return e;
  });
  const opts = tables.map((e) => new Adam(e.parameters(), { lr: 0.1 }));
  const before = Float32Array.from(tables[0].table.data);
  for (let step = 0; step < 3; step++) {
    tables.forEach((e, k) => scope(() => {
      opts[k].zeroGrad();
      backward(ops.sumAll(ops.mul(e.forward(ids), e.forward(ids))));
      opts[k].step();
    }));
  }
  const [s, d] = tables.map((e) => e.table.data);
  for (const row of [1, 3, 7]) for (let c = 0; c < 4; c++) assert.ok(Math.abs(s[row * 4 + c] - d[row * 4 + c]) < 1e-6);
  for (const row of [0, 2, 4, 5, 6, 8, 9]) for (let c = 0; c < 4; c++) assert.equal(s[row * 4 + c], before[row * 4 + c]);
});

test('native Adam follows the PyTorch update rule (hand-computed)', () => {
  const p = param([1], 'zeros', new Rng(1));
  p.data[0] = 1;
  const opt = new Adam([p], { lr: 0.1 });
  p.grad = Tensor.from([0.5], [1]);
  opt.step();
  // m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25: p = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
  assert.ok(Math.abs(p.data[0] - (1 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-7);
});

test('initialisers are seeded and scaled', () => {
  const a = param([300, 200], 'kaimingNormal', new Rng(9));
  const b = param([300, 200], 'kaimingNormal', new Rng(9));
  assert.deepEqual(a.data, b.data);
  let ss = 0;
  for (const v of a.data) ss += v * v;
  const std = Math.sqrt(ss / a.size);
  assert.ok(Math.abs(std - Math.sqrt(2 / 300)) < 0.003, `kaiming std ${std}`);
  const u = param([100, 100], 'xavierUniform', new Rng(1));
  const bound = Math.sqrt(6 / 200);
  assert.ok(Array.from(u.data).every((v) => Math.abs(v) <= bound));
});

class Tiny extends Module {
  lin = this.addModule('lin', new Linear(3, 2, new Rng(1), { act: 'relu' }));
  emb = this.addModule('emb', new Embedding(5, 3, new Rng(2)));
}

test('tensor files round-trip bit-exactly, atomically, and refuse mismatches', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prerank-state-'));
  try {
    const a = new Tiny();
    const ids = Tensor.from(new Int32Array([1, 2, 3]), [3]);
    await saveTensors(join(dir, 'ckpt'), a.stateTensors(), { step: 7 });
    await saveTensors(join(dir, 'ckpt'), a.stateTensors(), { step: 8 });
    assert.deepEqual((await readdir(dir)).sort(), ['ckpt']);
    const { tensors, meta } = await loadTensors(join(dir, 'ckpt'));
    assert.equal(meta.step, 8);
    const b = new Tiny();
    b.lin.weight.data.fill(0);
    assignTensors(b.stateTensors(), tensors);
    for (const [name, t] of a.stateTensors()) assert.deepEqual(b.stateTensors().get(name)!.data, t.data, name);
    const ya = a.lin.forward(a.emb.forward(ids)).toArray();
    const yb = b.lin.forward(b.emb.forward(ids)).toArray();
    assert.deepEqual(ya, yb);
    tensors.delete('lin.bias');
    assert.throws(() => assignTensors(b.stateTensors(), tensors), /missing: lin.bias/);
    await assert.rejects(loadTensors(join(dir, 'nope')), /cannot read .*nope\/manifest.json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
