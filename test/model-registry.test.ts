// The model registry is a list of definitions: every table is derived from it, each definition's declarations hold
// for the model it builds, and a model written in one file (docs/MODELS.md's worked example, test/helpers/
// linear-tower.ts) trains, serves through its native plan and has its config checked once it is listed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, Tensor, backward, noGrad, scope } from '../src/core/index.js';
import { Adam } from '../src/nn/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { MODELS, MODEL_CONFIGS, MODEL_DEFINITIONS, TINY_CONFIGS, registryOf } from '../src/models/registry.js';
import { dssm } from '../src/models/dssm.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { serveAddon } from '../src/serve/native.js';
import { linearTower } from './helpers/linear-tower.js';
import { itemTable } from './helpers/item-table.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'prerank-registry-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 60, items: 40, interactionsPerUser: 12, seed: 4 })));
const users: Batch = ds.batches('test', { batchSize: 5, shuffle: false }).epoch(0).next().value!;

test("the registry's tables list every definition once, in the list's order", () => {
  const kinds = MODEL_DEFINITIONS.map((d) => d.kind);
  assert.deepEqual(Object.keys(MODELS), kinds);
  assert.deepEqual(Object.keys(MODEL_CONFIGS), kinds);
  for (const d of MODEL_DEFINITIONS) assert.equal(TINY_CONFIGS[d.kind], d.tiny, d.kind);
  assert.ok(['lr', 'dssm', 'int-tower', 'rank-tower', 'mf', 'cs3'].every((k) => kinds.includes(k as never)));
});

test('a kind listed twice is refused', () => {
  assert.throws(() => registryOf([dssm, linearTower, dssm]), /models: 'dssm' is registered twice/);
});

test('each definition builds a model of its kind that serves as the definition declares', () => {
  for (const d of MODEL_DEFINITIONS) {
    const model = MODELS[d.kind]({ features: ds.features, rng: new Rng(1) }, TINY_CONFIGS[d.kind] as never) as RecModel;
    assert.equal(model.kind, d.kind);
    assert.equal(model.twoTower, d.serving !== 'single-tower', `${d.kind}: twoTower against serving '${d.serving}'`);
    assert.equal(typeof model.servingPlan === 'function', d.serving === 'plan', `${d.kind}: servingPlan() against serving '${d.serving}'`);
    if (d.serving === 'plan') assert.ok(model.servingPlan!().spec.repLength > 0, d.kind);
  }
});

test("a wrapper's inner config is checked against the schema of the model it names", () => {
  const r = MODEL_CONFIGS.cs3.safeParse({ base: 'int-tower', config: { heds: 2 } });
  assert.ok(!r.success);
  assert.deepEqual(r.error.issues.map((i) => [i.path, i.message.split(';')[0]]), [[['config'], "unknown key 'heds'"]]);
  assert.ok(!MODEL_CONFIGS.cs3.safeParse({ base: 'nope' }).success);
  assert.ok(MODEL_CONFIGS.cs3.safeParse({ base: 'int-tower', config: { heads: 2 } }).success);
});

/** Mean BCE over the train split in eval mode. */
function trainBce(model: RecModel): number {
  model.eval();
  let sum = 0;
  for (const b of ds.batches('train', { batchSize: 512, shuffle: false }).epoch(0)) sum += scope(() => noGrad(() => model.loss(b).parts.bce)) * b.size;
  return sum / ds.splits.train.length;
}

test('a model defined in one file trains, serves by its plan and has its config checked once listed', () => {
  const tables = registryOf([...MODEL_DEFINITIONS, linearTower]);
  assert.throws(() => tables.models['linear-tower']({ features: ds.features, rng: new Rng(1) }, { widht: 8 }), /linear-tower\.widht: unknown key 'widht'; did you mean 'width'\?/);
  assert.throws(() => tables.models['linear-tower']({ features: ds.features, rng: new Rng(1) }, { width: 0 }), /linear-tower\.width: Too small/);
  assert.ok(!tables.configs['linear-tower'].safeParse({ width: -1 }).success);

  const model = tables.models['linear-tower']({ features: ds.features, rng: new Rng(1) }, tables.tiny['linear-tower']);
  const opt = new Adam(model.namedParameters(), { lr: 0.02 });
  const before = trainBce(model);
  for (let e = 0; e < 4; e++) {
    model.train();
    for (const b of ds.batches('train', { batchSize: 64, dropLast: true }).epoch(e)) {
      scope(() => {
        opt.zeroGrad();
        backward(model.loss(b).loss);
      });
      opt.step();
    }
  }
  const afterBce = trainBce(model);
  assert.ok(afterBce < before - 0.01, `train BCE ${before} -> ${afterBce}`);

  model.eval();
  if (!serveAddon()) return;
  const compiled = compileUserSide(model);
  assert.ok(compiled, 'the plan compiles');
  const { table: items, n } = itemTable(ds, model);
  for (let u = 0; u < users.size; u++) {
    const { scores } = compiled.rank(compiled.input(users, u), items, null, n, 0);
    const want = noGrad(() => scope(() => {
      const all = model.encodeUser!(users);
      const U = all.shape[1];
      return Float32Array.from(model.score!(Tensor.from(all.f.slice(u * U, u * U + U), [1, U]), Tensor.from(items, [n, compiled.itemDim])).f);
    }));
    for (let i = 0; i < n; i++) assert.ok(Math.abs(scores[i] - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `user ${u} item ${i}: ${scores[i]} vs ${want[i]}`);
  }
});

test("docs/MODELS.md's worked example is the model file this test builds", () => {
  const doc = readFileSync(join(REPO, 'docs', 'MODELS.md'), 'utf8');
  const at = doc.indexOf('<!-- example: linear-tower -->');
  assert.ok(at >= 0, 'docs/MODELS.md has no <!-- example: linear-tower --> block');
  const shown = /```ts\n([\s\S]*?)```/.exec(doc.slice(at))?.[1];
  const file = readFileSync(join(REPO, 'test', 'helpers', 'linear-tower.ts'), 'utf8')
    .replaceAll("'../../src/models/", "'./").replaceAll("'../../src/", "'../");
  assert.equal(shown, file, 'the docs show test/helpers/linear-tower.ts with its imports as seen from src/models/');
});

test("docs/ARCHITECTURE.md's model table lists every registered model with its summary and serving", () => {
  const doc = readFileSync(join(REPO, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| (.+) \| (plan|tensors|single-tower) \|$/gm)].map((m) => [m[1], m[2], m[3]]);
  assert.deepEqual(rows, MODEL_DEFINITIONS.map((d) => [d.kind, d.summary, d.serving]));
});
