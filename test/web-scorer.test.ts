// The WebAssembly scorer (prerank/web) against the native scorer (src/serve/compiled.ts) on the same compiled plans:
// DSSM, DAT, MF, IntTower in head shapes that take every max-sim path of the SIMD128 build (grouped for one or two
// user heads, packed and split tiles, a rest of user vectors) and RankTower with and without cross-attention, over
// a float32 and an int8 table; with the SIMD128 kernels and the portable ones; every candidate's score within 1e-5
// of the native one (relative to the largest score), the top-n the order of those scores, a NaN item head a NaN
// score. Bad plans, tables and requests are refused with errors naming what is wrong, and the instance works after.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, engineInfo, setIsa } from '../src/core/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import type { ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { quantize } from '../src/export/item-table.js';
import { topK } from '../src/eval/top-k.js';
import { WasmScorer } from '../src/web/index.js';
import { itemTable } from './helpers/item-table.js';
import { perturbedModel } from './helpers/perturbed-model.js';
import { skipWasm, wasmBytes } from './helpers/wasm-scorer.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-web-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const input = writeSyntheticLog(dir, { users: 80, items: 50, interactionsPerUser: 12, seed: 9 });
const ds = await Dataset.load(parseDataConfig(input));
const users: Batch = ds.batches('test', { batchSize: 4, shuffle: false }).epoch(0).next().value!;
const isas = engineInfo().supportedIsas;
after(() => setIsa(engineInfo().detectedIsa));
const skip = skipWasm || (isas.length === 0 ? 'native addon not built' : false);
const scorer = wasmBytes ? await WasmScorer.load(wasmBytes) : null;

const CASES: [string, ModelName, Record<string, unknown>][] = [
  ['dssm', 'dssm', {}],
  ['dat', 'dat', {}],
  ['mf (biases)', 'mf', {}],
  ['int-tower (defaults)', 'int-tower', {}],
  ['int-tower (1 head x 16, last layer: one user head, grouped by 4)', 'int-tower', { heads: 1, headSize: 16, taps: 'last' }],
  ['int-tower (2 heads x 16, last layer, raw heads: grouped by 2)', 'int-tower', { heads: 2, headSize: 16, taps: 'last', normalizeHeads: false }],
  ['int-tower (2 heads x 32, 3 taps: 6 user heads, packed tiles)', 'int-tower', { heads: 2, headSize: 32 }],
  ['int-tower (20 heads x 16: split tiles)', 'int-tower', { heads: 20, headSize: 16, tower: [32, 24] }],
  ['int-tower (32 heads x 8, 3 taps: 4 x 3 tiles with a rest)', 'int-tower', { heads: 32, headSize: 8, tower: [32, 24] }],
  ['int-tower (5 heads x 12, residual Light-SE, input taps)', 'int-tower', { lightSe: 'residual', taps: 'input', heads: 5, headSize: 12 }],
  ['rank-tower (gated cross-attention)', 'rank-tower', {}],
  ['rank-tower (d != v != k, 5 x 3 sub-spaces)', 'rank-tower', { userHeads: 5, itemHeads: 3, headSize: 12, attnDim: 6, valueDim: 10, tower: [40] }],
  ['rank-tower (no cross-attention)', 'rank-tower', { crossAttention: false }],
];

/** Largest |a - b| over the largest |b| (at least 1). */
function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0, top = 1;
  for (let i = 0; i < a.length; i++) {
    assert.equal(Number.isNaN(a[i]), Number.isNaN(b[i]), `candidate ${i}: ${a[i]} vs ${b[i]}`);
    if (!Number.isNaN(b[i])) [d, top] = [Math.max(d, Math.abs(a[i] - b[i])), Math.max(top, Math.abs(b[i]))];
  }
  return d / top;
}

/** Candidates: every item in a shuffled order with repeats. */
function candidates(n: number, m: number): Int32Array {
  const rng = new Rng(3);
  return Int32Array.from({ length: m }, () => Math.floor(rng.uniform() * n));
}

