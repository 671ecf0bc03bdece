// Compiled serving plans (src/serve/compiled.ts -> native/serve.cc) against the tensor path they replace: for
// DSSM, DAT, IntTower variants (Light-SE paper/residual/none, output/input/last taps, raw heads, many heads so the
// scoring is split over threads) and RankTower (with and without cross-attention, unequal widths), with batch-norm running statistics away from their initial values, on every
// ISA path this CPU runs: the plan's rep equals encodeUser, its logits equal score(encodeUser, item reps gathered
// by row) within float rounding, and its top-n equals topK over its own logits. Bad plans and rows are refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, engineInfo, noGrad, ops, scope, setIsa } from '../src/core/index.js';
import { decodeAll, fromBf16, quantize, toBf16 } from '../src/export/item-table.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import type { ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { serveAddon, serveInfo, setBf16Dot, setServePiece } from '../src/serve/native.js';
import { topK } from '../src/eval/top-k.js';
import { itemTable } from './helpers/item-table.js';
import { perturbedModel } from './helpers/perturbed-model.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const input = writeSyntheticLog(dir, { users: 80, items: 50, interactionsPerUser: 12, seed: 9 });
// The user history is max-pooled here (the default recipe mean-pools item genres), so both pooling paths run.
for (const d of input.derived ?? []) if (d.kind === 'history') d.pooling = 'max';
const ds = await Dataset.load(parseDataConfig(input));
const users: Batch = ds.batches('test', { batchSize: 6, shuffle: false }).epoch(0).next().value!;
const native = serveAddon();
const skip = native ? false : 'native addon not built';

const CASES: [string, ModelName, Record<string, unknown>][] = [
  ['dssm', 'dssm', {}],
  // A 1,500 x 1,500 layer (two pieces of >= kParallelMacs): split over the pool when the helpers are awake.
  ['dssm (1500-1500-128: a layer split over the pool)', 'dssm', { tower: [1500, 1500, 128] }],
  ['dat', 'dat', {}],
  ['int-tower (paper Light-SE, output taps)', 'int-tower', { lightSe: 'paper' }],
  ['int-tower (residual Light-SE, input taps)', 'int-tower', { lightSe: 'residual', taps: 'input', heads: 3 }],
  ['int-tower (T = 0.25)', 'int-tower', { temperature: 0.25 }],
  ['int-tower (no Light-SE, last layer, raw heads)', 'int-tower', { lightSe: 'none', taps: 'last', normalizeHeads: false, heads: 5 }],
  ['int-tower (20 heads x 16: split tiles, threaded)', 'int-tower', { heads: 20, headSize: 16, tower: [32, 24] }],
  // 96 user rows over 32 item heads: 4 x 4 tiles plus a 4 x 2 rest on AVX-512, 4 x 3 on AVX2.
  ['int-tower (32 heads x 8, 3 taps: 4-row tiles with a rest)', 'int-tower', { heads: 32, headSize: 8, tower: [32, 24] }],
  // Few user heads (R = 1, 4, 8 of a 16-lane vector: mostly padding lanes).
  ['int-tower (1 head x 16, last layer: R = 1)', 'int-tower', { heads: 1, headSize: 16, taps: 'last' }],
  ['int-tower (2 heads x 32, output taps)', 'int-tower', { heads: 2, headSize: 32 }],
  ['int-tower (8 heads x 16, last layer, raw heads: R = 8)', 'int-tower', { heads: 8, headSize: 16, taps: 'last', normalizeHeads: false }],
  ['mf (raw inner product)', 'mf', { biases: false }],
  ['mf (biases)', 'mf', {}],
  ['mf (cosine)', 'mf', { normalize: true, biases: false, temperature: 0.5 }],
  ['rank-tower (gated cross-attention)', 'rank-tower', {}],
  ['rank-tower (d != v != k, 5 x 3 sub-spaces, threaded)', 'rank-tower', { userHeads: 5, itemHeads: 3, headSize: 12, attnDim: 6, valueDim: 10, tower: [40] }],
  ['rank-tower (no cross-attention)', 'rank-tower', { crossAttention: false }],
];


