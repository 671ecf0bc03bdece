// Max-sim of every user against every item (ops.maxSimCross, IntTower's sampled-softmax scores): the gradient against
// central differences, the value against matmul + groupMaxSum, and the native forward (tiled, shapes across its tile
// edges, with ties) and backward (head sizes with a register path, 16/32/48/64, and without, 20) against the reference
// loops on every instruction set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, Tensor, scope } from '../src/core/index.js';
import * as ops from '../src/core/ops/index.js';
import { nativeKernels } from '../src/core/kernels/dispatch.js';
import { reference } from '../src/core/kernels/reference.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';
import { onEveryIsa } from './helpers/isa.js';

test('maxSimCross: gradients to heads and items match central differences (float64)', () => {
  const rng = new Rng(3);
  gradCheck('maxSimCross', (h, v) => ops.maxSimCross(h, v, 3, 2), [randTensor(rng, [3 * 4, 5]), randTensor(rng, [6 * 2, 5])]);
});

test('maxSimCross equals one GEMM and groupMaxSum over the similarities of its heads taken head by head (float64)', () => {
  const rng = new Rng(4);
  const [A, B, C, G] = [3, 4, 5, 2];
  const h = randTensor(rng, [B * A, 7]), v = randTensor(rng, [C * G, 7]);
  scope(() => {
    const got = ops.maxSimCross(h, v, A, G).toArray();
    // Head-major rows (a*B + b = user b's head a) make the similarities [A, B*C*G], groupMaxSum's layout.
    const headMajor = ops.gather(h, Tensor.from(Int32Array.from({ length: A * B }, (_, k) => (k % B) * A + Math.floor(k / B)), [A * B], 'int32'));
    const want = ops.groupMaxSum(ops.reshape(ops.matmul(headMajor, v, { transB: true }), [A, B * C * G]), G).toArray();
    assert.equal(got.length, B * C);
    got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-12, `[${i}]: ${x} vs ${want[i]}`));
  });
});

test('maxSimCross forward: the native tiled kernel gives the reference loops\' scores and winners on every instruction set', (t) => {
  const native = nativeKernels();
  if (!native) return t.skip('native addon not built');
  onEveryIsa((isa) => {
    // Users past one 128-user tile, items past one tile and off the 16-item vector width, G = 1 and odd G, and P off
    // the register widths; item 0's heads are copies of each other, so every head against it ties and the first wins.
    for (const [A, B, C, G, P] of [[3, 261, 150, 4, 16], [2, 130, 531, 1, 24], [5, 9, 40, 3, 20], [4, 140, 77, 8, 64]] as const) {
      const rng = new Rng(B + C);
      const heads = randTensor(rng, [A * B, P], { dtype: 'float32' }).f, items = randTensor(rng, [C * G, P], { dtype: 'float32' }).f;
      for (let g = 1; g < G; g++) items.copyWithin(g * P, 0, P);
      const run = (k: typeof reference): { out: Float32Array; arg: Int32Array } => {
        const out = new Float32Array(B * C).fill(NaN), arg = new Int32Array(A * B * C).fill(-1);
        k.maxSimCross(A, B, C, G, P, heads, items, out, arg);
        return { out, arg };
      };
      const want = run(reference), got = run(native as typeof reference);
      want.out.forEach((x, i) => assert.ok(Math.abs(got.out[i] - x) <= 1e-5 * Math.max(1, Math.abs(x)), `${isa} ${[A, B, C, G, P]} out[${i}]: native ${got.out[i]} vs reference ${x}`));
      // Winners agree wherever the two best similarities are not within rounding of each other (the reference sums in float64).
      let compared = 0;
      for (let a = 0; a < A; a++) {
        for (let b = 0; b < B; b++) {
          for (let c = 0; c < C; c++) {
            const i = a * B * C + b * C + c;
            const sims = Array.from({ length: G }, (_, g) => { let s = 0; for (let p = 0; p < P; p++) s += heads[(b * A + a) * P + p] * items[(c * G + g) * P + p]; return s; });
            const sorted = [...sims].sort((x, y) => y - x);
            if (c > 0 && G > 1 && sorted[0] - sorted[1] < 1e-5) continue;
            compared++;
            assert.equal(got.arg[i], want.arg[i], `${isa} ${[A, B, C, G, P]} arg[${i}] (a ${a}, b ${b}, c ${c})`);
          }
        }
      }
      assert.ok(compared > 0.9 * A * B * C, `${compared} of ${A * B * C} winners compared`);
    }
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
  assert.throws(() => ops.maxSimCross(randTensor(rng, [7, 4]), randTensor(rng, [6, 4]), 3, 2), /must be \[B\*A, P\]: 7 rows do not split into A = 3 heads a user/);
  assert.throws(() => ops.maxSimCross(randTensor(rng, [6, 4]), randTensor(rng, [5, 4]), 3, 2), /5 rows do not split into G = 2 heads an item/);
  assert.throws(() => ops.maxSimCross(randTensor(rng, [6, 4]), randTensor(rng, [6, 5]), 3, 2), /differ in head size/);
});
