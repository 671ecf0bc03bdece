// Every primitive op: forward against a direct computation where it is not obvious, and its gradient against
// central finite differences in float64 (reference kernels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, Rng, ops } from '../src/core/index.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';

const rng = new Rng(1);
const r = (shape: number[], o: Parameters<typeof randTensor>[2] = {}): Tensor => randTensor(rng, shape, o);

test('matmul with every transpose combination', () => {
  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
    const a = r(tA ? [4, 3] : [3, 4]);
    const b = r(tB ? [5, 4] : [4, 5]);
    gradCheck(`matmul tA=${tA} tB=${tB}`, (x, y) => ops.matmul(x, y, { transA: tA, transB: tB }), [a, b]);
  }
});

test('linear with each activation', () => {
  for (const act of ['none', 'relu', 'sigmoid', 'tanh', 'silu'] as const) {
    gradCheck(`linear ${act}`, (x, w, b) => ops.linear(x, w, b, { act }), [r([5, 4]), r([4, 3]), r([3])]);
  }
  gradCheck('linear prelu', (x, w, b, s) => ops.linear(x, w, b, { act: 'prelu', slope: s }), [r([5, 4]), r([4, 3]), r([3]), r([3], { offset: 0.2, scale: 0.1 })]);
  gradCheck('linear no bias', (x, w) => ops.linear(x, w, null), [r([2, 4]), r([4, 3])]);
});

test('batched matmul', () => {
  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
    const a = r(tA ? [3, 4, 2] : [3, 2, 4]);
    const b = r(tB ? [3, 5, 4] : [3, 4, 5]);
    gradCheck(`bmm tA=${tA} tB=${tB}`, (x, y) => ops.bmm(x, y, { transA: tA, transB: tB }), [a, b]);
  }
});

test('broadcasting binary ops', () => {
  const shapes: [number[], number[]][] = [[[3, 4], [3, 4]], [[3, 4], [4]], [[3, 4], [3, 1]], [[3, 4], [1]], [[2, 3, 4], [3, 1]], [[4], [2, 3, 4]],
    [[2, 3, 1], [2, 1, 3]], [[3, 1], [1, 4]]]; // the last two: both sides broadcast (outer differences, as in SoftSort)
  for (const [sa, sb] of shapes) {
    gradCheck(`add ${sa}+${sb}`, ops.add, [r(sa), r(sb)]);
    gradCheck(`sub ${sa}-${sb}`, ops.sub, [r(sa), r(sb)]);
    gradCheck(`mul ${sa}*${sb}`, ops.mul, [r(sa), r(sb)]);
    gradCheck(`div ${sa}/${sb}`, ops.div, [r(sa), r(sb, { offset: 3, scale: 0.5 })]);
  }
  const y = ops.add(Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], 'float64'), Tensor.from([10, 20], [2, 1], 'float64'));
  assert.deepEqual(y.toArray(), [11, 12, 13, 24, 25, 26]);
  assert.throws(() => ops.add(r([3, 4]), r([3])), /do not broadcast/);
});

test('unary ops', () => {
  const pos = (): Tensor => r([3, 4], { offset: 2, scale: 0.3 });
  gradCheck('neg', ops.neg, [r([3, 4])]);
  gradCheck('exp', ops.exp, [r([3, 4])]);
  gradCheck('log', ops.log, [pos()]);
  gradCheck('sqrt', ops.sqrt, [pos()]);
  gradCheck('abs', ops.abs, [r([3, 4])]);
  gradCheck('pow', (x) => ops.pow(x, 3), [r([3, 4])]);
  gradCheck('pow frac', (x) => ops.pow(x, 1.5), [pos()]);
  gradCheck('scale', (x) => ops.scale(x, -2.5), [r([3, 4])]);
  gradCheck('addScalar', (x) => ops.addScalar(x, 1.5), [r([3, 4])]);
  gradCheck('clamp', (x) => ops.clamp(x, -0.5, 0.5), [r([3, 4])]);
  for (const act of ['relu', 'sigmoid', 'tanh', 'silu'] as const) gradCheck(act, (x) => ops.activation(x, act), [r([3, 4])]);
  gradCheck('prelu per channel', (x, s) => ops.prelu(x, s), [r([3, 4]), r([4], { offset: 0.25, scale: 0.1 })]);
  gradCheck('prelu shared', (x, s) => ops.prelu(x, s), [r([3, 4]), r([1], { offset: 0.25, scale: 0.1 })]);
});

