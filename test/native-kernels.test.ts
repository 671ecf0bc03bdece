// The native kernels against the reference kernels, on every SIMD path this CPU has, on random shapes that include
// odd sizes (1, 7, 33, 300). Skipped (with a message) when the addon is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, engineInfo, nativeKernels, referenceKernels as ref, setIsa, type FArr, type Kernels } from '../src/core/index.js';

const native = nativeKernels();
const info = engineInfo();
const skip = native ? false : `native addon not loaded: ${info.loadError}`;
const rng = new Rng(2024);

function rand(n: number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + rng.normal() * scale;
  return a;
}

/** |a - b| <= tol * (1 + |b|) element-wise, reporting the first offender. */
function close(name: string, a: FArr, b: FArr, tol = 1e-5): void {
  assert.equal(a.length, b.length, `${name}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (!(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])))) assert.fail(`${name}: element ${i}: native ${a[i]} vs reference ${b[i]}`);
  }
}

/** Runs fn(kernels, outputs) for native and reference on copies of the same outputs and compares them. */
function same(name: string, outs: FArr[], fn: (k: Kernels, o: FArr[]) => void, tol = 1e-5): void {
  const a = outs.map((o) => o.slice());
  const b = outs.map((o) => o.slice());
  fn(native!, a);
  fn(ref, b);
  a.forEach((x, i) => close(`${name} output ${i}`, x, b[i], tol));
}

const SIZES = [1, 7, 33, 300];
const isas = info.supportedIsas;

for (const isa of isas) {
  test(`gemm on ${isa}: all transposes, odd sizes, alpha/beta, strides, bias+relu`, { skip }, () => {
    setIsa(isa);
    try {
      for (const M of SIZES) for (const N of [1, 7, 33, 300]) for (const K of [1, 7, 33, 300]) {
        if (M * N * K > 300 * 33 * 300 && !(M === 300 && N === 300 && K === 300)) continue;
        for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const lda = (tA ? M : K) + (M % 2);
          const ldb = (tB ? K : N) + 1;
          const ldc = N + 3;
          const A = rand((tA ? K : M) * lda);
          const B = rand((tB ? N : K) * ldb);
          const bias = rand(N);
          const relu = (M + N) % 2 === 0;
          const beta = K % 2 ? 0 : 0.5;
          const C = rand(M * ldc);
          if (beta === 0) C.fill(NaN);
          same(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB}`, [C], (k, [c]) => k.gemm(tA, tB, M, N, K, 0.75, A, lda, B, ldb, beta, c, ldc, bias, relu), 2e-5 * Math.sqrt(K));
        }
      }
    } finally {
      setIsa(info.detectedIsa);
    }
  });

  test(`gemmBatched on ${isa}`, { skip }, () => {
    setIsa(isa);
    try {
      for (const [S, M, N, K] of [[1, 1, 1, 1], [7, 4, 4, 64], [33, 5, 7, 3], [300, 4, 4, 64], [2, 33, 65, 300]]) {
        for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const A = rand(S * M * K);
          const B = rand(S * K * N);
          const C = rand(S * M * N);
          same(`bmm ${S}x${M}x${N}x${K}`, [C], (k, [c]) => k.gemmBatched(tA, tB, S, M, N, K, 1, A, tA ? M : K, M * K, B, tB ? K : N, K * N, 0.5, c, N, M * N), 2e-5 * Math.sqrt(K));
        }
      }
    } finally {
      setIsa(info.detectedIsa);
    }
  });
}

