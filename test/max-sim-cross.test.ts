// Max-sim of every user against every item (ops.maxSimCross, IntTower's sampled-softmax scores): the gradient against
// central differences, the value against matmul + groupMaxSum, and the native backward against the reference loops
// on every instruction set, at head sizes with a register path (16, 32, 48, 64) and without (20).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, scope } from '../src/core/index.js';
import * as ops from '../src/core/ops/index.js';
import { nativeKernels } from '../src/core/kernels/dispatch.js';
import { reference } from '../src/core/kernels/reference.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';
import { onEveryIsa } from './helpers/isa.js';

test('maxSimCross: gradients to heads and items match central differences (float64)', () => {
  const rng = new Rng(3);
  gradCheck('maxSimCross', (h, v) => ops.maxSimCross(h, v, 3, 2), [randTensor(rng, [3 * 4, 5]), randTensor(rng, [6 * 2, 5])]);
});

test('maxSimCross equals one GEMM and groupMaxSum over the [A, B*C*G] similarities (float64)', () => {
  const rng = new Rng(4);
  const [A, B, C, G] = [3, 4, 5, 2];
  const h = randTensor(rng, [A * B, 7]), v = randTensor(rng, [C * G, 7]);
  scope(() => {
    const got = ops.maxSimCross(h, v, A, G).toArray();
    const want = ops.groupMaxSum(ops.reshape(ops.matmul(h, v, { transB: true }), [A, B * C * G]), G).toArray();
    assert.equal(got.length, B * C);
    got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-12, `[${i}]: ${x} vs ${want[i]}`));
  });
});

test('maxSimCross backward: the native kernel gives the reference loops\' gradients on every instruction set', (t) => {
  const native = nativeKernels();
  if (!native) return t.skip('native addon not built');
  onEveryIsa((isa) => {
    for (const P of [16, 32, 48, 64, 20]) {
      const rng = new Rng(P);
      const [A, B, C, G] = [3, 5, 37, 4];
      const heads = randTensor(rng, [A * B, P], { dtype: 'float32' }).f, items = randTensor(rng, [C * G, P], { dtype: 'float32' }).f;
      const arg = Int32Array.from({ length: A * B * C }, () => Math.floor(rng.uniform() * G));
      const gOut = randTensor(rng, [B * C], { dtype: 'float32' }).f;
      gOut[7] = 0; // a zero gradient is skipped by the register path
      const run = (k: typeof reference) => {
        const dh = new Float32Array(A * B * P).fill(NaN), di = new Float32Array(C * G * P).fill(NaN);
        k.maxSimCrossBackward(A, B, C, G, P, heads, items, arg, gOut, dh, di);
        return { dh, di };
      };
      const [want, got] = [run(reference), run(native as typeof reference)];
      for (const key of ['dh', 'di'] as const) {
        const scale = Math.max(...want[key].map(Math.abs));
        want[key].forEach((x, i) => assert.ok(Math.abs(got[key][i] - x) <= 1e-5 * scale, `${isa} P=${P} ${key}[${i}]: native ${got[key][i]} vs reference ${x}`));
      }
    }
  });
});

test('maxSimCross rejects shapes that do not split into A user heads and G item heads', () => {
  const rng = new Rng(5);
  assert.throws(() => ops.maxSimCross(randTensor(rng, [7, 4]), randTensor(rng, [6, 4]), 3, 2), /7 rows do not split into A = 3 heads a user/);
  assert.throws(() => ops.maxSimCross(randTensor(rng, [6, 4]), randTensor(rng, [5, 4]), 3, 2), /5 rows do not split into G = 2 heads an item/);
  assert.throws(() => ops.maxSimCross(randTensor(rng, [6, 4]), randTensor(rng, [6, 5]), 3, 2), /differ in head size/);
});