test('reductions', () => {
  for (const axis of [0, 1, 2, -1]) {
    gradCheck(`sum axis ${axis}`, (x) => ops.sum(x, axis), [r([2, 3, 4])]);
    gradCheck(`mean axis ${axis}`, (x) => ops.mean(x, axis, true), [r([2, 3, 4])]);
    gradCheck(`max axis ${axis}`, (x) => ops.max(x, axis), [r([2, 3, 4])]);
  }
  gradCheck('sumAll', ops.sumAll, [r([3, 4])]);
  gradCheck('meanAll', ops.meanAll, [r([3, 4])]);
  gradCheck('rowDot', ops.rowDot, [r([5, 4]), r([5, 4])]);
  gradCheck('groupMaxSum', (x) => ops.groupMaxSum(x, 3), [r([4, 6])]);
  gradCheck('pairMaxSim', (u, v) => ops.pairMaxSim(u, v), [r([3, 5, 4]), r([3, 2, 4])]);
  // The fused op equals its composition from bmm, max and sum.
  const [pu, pv] = [r([4, 6, 3]), r([4, 3, 3])];
  const composed = ops.sum(ops.max(ops.bmm(pu, pv, { transB: true }), 2), 1).toArray();
  ops.pairMaxSim(pu, pv).toArray().forEach((x, i) => assert.ok(Math.abs(x - composed[i]) < 1e-12, `pairMaxSim pair ${i}: ${x} vs ${composed[i]}`));
  assert.deepEqual(ops.groupMaxSum(Tensor.from([1, 5, 2, 0, 3, 3, -1, -2], [2, 4], 'float64'), 2).toArray(), [8, 1]);
  const m = ops.max(Tensor.from([1, 5, 5, 2, -1, -3], [2, 3], 'float64'), 1);
  assert.deepEqual(m.toArray(), [5, 2]);
});

test('softmax and log-softmax over any axis', () => {
  for (const axis of [-1, 0, 1]) {
    gradCheck(`softmax ${axis}`, (x) => ops.softmax(x, axis), [r([3, 4, 2])]);
    gradCheck(`logSoftmax ${axis}`, (x) => ops.logSoftmax(x, axis), [r([3, 4, 2])]);
  }
  const s = ops.softmax(Tensor.from([1000, 1000], [1, 2], 'float64'));
  assert.deepEqual(s.toArray(), [0.5, 0.5]);
});

test('shape ops', () => {
  gradCheck('reshape', (x) => ops.reshape(x, [4, -1]), [r([2, 3, 2])]);
  gradCheck('transpose', ops.transpose, [r([2, 3, 4])]);
  gradCheck('concat axis 1', (a, b) => ops.concat([a, b], 1), [r([2, 3]), r([2, 5])]);
  gradCheck('concat axis 0', (a, b) => ops.concat([a, b], 0), [r([2, 3]), r([1, 3])]);
  gradCheck('split', (x) => { const [a, b] = ops.split(x, [1, 3], -1); return ops.concat([ops.scale(a, 2), b], -1); }, [r([3, 4])]);
  const t = ops.transpose(Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], 'float64'));
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(t.toArray(), [1, 4, 2, 5, 3, 6]);
});

test('normalisations', () => {
  gradCheck('l2Normalize', (x) => ops.l2Normalize(x), [r([4, 5])]);
  const zeroRow = r([2, 3]);
  zeroRow.data.fill(0, 0, 3);
  gradCheck('l2Normalize zero row', (x) => ops.l2Normalize(x, 1e-3), [zeroRow]);
  gradCheck('layerNorm', (x, g, b) => ops.layerNorm(x, g, b), [r([4, 6]), r([6], { offset: 1 }), r([6])], { tol: 1e-4 });
  const state = () => ({ runningMean: new Tensor(new Float64Array(5), [5]), runningVar: new Tensor(new Float64Array(5).fill(1), [5]), momentum: 0.1, eps: 1e-5 });
  gradCheck('batchNorm train', (x, g, b) => ops.batchNorm(x, g, b, state(), true), [r([6, 5]), r([5], { offset: 1 }), r([5])], { tol: 1e-4 });
  gradCheck('batchNorm eval', (x, g, b) => ops.batchNorm(x, g, b, state(), false), [r([6, 5]), r([5], { offset: 1 }), r([5])]);
});

