// RankTower's per-pair score as one op (ops.gauMaxSim): its gradient against central differences, its value against
// the same formula composed from the primitive ops, and the native kernel against the reference loops, at sizes that
// take the vector paths (multiples of 16) and the remainders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, Tensor, scope } from '../src/core/index.js';
import * as ops from '../src/core/ops/index.js';
import { nativeKernels } from '../src/core/kernels/dispatch.js';
import { reference } from '../src/core/kernels/reference.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';
import { onEveryIsa } from './helpers/isa.js';

const dims = (userHeads: number, itemHeads: number, headSize: number, attnDim: number, valueDim: number): ops.GauDims =>
  ({ userHeads, itemHeads, headSize, attnDim, valueDim, eps: 1e-5 });

/** Packed weights with gamma near 1 and the rest small, as a trained model has them. */
function weights(rng: Rng, d: ops.GauDims, dtype: 'float32' | 'float64'): Tensor {
  const w = randTensor(rng, [ops.gauWeightsSize(d)], { dtype, scale: 0.3 });
  const branch = d.valueDim * d.headSize + 3 * d.headSize;
  for (let b = 0; b < 2; b++) for (let c = 0; c < d.headSize; c++) w.data[b * branch + d.valueDim * d.headSize + d.headSize + c] += 1;
  return w;
}

/** The same score from bmm, softmax, matmul, layerNorm, l2Normalize and pairMaxSim, pair by pair. */
function composed(u: Tensor, v: Tensor, users: Int32Array, items: Int32Array, w: Tensor, d: ops.GauDims): Tensor {
  const { userHeads: Hu, itemHeads: Hi, headSize: K, attnDim: D, valueDim: V } = d;
  const N = users.length;
  const at = (ix: Int32Array) => Tensor.from(ix, [N], 'int32');
  const part = (rep: Tensor, ix: Int32Array, heads: number) =>
    ops.split(rep, [K, D, V, D, V].map((x) => heads * x), 1).map((p) => ops.reshape(ops.gather(p, at(ix)), [N, heads, -1]));
  const [eu, qu, uu, ku, vu] = part(u, users, Hu);
  const [ei, ki, vi, qi, ui] = part(v, items, Hi);
  const packed = ops.split(ops.reshape(w, [1, -1]), [V * K, K, K, K, V * K, K, K, K], 1);
  const attend = (b: number, e: Tensor, q: Tensor, g: Tensor, k: Tensor, val: Tensor, Hq: number) => {
    const [wo, bo, gamma, beta] = packed.slice(4 * b, 4 * b + 4);
    const a = ops.softmax(ops.scale(ops.bmm(q, k, { transB: true }), 1 / Math.sqrt(D)), -1);
    const z = ops.reshape(ops.mul(g, ops.bmm(a, val)), [N * Hq, V]);
    const o = ops.add(ops.matmul(z, ops.reshape(wo, [V, K])), ops.reshape(bo, [1, K]));
    const y = ops.layerNorm(ops.add(ops.reshape(e, [N * Hq, K]), o), ops.reshape(gamma, [K]), ops.reshape(beta, [K]), d.eps);
    return ops.reshape(ops.l2Normalize(y), [N, Hq, K]);
  };
  return ops.pairMaxSim(attend(0, eu, qu, uu, ki, vi, Hu), attend(1, ei, qi, ui, ku, vu, Hi));
}

const USERS = Int32Array.from([0, 1, 2, 0, 1, 2, 0]);
const ITEMS = Int32Array.from([0, 1, 2, 3, 3, 0, 1]);

test('gauMaxSim: gradients to both rep tables and the packed weights match central differences (float64)', () => {
  for (const d of [dims(3, 2, 5, 3, 4), dims(2, 3, 4, 6, 2)]) {
    const rng = new Rng(7);
    const u = randTensor(rng, [3, ops.gauRepWidth(d.userHeads, d)]);
    const v = randTensor(rng, [4, ops.gauRepWidth(d.itemHeads, d)]);
    gradCheck(`gauMaxSim ${JSON.stringify(d)}`, (a, b, w) => ops.gauMaxSim(a, b, USERS, ITEMS, w, d), [u, v, weights(rng, d, 'float64')], { tol: 1e-5 });
  }
});