for (const isa of isas) {
  test(`crossEntropy forward and backward on ${isa} (polynomial exp)`, { skip }, () => {
    setIsa(isa);
    try {
      for (const [rows, cols] of [[1, 1], [7, 33], [33, 7], [300, 300], [5, 2048]]) {
        for (const scale of [1, 1 / 0.07, -0.5]) {
          const X = rand(rows * cols, 1.5);
          const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7) % cols);
          const lseN = new Float32Array(rows);
          const lseR = new Float32Array(rows);
          const lossN = native!.crossEntropy(rows, cols, X, labels, scale, lseN);
          const lossR = ref.crossEntropy(rows, cols, X, labels, scale, lseR);
          assert.ok(Math.abs(lossN - lossR) <= 2e-5 * (rows + Math.abs(lossR)), `crossEntropy ${rows}x${cols} scale ${scale}: ${lossN} vs ${lossR}`);
          close(`crossEntropy lse ${rows}x${cols}`, lseN, lseR, 1e-5);
          same(`crossEntropyBackward ${rows}x${cols} scale ${scale}`, [new Float32Array(rows * cols)], (k, [dx]) => k.crossEntropyBackward(rows, cols, X, labels, scale, lseR, 0.3, dx), 1e-5);
        }
      }
      // Far below the row maximum exp underflows to (nearly) zero, and the loss stays finite.
      const X = Float32Array.from([0, -200, 300, -1e6]);
      const lse = new Float32Array(1);
      const loss = native!.crossEntropy(1, 4, X, Int32Array.from([1]), 1, lse);
      assert.ok(Math.abs(lse[0] - 300) < 1e-4 && Math.abs(loss - 500) < 1e-3, `lse ${lse[0]}, loss ${loss}`);
      assert.throws(() => native!.crossEntropy(1, 4, X, Int32Array.from([4]), 1, lse), /label 4 at row 0 is outside \[0, 4\)/);
    } finally {
      setIsa(info.detectedIsa);
    }
  });
}

test('element-wise, normalisation and loss kernels', { skip }, () => {
  for (const rows of SIZES) for (const cols of SIZES) {
    const n = rows * cols;
    const X = rand(n, 2);
    for (let act = 0; act <= 5; act++) {
      const slope = act === 2 ? rand(cols % 2 ? 1 : cols, 0.1, 0.2) : null;
      const Y = new Float32Array(n);
      ref.actForward(act, rows, cols, X, Y, slope);
      same(`actForward ${act} ${rows}x${cols}`, [new Float32Array(n)], (k, [y]) => k.actForward(act, rows, cols, X, y, slope));
      const dY = rand(n);
      const dSlope = slope ? new Float32Array(slope.length) : null;
      same(`actBackward ${act} ${rows}x${cols}`, dSlope ? [new Float32Array(n), dSlope] : [new Float32Array(n)], (k, [dx, ds]) => k.actBackward(act, rows, cols, X, Y, dY, dx, slope, ds ?? null), 1e-4);
    }
    same(`colSum ${rows}x${cols}`, [rand(cols)], (k, [o]) => k.colSum(rows, cols, X, o, true), 1e-4);
    same(`l2norm ${rows}x${cols}`, [new Float32Array(n), new Float32Array(rows)], (k, [y, nr]) => k.l2norm(rows, cols, X, y, nr, 1e-12));
    const Yn = new Float32Array(n);
    const norms = new Float32Array(rows);
    ref.l2norm(rows, cols, X, Yn, norms, 1e-12);
    const dY = rand(n);
    same(`l2normBackward ${rows}x${cols}`, [new Float32Array(n)], (k, [dx]) => k.l2normBackward(rows, cols, Yn, norms, dY, dx, 1e-12), 1e-4);
    for (const log of [false, true]) {
      same(`softmax log=${log} ${rows}x${cols}`, [new Float32Array(n)], (k, [y]) => k.softmax(rows, cols, X, y, log));
      const Ys = new Float32Array(n);
      ref.softmax(rows, cols, X, Ys, log);
      same(`softmaxBackward log=${log}`, [new Float32Array(n)], (k, [dx]) => k.softmaxBackward(rows, cols, Ys, dY, dx, log), 1e-4);
    }
    const t = rand(n).map((v) => (v > 0 ? 1 : 0));
    const w = rand(n, 0.5, 1);
    const lossN = native!.bceLogits(n, X, t, w, null, 1);
    const lossR = ref.bceLogits(n, X, t, w, null, 1);
    assert.ok(Math.abs(lossN - lossR) <= 1e-5 * (1 + Math.abs(lossR)), `bce loss ${lossN} vs ${lossR}`);
    same(`bce grad`, [new Float32Array(n)], (k, [g]) => k.bceLogits(n, X, t, w, g, 0.5));
    same(`axpy`, [rand(n)], (k, [d]) => k.axpy(n, -0.3, X, d));
    same(`rowDot ${rows}x${cols}`, [new Float32Array(rows)], (k, [o]) => k.rowDot(rows, cols, X, dY, o), 1e-4);
    same(`rowScale ${rows}x${cols}`, [new Float32Array(n)], (k, [o]) => k.rowScale(rows, cols, X.subarray(0, rows), dY, o));
  }
});