test('gather (dense and sparse gradient) and masked pooling', () => {
  const ids = Tensor.from(new Int32Array([0, 3, 3, 1, 4, 0]), [3, 2]);
  gradCheck('gather dense', (t) => ops.gather(t, ids), [r([5, 4])]);
  const sparse = r([5, 4]);
  sparse.sparse = true;
  gradCheck('gather sparse', (t) => ops.gather(t, ids), [sparse]);
  const mask = Tensor.from(new Float64Array([1, 1, 0, 1, 0, 0, 0, 0, 0]), [3, 3]);
  gradCheck('maskedPool mean', (x) => ops.maskedPool(x, mask, 'mean'), [r([3, 3, 2])]);
  gradCheck('maskedPool sum', (x) => ops.maskedPool(x, mask, 'sum'), [r([3, 3, 2])]);
  const pooled = ops.maskedPool(Tensor.from(new Float64Array([1, 2, 3, 4, 5, 6]), [1, 3, 2]), Tensor.from(new Float64Array([1, 0, 1]), [1, 3]), 'mean');
  assert.deepEqual(pooled.toArray(), [3, 4]);
});

test('dropout is seeded, scaled, and the identity in eval', () => {
  const x = r([10, 10]);
  gradCheck('dropout', (t) => ops.dropout(t, 0.3, new Rng(5), true), [x]);
  const y = ops.dropout(x, 0.5, new Rng(7), true);
  const kept = y.toArray().filter((v, i) => v !== 0 && Math.abs(v - 2 * x.data[i]) < 1e-12).length;
  const zeros = y.toArray().filter((v) => v === 0).length;
  assert.equal(kept + zeros, 100);
  assert.ok(zeros > 30 && zeros < 70, `dropout zeroed ${zeros} of 100`);
  assert.equal(ops.dropout(x, 0.5, new Rng(7), false), x);
});

test('losses', () => {
  const t = Tensor.from(new Float64Array([1, 0, 1, 0, 1]), [5]);
  const w = Tensor.from(new Float64Array([1, 2, 0.5, 1, 3]), [5]);
  gradCheck('bce mean', (z) => ops.bceWithLogits(z, t), [r([5], { scale: 3 })]);
  gradCheck('bce sum weighted', (z) => ops.bceWithLogits(z, t, { reduction: 'sum', weights: w }), [r([5], { scale: 3 })]);
  const labels = Tensor.from(new Int32Array([2, 0, 1]), [3]);
  gradCheck('softmax CE', (z) => ops.softmaxCrossEntropy(z, labels), [r([3, 4])]);
  gradCheck('softmax CE scaled, sum', (z) => ops.softmaxCrossEntropy(z, labels, 'sum', { scale: -2.5 }), [r([3, 4])]);
  // The fused op against its definition: -log softmax(scale * z)[label], averaged.
  const z3 = r([3, 4]);
  const lsm = ops.logSoftmax(ops.scale(z3, 1.7), -1);
  const want = -[2, 0, 1].reduce((acc, l, i) => acc + lsm.data[i * 4 + l], 0) / 3;
  assert.ok(Math.abs(ops.softmaxCrossEntropy(z3, labels, 'mean', { scale: 1.7 }).item() - want) < 1e-12);
  gradCheck('infoNCE', (s) => ops.infoNCE(s, 0.2), [r([4, 4])]);
  // BCE against its definition, including large logits where a naive formula overflows.
  const z = Tensor.from(new Float64Array([0, 2, -3, 50, -50]), [5]);
  const expected = [0, 2, -3, 50, -50].map((x, i) => {
    const p = 1 / (1 + Math.exp(-x));
    const y = t.data[i];
    return -(y * Math.log(Math.max(p, 1e-300)) + (1 - y) * Math.log(Math.max(1 - p, 1e-300)));
  });
  // log(1 - sigmoid(50)) underflows in the naive formula; the stable value is -50 - log1p(exp(-50)).
  expected[3] = 50 + Math.log1p(Math.exp(-50));
  assert.ok(Math.abs(ops.bceWithLogits(z, t, { reduction: 'sum' }).item() - expected.reduce((a, b) => a + b)) < 1e-9);
});