/** The wasm plan's scores equal the native plan's on every ISA, SIMD128 on and off; its top-n is its scores' order. */
function assertSameScores(wasmRun: () => { scores: Float32Array; top: Int32Array }, nativeRun: () => Float32Array, what: string): void {
  for (const simd of [true, false]) {
    scorer!.simd = simd;
    assert.equal(scorer!.simd, simd);
    const got = wasmRun();
    assert.deepEqual(Array.from(got.top), Array.from(topK(got.scores, 20)), `${what} simd ${simd}: top-20`);
    for (const isa of isas) {
      setIsa(isa);
      const want = nativeRun();
      const d = relDiff(got.scores, want);
      assert.ok(d < 1e-5, `${what} simd ${simd} vs native ${isa}: scores differ by ${d} (relative)`);
    }
  }
  scorer!.simd = true;
}

for (const [name, kind, extra] of CASES) {
  test(`the WebAssembly scorer gives the native scorer's scores: ${name}`, { skip }, () => {
    const model = perturbedModel(ds, kind, extra);
    const compiled = compileUserSide(model)!;
    const spec = model.servingPlan!().spec;
    const plan = scorer!.compile(spec);
    const { table, dim, n } = itemTable(ds, model);
    assert.equal(plan.itemDim, dim);
    assert.equal(plan.inputLength, spec.input);
    const ids = Array.from({ length: n }, (_, r) => `item-${r}`);
    const items = scorer!.items(table, { dim, ids });
    const q = quantize(ids, table, dim, 'int8');
    const items8 = scorer!.items(q.data as Int8Array, { dim, dtype: 'int8', scales: q.scales! });
    const rows = candidates(n, 300);
    try {
      for (let u = 0; u < users.size; u++) {
        const x = compiled.input(users, u);
        const what = `user ${u}`;
        assertSameScores(() => plan.score(x, items, rows, { n: 20 }), () => Float32Array.from(compiled.rank(x, table, rows, rows.length, 0).scores), what);
        assertSameScores(() => plan.score(x, items8, rows, { n: 20 }),
          () => Float32Array.from(compiled.rank(x, q.data, rows, rows.length, 0, 'int8', q.scales!).scores), `${what} int8`);
        // by id, by contiguous block, and from the rep: the same numbers
        const byRow = plan.score(x, items, rows).scores;
        assert.deepEqual(plan.scoreIds(x, items, Array.from(rows, (r) => ids[r])).scores, byRow);
        const rep = plan.encode(x);
        assert.ok(relDiff(rep, compiled.encode(x)) < 1e-5, `${what}: the rep`);
        assert.deepEqual(plan.score(rep, items, rows, { fromRep: true }).scores, byRow);
        const block = plan.score(x, items, null).scores;
        assert.deepEqual(Array.from(rows, (r) => block[r]), Array.from(byRow));
      }
    } finally {
      plan.dispose();
      items.dispose();
      items8.dispose();
    }
  });
}

test('a NaN in any item head gives that candidate a NaN score, SIMD128 on and off (IntTower, RankTower)', { skip }, () => {
  for (const [kind, extra, headSize] of [['int-tower', { heads: 5, headSize: 8 }, 8], ['int-tower', { heads: 1, headSize: 16, taps: 'last' }, 16],
    ['rank-tower', { crossAttention: false }, 0]] as const) {
    const model = perturbedModel(ds, kind, extra);
    const plan = scorer!.compile(model.servingPlan!().spec);
    const { table, dim, n } = itemTable(ds, model);
    const hs = headSize || (model as unknown as { config: { headSize: number } }).config.headSize;
    const heads = dim / hs;
    const planted = new Map([[3, 0], [17, Math.floor(heads / 2)], [n - 1, heads - 1]]);
    const withNaN = table.slice();
    for (const [row, head] of planted) withNaN[row * dim + head * hs + (row % hs)] = NaN;
    const items = scorer!.items(withNaN, { dim });
    const x = compileUserSide(model)!.input(users, 0);
    for (const simd of [true, false]) {
      scorer!.simd = simd;
      const { scores, top } = plan.score(x, items, null, { n });
      const nan = Array.from(scores, (s, i) => [i, s] as const).filter(([, s]) => Number.isNaN(s)).map(([i]) => i);
      assert.deepEqual(nan, [...planted.keys()], `${kind} simd ${simd}: NaN exactly where a head holds NaN`);
      assert.deepEqual(Array.from(top.slice(-3)).sort((a, b) => a - b), [...planted.keys()], `${kind}: NaN ranks last`);
    }
    scorer!.simd = true;
    plan.dispose();
    items.dispose();
  }
});