/**
 * The tensor path for batch user u: its rep from encodeUser (passed through `round`, e.g. to bf16) and its logits
 * against the m candidate reps `items` [m, dim].
 */
function tensorPath(model: RecModel, u: number, items: Float32Array, m: number, dim: number, round = (v: number) => v): { rep: Float32Array; scores: Float32Array } {
  return noGrad(() => scope(() => {
    const all = model.encodeUser!(users);
    const U = all.shape[1];
    const rep = Float32Array.from(all.f.subarray(u * U, u * U + U), round);
    return { rep, scores: Float32Array.from(model.score!(Tensor.from(rep, [1, U]), Tensor.from(items, [m, dim])).f) };
  }));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const isas = native ? engineInfo().supportedIsas : [];
const big = native ? Tensor.from(new Float32Array(512 * 512).fill(0.5), [512, 512]) : null;
/** Runs a GEMM on the engine's pool (its helpers spin for a while after it). */
function wakePool(): void {
  noGrad(() => scope(() => void ops.matmul(big!, big!)));
}
after(() => {
  if (native) setIsa(engineInfo().detectedIsa);
});

/**
 * A NaN in one head of a candidate's rep gives that candidate a NaN max-sim score, as the model's max over item heads
 * does: planted in the first, a middle and the last head of different candidates (every place of the tile's max).
 */
function assertNaNKept(compiled: NonNullable<ReturnType<typeof compileUserSide>>, isa: string, items: Float32Array, m: number, dim: number, headSize: number): void {
  const heads = dim / headSize;
  const planted = new Map([[3, 0], [40, Math.floor(heads / 2)], [m - 1, heads - 1]]);
  const withNaN = items.slice();
  for (const [row, head] of planted) withNaN[row * dim + head * headSize + (row % headSize)] = NaN;
  const scores = compiled.rank(compiled.input(users, 0), withNaN, null, m, 0).scores;
  const nan = Array.from(scores, (x, i) => [i, x] as const).filter(([, x]) => Number.isNaN(x)).map(([i]) => i);
  assert.deepEqual(nan, [...planted.keys()], `${isa}: NaN scores exactly where a head holds NaN`);
}

for (const [name, kind, extra] of CASES) {
  test(`serving plan equals the tensor path: ${name}`, { skip }, async () => {
    const model = perturbedModel(ds, kind, extra);
    const compiled = compileUserSide(model)!;
    assert.ok(compiled, 'the model has a plan');
    const { table, dim, n } = itemTable(ds, model);
    assert.equal(compiled.itemDim, dim);
    // Candidates: every item in a shuffled order with repeats, enough to cross the threading threshold for big heads.
    const rng = new Rng(3);
    const m = 700;
    const rows = Int32Array.from({ length: m }, () => Math.floor(rng.uniform() * n));
    const items = new Float32Array(m * dim);
    rows.forEach((r, k) => items.set(table.subarray(r * dim, r * dim + dim), k * dim));
    for (const isa of isas) {
      setIsa(isa);
      for (let u = 0; u < users.size; u++) {
        const { rep: refRep, scores: refScores } = tensorPath(model, u, items, m, dim);
        const x = compiled.input(users, u);
        const rep = compiled.encode(x);
        assert.ok(maxDiff(rep, refRep) < 1e-5, `${isa} user ${u}: rep differs by ${maxDiff(rep, refRep)}`);
        // A pool job just before leaves the helper threads spinning, so the plan's optional splits run (they only
        // run on awake helpers); user 0 goes without, on one thread.
        if (u > 0) wakePool();
        const ranked = compiled.rank(x, table, rows, m, 25);
        const [scores, top] = [Float32Array.from(ranked.scores), Int32Array.from(ranked.top)]; // the next rank() reuses its buffers
        const tol = 2e-5 * Math.max(1, ...Array.from(refScores, Math.abs));
        assert.ok(maxDiff(scores, refScores) < tol, `${isa} user ${u}: logits differ by ${maxDiff(scores, refScores)}`);
        assert.deepEqual(Array.from(top), Array.from(topK(scores, 25)), `${isa} user ${u}: top-25`);
        // The same candidates as a contiguous block (no row list) score the same.
        const block = compiled.rank(x, items, null, m, 0);
        assert.ok(maxDiff(block.scores, scores) < 1e-6);
        assert.equal(block.top.length, 0);
        // Off the event loop: the same numbers.
        const off = await compiled.rankAsync(x, table, rows, m, 25);
        assert.deepEqual(Array.from(off.scores), Array.from(scores));
        assert.deepEqual(Array.from(off.top), Array.from(top));
      }
      if (kind === 'int-tower') assertNaNKept(compiled, isa, items, m, dim, (model as unknown as { config: { headSize: number } }).config.headSize);
    }
  });
}

// A request whose scoring is at least kWakeMacs (8M multiply-adds) wakes the pool, splits its tower layers of >= 128K
// multiply-adds, and cuts the max-sim into pieces the threads take one at a time (native/serve.cc, split). However
// the work is cut, every candidate's score is the same to the bit, and equals the tensor path's.
test('large requests: the same scores whatever the piece size, tower layers split', { skip }, async () => {
  // 2 taps x 16 user heads over 16 item heads of 32: 16K multiply-adds per candidate, 48M at 3,000; head projections
  // 256 x 512 (131K multiply-adds: split in a large request).
  const model = perturbedModel(ds, 'int-tower', { heads: 16, headSize: 32, tower: [256, 256] });
  const compiled = compileUserSide(model)!;
  const { table, dim, n } = itemTable(ds, model);
  const m = 3000;
  const rng = new Rng(5);
  const rows = Int32Array.from({ length: m }, () => Math.floor(rng.uniform() * n));
  const items = new Float32Array(m * dim);
  rows.forEach((r, k) => items.set(table.subarray(r * dim, r * dim + dim), k * dim));
  const initial = serveInfo()!.servePieceMacs;
  assert.equal(initial, 1 << 22, 'default piece: 4M multiply-adds');
  try {
    for (const isa of isas) {
      setIsa(isa);
      for (const u of [0, 3]) {
        const { scores: ref } = tensorPath(model, u, items, m, dim);
        const x = compiled.input(users, u);
        let first: Float32Array | null = null;
        // 0: one share per thread; 1 (taken as the 1M minimum): 48 pieces; 4M: 12; 2^40: one per thread again.
        for (const piece of [0, 1, 1 << 22, 2 ** 40]) {
          setServePiece(piece);
          assert.equal(serveInfo()!.servePieceMacs, piece);
          const { scores, top } = compiled.rank(x, table, rows, m, 50);
          const tol = 2e-5 * Math.max(1, ...Array.from(ref, Math.abs));
          assert.ok(maxDiff(scores, ref) < tol, `${isa} user ${u} piece ${piece}: logits differ by ${maxDiff(scores, ref)}`);
          assert.deepEqual(Array.from(top), Array.from(topK(scores, 50)));
          if (!first) first = Float32Array.from(scores);
          else assert.deepEqual(Array.from(scores), Array.from(first), `${isa} user ${u}: piece ${piece} changes a score`);
          const off = await compiled.rankAsync(x, items, null, m, 0);
          assert.deepEqual(Array.from(off.scores), Array.from(first), `${isa} user ${u}: off the event loop, piece ${piece}`);
        }
      }
    }
  } finally {
    setServePiece(initial);
  }
  assert.throws(() => setServePiece(-1), /macs must be an integer >= 0/);
  assert.throws(() => setServePiece(1.5), /macs must be an integer >= 0/);
});

test('top-n: ties keep the lower index, NaN ranks last, n > m gives m', { skip }, () => {
  const model = perturbedModel(ds, 'dssm', {});
  const compiled = compileUserSide(model)!;
  const { table, dim } = itemTable(ds, model);
  // Identical rows give identical logits: the top must list the tied candidates in index order.
  const rows = Int32Array.from([4, 2, 4, 4, 2, 9]);
  const { scores, top } = compiled.rank(compiled.input(users), table, rows, rows.length, 10);
  assert.equal(top.length, rows.length);
  assert.deepEqual(Array.from(top), Array.from(topK(scores, 10)));
  const t4 = Array.from(top).filter((k) => rows[k] === 4);
  assert.deepEqual(t4, [0, 2, 3]);
  const withNaN = new Float32Array(table);
  withNaN.fill(NaN, 9 * dim, 10 * dim);
  const r2 = compiled.rank(compiled.input(users), withNaN, rows, rows.length, 10);
  assert.equal(r2.top[r2.top.length - 1], 5, 'the NaN candidate is last');
  assert.deepEqual(Array.from(r2.top), Array.from(topK(r2.scores, 10, undefined, 'last')), 'the TypeScript top-k ranks NaN as the plan does');
});

test('bad plans and candidate rows are refused with the field named', { skip }, () => {
  const model = perturbedModel(ds, 'int-tower', {});
  const plan = model.servingPlan!();
  const { ServePlan } = native!;
  const step0 = plan.spec.steps.find((s) => s.op === 'linear')!;
  assert.throws(() => new ServePlan({ ...plan.spec, steps: [{ ...step0, dst: plan.spec.arena }] }), /outside the arena/);
  assert.throws(() => new ServePlan({ ...plan.spec, steps: [{ ...step0, weight: new Float32Array(3) }] }), /weight must have in\*out/);
  assert.throws(() => new ServePlan({ ...plan.spec, steps: [{ op: 'conv' }] }), /spec\.steps\[0\]\.op 'conv'/);
  assert.throws(() => new ServePlan({ ...plan.spec, score: { kind: 'cosine', scale: 1, bias: 0 } }), /spec\.score\.kind 'cosine' is not one of dot, maxsim, rankTower$/);
  // A score kind's own fields are read by the kind its spec names, each error naming the field.
  const score = plan.spec.score as Record<string, unknown>;
  assert.throws(() => new ServePlan({ ...plan.spec, score: { ...score, heads: 'two' } }), /spec\.score\.heads must be a number/);
  assert.throws(() => new ServePlan({ ...plan.spec, score: { ...score, headSize: 7 } }), /max-sim: the user rep width must be a multiple of the head size/);
  const rt = perturbedModel(ds, 'rank-tower', {}).servingPlan!().spec;
  assert.throws(() => new ServePlan({ ...rt, score: { ...rt.score, userToItem: null } }), /spec\.score\.userToItem must be an object/);
  assert.throws(() => new ServePlan({ ...rt, score: { ...rt.score, itemToUser: { ...(rt.score as { itemToUser: object }).itemToUser, gamma: [1] } } }), /spec\.score\.itemToUser\.gamma must be a Float32Array/);
  const compiled = compileUserSide(model)!;
  const { table } = itemTable(ds, model);
  const x = compiled.input(users);
  assert.throws(() => compiled.rank(x, table, Int32Array.from([0, ds.itemCount]), 2, 1), /rows\[1\] = \d+ is outside the table's \d+ rows/);
  assert.throws(() => compiled.rank(x, table, null, ds.itemCount + 1, 1), /candidates but the table has/);
  assert.throws(() => compiled.rankAsync(x, table, Int32Array.from([-1]), 1, 1), /rows\[0\] = -1/);
  const bits = quantize(Array.from({ length: ds.itemCount }, String), table, compiled.itemDim, 'bfloat16').data as Uint16Array;
  assert.throws(() => compiled.rank(x, bits, null, 1, 1), /Uint16Array: give its dtype/);
  assert.throws(() => compiled.rank(x, table, null, 1, 1, 'float16'), /must be a Uint16Array of float16 bits/);
  assert.throws(() => compiled.rank(x, bits, null, 1, 1, 'int4' as never), /dtype 'int4' is not one of/);
  assert.throws(() => compiled.rank(x, bits, Int32Array.from([ds.itemCount]), 1, 1, 'bfloat16'), /outside the table's/);
  const q8 = quantize(Array.from({ length: ds.itemCount }, String), table, compiled.itemDim, 'int8');
  assert.throws(() => compiled.rank(x, q8.data as Int8Array, null, 1, 1, 'int8'), /argument scales must be a Float32Array/);
  assert.throws(() => compiled.rank(x, q8.data as Int8Array, null, 1, 1, 'int8', new Float32Array(2)), /scales has 2 elements/);
  assert.throws(() => compiled.rank(x, q8.data as Int8Array, null, 1, 1), /an int8 table is an Int8Array given with dtype int8/);
  assert.throws(() => compiled.rank(x, table, null, 1, 1, 'int8', q8.scales), /an int8 table is an Int8Array/);
});

// A bundle's bfloat16 / float16 / int8 table read in place: every ISA path, and for bf16 both the dot-product kernel
// (AVX512_BF16, where the CPU has it) and the widening path. The reference is the tensor path on the decoded rows,
// with the user rep rounded to bf16 too for a bf16 table under a dot or max-sim score (what the plans define).
const QUANTIZED: [string, ModelName, Record<string, unknown>][] = [
  ['dssm', 'dssm', {}],
  ['int-tower (defaults)', 'int-tower', {}],
  ['int-tower (20 heads x 16: split tiles, threaded)', 'int-tower', { heads: 20, headSize: 16, tower: [32, 24] }],
  ['int-tower (32 heads x 8, 3 taps: 4-row tiles with a rest)', 'int-tower', { heads: 32, headSize: 8, tower: [32, 24] }],
  ['int-tower (2 heads x 32: grouped)', 'int-tower', { heads: 2, headSize: 32 }],
  ['rank-tower (gated cross-attention)', 'rank-tower', {}],
];
const bf16Modes = native?.info().bf16DotAvailable ? [true, false] : [false];
after(() => {
  if (native?.info().bf16DotAvailable) setBf16Dot(true);
});

for (const [name, kind, extra] of QUANTIZED) {
  test(`16-bit and int8 item tables scored in place: ${name}`, { skip }, async () => {
    const model = perturbedModel(ds, kind, extra);
    const compiled = compileUserSide(model)!;
    const { table, dim, n } = itemTable(ds, model);
    const ids = Array.from({ length: n }, String);
    const rounds = ['dot', 'maxsim'].includes(model.servingPlan!().spec.score.kind);
    const rng = new Rng(5);
    const m = 600;
    const rows = Int32Array.from({ length: m }, () => Math.floor(rng.uniform() * n));
    for (const dtype of ['bfloat16', 'float16', 'int8'] as const) {
      const q = quantize(ids, table, dim, dtype);
      const decoded = decodeAll(q);
      const items = new Float32Array(m * dim);
      rows.forEach((r, k) => items.set(decoded.subarray(r * dim, r * dim + dim), k * dim));
      for (const isa of isas) {
        setIsa(isa);
        for (const dot of dtype === 'bfloat16' ? bf16Modes : [false]) {
          if (native!.info().bf16DotAvailable) setBf16Dot(dot);
          for (let u = 0; u < 3; u++) {
            const refScores = tensorPath(model, u, items, m, dim, dtype === 'bfloat16' && rounds ? (v) => fromBf16(toBf16(v)) : undefined).scores;
            const x = compiled.input(users, u);
            if (u > 0) wakePool();
            const ranked = compiled.rank(x, q.data, rows, m, 25, dtype, q.scales);
            const [scores, top] = [Float32Array.from(ranked.scores), Int32Array.from(ranked.top)];
            const tol = 2e-5 * Math.max(1, ...Array.from(refScores, Math.abs));
            const where = `${dtype} ${isa}${dot ? ' bf16-dot' : ''} user ${u}`;
            assert.ok(maxDiff(scores, refScores) < tol, `${where}: logits differ by ${maxDiff(scores, refScores)}`);
            assert.deepEqual(Array.from(top), Array.from(topK(scores, 25)), `${where}: top-25`);
            // The decoded rows as float32 (what a store that decodes hands over; a bf16 table's told so): the same logits.
            const fromF32 = compiled.rank(x, decoded, rows, m, 0, dtype === 'bfloat16' ? dtype : 'float32');
            assert.ok(maxDiff(fromF32.scores, scores) < tol, `${where}: decoded rows differ by ${maxDiff(fromF32.scores, scores)}`);
            const off = await compiled.rankAsync(x, q.data, rows, m, 25, dtype, q.scales);
            assert.deepEqual(Array.from(off.scores), Array.from(scores), `${where}: off the event loop`);
          }
        }
      }
    }
  });
}