test('dropout, mul, batch norm and layer norm kernels', { skip }, () => {
  for (const rows of [2, 7, 33, 300]) for (const cols of SIZES) {
    const n = rows * cols;
    const X = rand(n, 2);
    same(`dropout ${rows}x${cols}`, [new Float32Array(n), new Float32Array(n)], (k, [y, m]) => k.dropout(n, 0.3, 12345 + rows, X, y, m), 1e-6);
    same(`mul ${rows}x${cols}`, [new Float32Array(n)], (k, [o]) => k.mul(n, X, rand(n).map((_, i) => X[(i * 7) % n]), o));
    const gamma = rand(cols, 0.2, 1);
    const beta = rand(cols);
    for (const training of [true, false]) {
      const outs = [rand(cols, 0.1), rand(cols, 0.1, 1).map(Math.abs), new Float32Array(n), new Float32Array(cols), new Float32Array(n)];
      same(`batchNormForward ${rows}x${cols} training=${training}`, outs, (k, [rm, rv, xh, inv, y]) => k.batchNormForward(rows, cols, X, gamma, beta, rm, rv, training, 0.1, 1e-5, xh, inv, y), 1e-4);
      const xhat = new Float32Array(n);
      const invStd = new Float32Array(cols);
      ref.batchNormForward(rows, cols, X, gamma, beta, new Float32Array(cols), new Float32Array(cols).fill(1), training, 0.1, 1e-5, xhat, invStd, new Float32Array(n));
      const G = rand(n);
      same(`batchNormBackward ${rows}x${cols} training=${training}`, [new Float32Array(n), new Float32Array(cols), new Float32Array(cols)], (k, [dx, dg, db]) => k.batchNormBackward(rows, cols, G, xhat, gamma, invStd, training, dx, dg, db), 1e-4);
    }
    same(`layerNormForward ${rows}x${cols}`, [new Float32Array(n), new Float32Array(rows), new Float32Array(n)], (k, [xh, inv, y]) => k.layerNormForward(rows, cols, X, gamma, beta, 1e-5, xh, inv, y), 1e-4);
    const xhat = new Float32Array(n);
    const invStd = new Float32Array(rows);
    ref.layerNormForward(rows, cols, X, gamma, beta, 1e-5, xhat, invStd, new Float32Array(n));
    const G = rand(n);
    same(`layerNormBackward ${rows}x${cols}`, [new Float32Array(n), new Float32Array(cols), new Float32Array(cols)], (k, [dx, dg, db]) => k.layerNormBackward(rows, cols, G, xhat, gamma, invStd, dx, dg, db), 1e-4);
    same(`layerNormBackward ${rows}x${cols} without dX`, [new Float32Array(cols), new Float32Array(cols)], (k, [dg, db]) => k.layerNormBackward(rows, cols, G, xhat, gamma, invStd, null, dg, db), 1e-4);
  }
});

for (const isa of isas) {
  test(`pairMaxSim forward and backward on ${isa}`, { skip }, () => {
    setIsa(isa);
    try {
      for (const [N, A, G, P] of [[1, 1, 1, 1], [7, 12, 4, 64], [33, 5, 3, 7], [300, 3, 2, 33], [5, 96, 32, 64], [2, 4, 4, 300]]) {
        const U = rand(N * A * P);
        const V = rand(N * G * P);
        const argN = new Int32Array(N * A);
        const argR = new Int32Array(N * A);
        same(`pairMaxSim ${N}x${A}x${G}x${P}`, [new Float32Array(N)], (k, [o]) => k.pairMaxSim(N, A, G, P, U, V, o, k === ref ? argR : argN), 1e-5);
        assert.deepEqual(argN, argR, `pairMaxSim ${N}x${A}x${G}x${P}: arg-max`);
        const gOut = rand(N);
        same(`pairMaxSimBackward ${N}x${A}x${G}x${P}`, [rand(N * A * P), rand(N * G * P)], (k, [du, dv]) => k.pairMaxSimBackward(N, A, G, P, U, V, argR, gOut, du, dv), 1e-5);
        same(`pairMaxSimBackward dV only`, [rand(N * G * P)], (k, [dv]) => k.pairMaxSimBackward(N, A, G, P, U, V, argR, gOut, null, dv), 1e-5);
      }
      assert.throws(() => native!.pairMaxSimBackward(1, 1, 2, 1, new Float32Array(1), new Float32Array(2), Int32Array.from([2]), new Float32Array(1), null, null), /arg 2 at position 0 is outside \[0, 2\)/);
    } finally {
      setIsa(info.detectedIsa);
    }
  });
}

