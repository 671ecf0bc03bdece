// Tensor lifetimes, the tape, grad modes, and the errors bad input must produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, Rng, backward, detach, keep, noGrad, ops, scope, bufferPoolStats, clearBufferPool } from '../src/core/index.js';
import { randTensor } from './helpers/gradcheck.js';

const rng = new Rng(3);

test('scope releases what it created, keeps what it returns, and reuses buffers', () => {
  clearBufferPool();
  const w = randTensor(rng, [8, 8], { dtype: 'float32' });
  let inner: Tensor | null = null;
  const out = scope(() => {
    inner = ops.matmul(w, w);
    return ops.relu(inner);
  });
  assert.equal(inner!.released, true);
  assert.equal(out.released, false);
  assert.throws(() => inner!.data, /used after release/);
  assert.ok(bufferPoolStats().pooledBytes >= 8 * 8 * 4);
  const before = bufferPoolStats().pooledBytes;
  scope(() => {
    ops.matmul(w, w);
  });
  assert.equal(bufferPoolStats().pooledBytes, before, 'second identical scope should reuse the pooled buffer');
});

test('shapes that vary a little between steps reuse pooled buffers (size classes), with exact-length data', () => {
  clearBufferPool();
  // IntTower's CIR similarity is [Q, B] with Q = the positives of each batch: a new Q must not allocate anew.
  // Classes have 8 steps per power of two: every Q in (1536, 1664] shares the class of Q = 1664.
  scope(() => void Tensor.empty([1550, 2048]));
  const before = bufferPoolStats().pooledBytes;
  assert.equal(before, 1664 * 2048 * 4);
  for (const q of [1537, 1561, 1600, 1664]) {
    scope(() => {
      const t = Tensor.zeros([q, 2048]);
      assert.equal(t.data.length, q * 2048, 'data is exactly the tensor size');
      assert.ok(t.f.every((v) => v === 0), 'zeros() clears the reused buffer');
      t.f.fill(1);
    });
    assert.equal(bufferPoolStats().pooledBytes, before, `[${q}, 2048] should reuse the [1550, 2048] buffer`);
  }
  scope(() => void Tensor.empty([1536, 2048]));
  assert.ok(bufferPoolStats().pooledBytes > before, 'the next class down gets its own buffer');
  clearBufferPool();
});

test('views keep their base alive when returned from a scope', () => {
  const x = randTensor(rng, [2, 6], { dtype: 'float32' });
  const v = scope(() => ops.reshape(ops.scale(x, 2), [3, 4]));
  assert.equal(v.base?.released, false);
  assert.deepEqual(v.toArray().map((a) => a / 2), Array.from(x.data).map((a) => Math.fround(a * 2) / 2));
  const kept = scope(() => keep(ops.reshape(ops.scale(x, 3), [12])));
  assert.equal(kept.base?.released, false);
});

test('scope releases everything when the function throws', () => {
  let t: Tensor | null = null;
  assert.throws(() => scope(() => {
    t = Tensor.zeros([3]);
    throw new Error('boom');
  }), /boom/);
  assert.equal(t!.released, true);
});

test('gradients accumulate across backward calls until cleared', () => {
  const w = randTensor(rng, [3, 2]);
  const x = randTensor(rng, [4, 3], { grad: false });
  scope(() => backward(ops.sumAll(ops.matmul(x, w))));
  const once = Array.from(w.grad!.data);
  scope(() => backward(ops.sumAll(ops.matmul(x, w))));
  assert.deepEqual(Array.from(w.grad!.data), once.map((g) => 2 * g));
});

test('a tensor used twice gets the sum of both gradients', () => {
  const a = randTensor(rng, [5]);
  scope(() => backward(ops.sumAll(ops.add(ops.mul(a, a), a))));
  Array.from(a.data).forEach((v, i) => assert.ok(Math.abs(a.grad!.data[i] - (2 * v + 1)) < 1e-12));
});