test('gauMaxSim equals the formula composed from primitive ops (float64)', () => {
  const d = dims(3, 2, 5, 3, 4);
  const rng = new Rng(8);
  const u = randTensor(rng, [3, ops.gauRepWidth(3, d)], { scale: 2 }), v = randTensor(rng, [4, ops.gauRepWidth(2, d)], { scale: 2 });
  const w = weights(rng, d, 'float64');
  scope(() => {
    const got = ops.gauMaxSim(u, v, USERS, ITEMS, w, d).toArray();
    const want = composed(u, v, USERS, ITEMS, w, d).toArray();
    got.forEach((x, n) => assert.ok(Math.abs(x - want[n]) < 1e-12, `pair ${n}: ${x} vs ${want[n]}`));
  });
});

test('gauMaxSim: the native kernel gives the reference loops\' scores and gradients on every instruction set (vector sizes and remainders)', (t) => {
  const native = nativeKernels();
  if (!native) return t.skip('native addon not built');
  onEveryIsa((isa) => {
    for (const d of [dims(4, 4, 32, 32, 32), dims(3, 2, 20, 24, 40), dims(2, 5, 48, 16, 8)]) {
      const rng = new Rng(9);
      const P = 5, C = 7, N = P * C + 9;
      const users = Int32Array.from({ length: N }, (_, n) => (n < P * C ? Math.floor(n / C) : n % P));
      const items = Int32Array.from({ length: N }, (_, n) => (n < P * C ? n % C : (3 * n) % C));
      const Ru = ops.gauRepWidth(d.userHeads, d), Ri = ops.gauRepWidth(d.itemHeads, d);
      const u = randTensor(rng, [P, Ru], { dtype: 'float32' }).f, v = randTensor(rng, [C, Ri], { dtype: 'float32' }).f;
      const w = weights(rng, d, 'float32').f, g = randTensor(rng, [N], { dtype: 'float32' }).f;
      const run = (k: typeof reference) => {
        const out = new Float32Array(N), du = new Float32Array(P * Ru), dv = new Float32Array(C * Ri), dw = new Float32Array(w.length);
        const a = [d.userHeads, d.itemHeads, d.headSize, d.attnDim, d.valueDim, d.eps, P, C, N, users, items] as const;
        k.gauMaxSim(...a, u, v, w, out);
        k.gauMaxSimBackward(...a, u, v, w, g, du, dv, dw);
        return { out, du, dv, dw };
      };
      const [want, got] = [run(reference), run(native as typeof reference)];
      for (const key of ['out', 'du', 'dv', 'dw'] as const) {
        const scale = Math.max(...want[key].map(Math.abs));
        want[key].forEach((x, i) => assert.ok(Math.abs(got[key][i] - x) <= 2e-5 * scale, `${isa} ${JSON.stringify(d)} ${key}[${i}]: native ${got[key][i]} vs reference ${x}`));
      }
    }
  });
});

test('gauMaxSim rejects a pair outside the rep tables and reps of the wrong width, naming them', () => {
  const d = dims(2, 2, 4, 4, 4);
  const rng = new Rng(10);
  const u = randTensor(rng, [2, ops.gauRepWidth(2, d)], { dtype: 'float32' }), v = randTensor(rng, [3, ops.gauRepWidth(2, d)], { dtype: 'float32' });
  const w = weights(rng, d, 'float32');
  assert.throws(() => ops.gauMaxSim(u, v, Int32Array.from([0, 2]), Int32Array.from([0, 1]), w, d), /pair 1 is \(2, 1\), outside \[0, 2\) x \[0, 3\)/);
  assert.throws(() => ops.gauMaxSim(v, u, Int32Array.from([0]), Int32Array.from([0]), w, dims(2, 2, 4, 4, 5)), /must have 44 and 44 columns/);
});
