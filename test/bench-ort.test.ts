// The serve bench's onnxruntime side (bench/ort.ts) on a tiny synthetic log: it exports the model, caches item reps by
// item_tower.onnx, checks its scores against prerank's compiled plan before any timing, and keeps the fastest of
// the configurations it is given. A model kind without an ONNX export is skipped with the export's own reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, Rng, scope } from '../src/core/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { headOf } from '../src/data/batch.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { exportForOrt, prepareOrt, SCORE_TOLERANCE, type OrtConfig, type OrtPlan } from '../bench/ort.js';
import { tempDir } from './serve-fixture.js';

const root = tempDir('bench-ort');
after(() => rmSync(root, { recursive: true, force: true }));
const data = await Dataset.load(parseDataConfig(writeSyntheticLog(root, { users: 60, items: 40, interactionsPerUser: 8, seed: 5 })));
const users = headOf(data.batches('test', { batchSize: 3, shuffle: false }).epoch(0).next().value as Batch, 3);
const CONFIGS: OrtConfig[] = [{ threads: 1, level: 'all', spinning: false }, { threads: 2, level: 'disabled', spinning: false }];
const PLAN: OrtPlan = { ks: [5, 40], n: 10, calibrate: { k: 40, rounds: 2, block: 3 }, configs: CONFIGS };

function tinyModel(kind: ModelName): RecModel {
  const model = MODELS[kind]({ features: data.features, rng: new Rng(7) }, TINY_CONFIGS[kind] as never) as RecModel;
  model.eval();
  return model;
}

/** prerank's scores of a check row over the first k items: the compiled plan on encodeItem's table. */
function prerankScores(model: RecModel): (row: number, k: number) => Float32Array {
  const n = data.itemKeys.length;
  const items = data.fillItems(data.itemBatch(n), Int32Array.from({ length: n }, (_, i) => i));
  const table = noGrad(() => scope(() => Float32Array.from(model.encodeItem!(items).f)));
  const plan = compileUserSide(model);
  assert.ok(plan, 'the native addon is loaded');
  return (row, k) => Float32Array.from(plan.rank(plan.inputView(users, row), table, null, k, PLAN.n).scores);
}

for (const kind of ['dssm', 'int-tower'] as const) {
  test(`${kind}: onnxruntime's requests score as prerank's and the fastest configuration tried is kept`, async () => {
    const model = tinyModel(kind);
    const side = await prepareOrt(kind, model, data, join(root, kind), headOf(users, 1), users, PLAN, prerankScores(model));
    assert.ok('ranker' in side, `not skipped: ${'skipped' in side ? side.skipped : ''}`);
    try {
      assert.ok(side.maxRelError <= SCORE_TOLERANCE);
      assert.deepEqual(side.tried.map((t) => t.config).sort((a, b) => a.threads - b.threads), CONFIGS);
      assert.deepEqual(side.ranker.config, side.tried[0].config);
      assert.ok(side.tried[0].p50 <= side.tried[1].p50);
      assert.ok(side.callFloor > 0);
      const { scores, top } = await side.ranker.rank(users, 0, 40);
      assert.equal(scores.length, 40);
      assert.equal(top.length, PLAN.n);
      for (let i = 1; i < top.length; i++) assert.ok(scores[top[i - 1]] >= scores[top[i]], 'top-n is best first');
    } finally {
      await side.ranker.release();
    }
  });
}

test('the bench stops before timing when onnxruntime\'s scores differ from prerank\'s', async () => {
  const model = tinyModel('dssm');
  const exact = prerankScores(model);
  const off = (row: number, k: number): Float32Array => {
    const s = exact(row, k);
    if (row === 2 && k === 40) s[k - 1] += 1e-3 * Math.max(...s.map(Math.abs));
    return s;
  };
  await assert.rejects(prepareOrt('dssm', model, data, join(root, 'off'), headOf(users, 1), users, PLAN, off),
    /dssm \(.*\): onnxruntime's scores differ from prerank's for user row 2 at k = 40: relative error [\d.]+e-[34] > /);
  const short = (row: number, k: number): Float32Array => exact(row, k).subarray(0, k - 1);
  await assert.rejects(prepareOrt('dssm', model, data, join(root, 'short'), headOf(users, 1), users, PLAN, short), /40 scores against 39/);
});

test('a model kind without an ONNX export is skipped with the export\'s reason', async () => {
  const model = Object.create(tinyModel('dssm'), { kind: { value: 'no-such-export' } }) as RecModel;
  const r = await exportForOrt(model, data, join(root, 'none'));
  assert.match(r?.skipped ?? '', /model 'no-such-export' has no ONNX export yet/);
});