test('noGrad records nothing; detach stops the gradient', () => {
  const w = randTensor(rng, [3]);
  const y = noGrad(() => ops.scale(w, 2));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
  const z = ops.add(detach(w), ops.scale(w, 3));
  scope(() => backward(ops.sumAll(z)));
  assert.deepEqual(Array.from(w.grad!.data), [3, 3, 3]);
});

test('backward refuses non-scalars without a seed and tensors off the tape', () => {
  const w = randTensor(rng, [3]);
  assert.throws(() => backward(ops.scale(w, 2)), /not a scalar/);
  assert.throws(() => backward(Tensor.zeros([1])), /not produced by a recorded op/);
});

test('bad input names the op, the argument and the shapes', () => {
  const a = Tensor.zeros([2, 3]);
  const b = Tensor.zeros([4, 5]);
  assert.throws(() => ops.matmul(a, b), /matmul: inner dimensions differ: #\d+\[2, 3\]:float32 x #\d+\[4, 5\]/);
  assert.throws(() => ops.linear(a, b, null), /linear: x .*\[2, 3\].* does not fit weight .*\[4, 5\]/);
  assert.throws(() => ops.matmul(a, Tensor.zeros([3, 2], 'float64')), /matmul: dtypes differ/);
  assert.throws(() => ops.gather(Tensor.zeros([4, 2]), Tensor.from(new Int32Array([0, 4]), [2])), /index 4 at position 1 is outside \[0, 4\)/);
  assert.throws(() => ops.gather(Tensor.zeros([4, 2]), Tensor.zeros([2])), /ids .* must be int32/);
  assert.throws(() => ops.softmaxCrossEntropy(Tensor.zeros([2, 3]), Tensor.from(new Int32Array([0, 3]), [2])), /label 3 at row 1 is outside \[0, 3\)/);
  assert.throws(() => ops.reshape(a, [4, 2]), /cannot view .* as \[4, 2\]/);
  assert.throws(() => ops.sum(a, 2), /axis 2 is out of range/);
  assert.throws(() => new Tensor(new Float32Array(3), [2, 2]), /has 3 elements, shape \[2, 2\] needs 4/);
});

test('float32 ops agree with float64 ops on the same data', () => {
  const x64 = randTensor(rng, [33, 17]);
  const w64 = randTensor(rng, [17, 7]);
  const x32 = new Tensor(Float32Array.from(x64.data), x64.shape);
  const w32 = new Tensor(Float32Array.from(w64.data), w64.shape);
  const y64 = ops.linear(x64, w64, null, { act: 'tanh' }).toArray();
  const y32 = ops.linear(x32, w32, null, { act: 'tanh' }).toArray();
  y64.forEach((v, i) => assert.ok(Math.abs(v - y32[i]) < 1e-5, `${v} vs ${y32[i]}`));
});

test('checkFinite names the op that produced a NaN', async () => {
  const { setCheckFinite } = await import('../src/core/index.js');
  setCheckFinite(true);
  try {
    assert.throws(() => ops.log(Tensor.from([1, -1], [2])), /log: output .* has NaN at element 1/);
  } finally {
    setCheckFinite(false);
  }
});

test('without the addon prerank still runs, on the reference kernels, and says why once', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = `
    import { engineInfo, ops, Tensor } from './dist/src/core/index.js';
    const y = ops.matmul(Tensor.from([1, 2, 3, 4], [2, 2]), Tensor.from([1, 0, 0, 1], [2, 2]));
    ops.matmul(y, y);
    console.log(JSON.stringify({ kernels: engineInfo().kernels, y: y.toArray() }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, PRERANK_NATIVE_PATH: '/nonexistent/prerank_native.node' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { kernels: 'reference', y: [1, 2, 3, 4] });
  const warnings = r.stderr.split('\n').filter((l) => l.includes('native addon unavailable'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /nonexistent\/prerank_native.node not found.*slow TypeScript reference kernels/);
});