test('groupMaxSum kernel', { skip }, () => {
  for (const [A, N, G] of [[1, 1, 1], [12, 33, 4], [96, 300, 32], [7, 1000, 5]]) {
    const X = rand(A * N * G);
    const argN = new Int32Array(A * N);
    const argR = new Int32Array(A * N);
    same(`groupMaxSum ${A}x${N}x${G}`, [new Float32Array(N)], (k, [o]) => k.groupMaxSum(A, N, G, X, o, k === ref ? argR : argN));
    assert.deepEqual(argN, argR);
  }
});

test('gather/scatter rows and bounds checks', { skip }, () => {
  for (const D of SIZES) {
    const V = 50;
    const table = rand(V * D);
    const ids = Int32Array.from({ length: 77 }, () => rng.int(V));
    same(`gatherRows D=${D}`, [new Float32Array(77 * D)], (k, [o]) => k.gatherRows(V, D, table, ids, o));
    const src = rand(77 * D);
    same(`scatterAddRows D=${D}`, [rand(V * D)], (k, [d]) => k.scatterAddRows(V, D, d, ids, src));
  }
  const bad = Int32Array.from([1, 2, 50]);
  assert.throws(() => native!.gatherRows(50, 4, rand(200), bad, new Float32Array(12)), /index 50 at position 2 is outside \[0, 50\)/);
  assert.throws(() => native!.scatterAddRows(50, 4, rand(200), Int32Array.from([-1]), new Float32Array(4)), /index -1 at position 0/);
});

test('optimizer kernels', { skip }, () => {
  for (const n of [1, 7, 33, 300, 100_003]) {
    const g = rand(n);
    for (const decoupled of [false, true]) {
      same(`adam n=${n}`, [rand(n), rand(n, 0.1), rand(n, 0.1).map(Math.abs)], (k, [p, m, v]) => k.adam(n, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 7, decoupled), 1e-5);
    }
    same(`sgd n=${n}`, [rand(n), rand(n)], (k, [p, b]) => k.sgd(n, p, g, b, 0.1, 0.9, 0.01));
    same(`sgd plain n=${n}`, [rand(n)], (k, [p]) => k.sgd(n, p, g, null, 0.1, 0, 0));
    same(`adagrad n=${n}`, [rand(n), rand(n).map(Math.abs)], (k, [p, s]) => k.adagrad(n, p, g, s, 0.1, 1e-10, 0.01), 1e-5);
  }
  const D = 33;
  const ids = Int32Array.from([0, 5, 9]);
  const g = rand(3 * D);
  same('adamRows', [rand(10 * D), rand(10 * D, 0.1), rand(10 * D, 0.1).map(Math.abs)], (k, [p, m, v]) => k.adamRows(D, ids, p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0, 3, false));
});

test('argument validation names the kernel and the argument', { skip }, () => {
  const n = native!;
  assert.throws(() => n.gemm(false, false, 4, 4, 4, 1, new Float32Array(15), 4, new Float32Array(16), 4, 0, new Float32Array(16), 4, null, false), /gemm: argument A has 15 elements, needs 16/);
  assert.throws(() => n.gemm(false, false, 4, 4, 4, 1, new Float64Array(16) as unknown as Float32Array, 4, new Float32Array(16), 4, 0, new Float32Array(16), 4, null, false), /gemm: argument A must be a Float32Array/);
  assert.throws(() => n.gemm(false, false, 4, 4, 4, 1, new Float32Array(16), 3, new Float32Array(16), 4, 0, new Float32Array(16), 4, null, false), /leading dimension of A/);
  assert.throws(() => n.adam(-1, new Float32Array(1), new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 0.9, 0.9, 1e-8, 0, 1, false), /adam: argument n must be an integer >= 0/);
  assert.throws(() => setIsa('sse9'), /unknown ISA/);
});
