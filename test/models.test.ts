// One parametrised test over every registered model, on a small synthetic log with a planted signal: the loss
// falls over a few dozen Adam steps, test AUC beats 0.6, save/load round-trips bit-exactly, and for two-tower models
// encodeUser + encodeItem + score equals the training forward (also with one user row broadcast over N items).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, backward, noGrad, ops, scope } from '../src/core/index.js';
import { Adam, assignTensors, loadTensors, saveTensors } from '../src/nn/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { auc } from '../src/eval/auc.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-models-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function readCsv(path: string): string[][] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(','));
}

/**
 * Rewrites the synthetic ratings so that P(click) = sigmoid(2.5 g c + 1.5 c + 1.5 d): g = +-1 by the user's gender, c = +-1
 * by the item's category (c0, c1 vs the rest), d = +-1 by the request's device. The g c term needs both towers; the
 * c and d terms are additive, so LR can learn them too.
 */
function plantSignal(root: string): void {
  const gender = new Map(readCsv(join(root, 'users.csv')).slice(1).map(([u, g]) => [u, g === 'F' ? 1 : -1]));
  const group = new Map(readCsv(join(root, 'items.csv')).slice(1).map(([i, cat]) => [i, cat === 'c0' || cat === 'c1' ? 1 : -1]));
  const rng = new Rng(5);
  const [head, ...rows] = readCsv(join(root, 'events.csv'));
  const out = rows.map(([u, i, , ts, device]) => {
    const c = group.get(i)!;
    const logit = 2.5 * gender.get(u)! * c + 1.5 * c + 1.5 * (device === 'ios' ? 1 : -1);
    const click = rng.uniform() < 1 / (1 + Math.exp(-logit));
    return [u, i, click ? 5 : 1, ts, device].join(',');
  });
  writeFileSync(join(root, 'events.csv'), `${[head.join(','), ...out].join('\n')}\n`);
}

const input = writeSyntheticLog(dir, { users: 150, items: 100, interactionsPerUser: 20, seed: 3 });
plantSignal(dir);
// genres stays mean-pooled; the history is max-pooled so both pooling paths run.
for (const d of input.derived ?? []) if (d.kind === 'history') d.pooling = 'max';
const ds = await Dataset.load(parseDataConfig(input));
const BATCH = 128;
const EPOCHS = 3;

/** The whole test split as one batch (its own buffers). */
const testBatch: Batch = ds.batches('test', { batchSize: ds.splits.test.length, shuffle: false }).epoch(0).next().value!;

function predict(model: RecModel, b: Batch): Float32Array {
  model.eval();
  return scope(() => noGrad(() => Float32Array.from(vals(model.forward(b)))));
}

/** Mean BCE over the train split in eval mode. */
function trainBce(model: RecModel): number {
  model.eval();
  let sum = 0;
  let n = 0;
  for (const b of ds.batches('train', { batchSize: 512, shuffle: false }).epoch(0)) {
    sum += scope(() => noGrad(() => model.loss(b).parts.bce)) * b.size;
    n += b.size;
  }
  return sum / n;
}

/** Every registered model with its tiny config, then the options that change the computation (on tiny configs). */
const CASES: [ModelName, object][] = [
  ...(Object.keys(MODELS) as ModelName[]).map((name): [ModelName, object] => [name, TINY_CONFIGS[name]]),
  ['int-tower', { ...TINY_CONFIGS['int-tower'], lightSe: 'residual', taps: 'input', normalizeHeads: false, init: 'authors' }],
  ['int-tower', { ...TINY_CONFIGS['int-tower'], lightSe: 'none', taps: 'last', cir: false, heads: 0 }],
  ['dssm', { ...TINY_CONFIGS.dssm, lastAct: 'relu', init: 'authors' }],
  ['cold', { ...TINY_CONFIGS.cold, se: 'fibinet', wide: true }],
  ['dcn', { ...TINY_CONFIGS.dcn, wide: true, crossLayers: 3 }],
  ['autoint', { ...TINY_CONFIGS.autoint, dnn: [], residual: false, scaled: true, wide: true }],
];

function build(name: ModelName, config: object, seed: number): RecModel {
  const factory = MODELS[name] as (ctx: { features: typeof ds.features; rng: Rng }, c: object) => RecModel;
  return factory({ features: ds.features, rng: new Rng(seed) }, config);
}

/** A tensor's elements (pooled buffers can be longer than the tensor). */
function vals(t: Tensor): ArrayLike<number> {
  return t.data.subarray(0, t.size);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('every registered model learns, round-trips and (two-tower) scores as it trains', async (t) => {
  assert.ok(ds.labelRate('train') > 0.2 && ds.labelRate('train') < 0.8, `label rate ${ds.labelRate('train')}`);
  for (const [k, [name, config]] of CASES.entries()) {
    const label = k < Object.keys(MODELS).length ? name : `${name} ${JSON.stringify(config)}`;
    await t.test(label, async () => {
      const model = build(name, config, 1);
      assert.equal(model.kind, name);
      const opt = new Adam(model.namedParameters(), { lr: 0.01 });
      const before = trainBce(model);
      const stream = ds.batches('train', { batchSize: BATCH, dropLast: true });
      let steps = 0;
      for (let e = 0; e < EPOCHS; e++) {
        model.train();
        for (const b of stream.epoch(e)) {
          const loss = scope(() => {
            opt.zeroGrad();
            const out = model.loss(b);
            assert.equal(out.logits.size, b.size);
            backward(out.loss);
            if (steps === 0) {
              const missing = model.namedParameters().filter(([, p]) => !p.grad && !p.sparseGrad).map(([n]) => n);
              assert.deepEqual(missing, [], `${name}: parameters without a gradient`);
            }
            return out.loss.item();
          });
          assert.ok(Number.isFinite(loss), `${name}: loss ${loss} at step ${steps}`);
          opt.step();
          steps++;
        }
      }
      const afterBce = trainBce(model);
      const preds = predict(model, testBatch);
      const testAuc = auc(preds, testBatch.label);
      t.diagnostic(`${label}: ${steps} steps, train BCE ${before.toFixed(4)} -> ${afterBce.toFixed(4)}, test AUC ${testAuc.toFixed(4)}`);
      assert.ok(afterBce < before - 0.02, `${name}: train BCE ${before} -> ${afterBce}`);
      assert.ok(testAuc > 0.6, `${name}: test AUC ${testAuc}`);

      // Save, load into a differently seeded model: same tensors, bit-identical predictions.
      const ckpt = join(dir, `ckpt-${k}`);
      await saveTensors(ckpt, model.stateTensors(), { kind: model.kind });
      const copy = build(name, config, 999);
      assert.ok(maxAbsDiff(predict(copy, testBatch), preds) > 0, `${name}: a fresh model predicts the same as the trained one`);
      assignTensors(copy.stateTensors(), (await loadTensors(ckpt)).tensors);
      for (const [k, v] of model.stateTensors()) assert.deepEqual(copy.stateTensors().get(k)!.data, v.data, `${name}: tensor ${k}`);
      assert.deepEqual(predict(copy, testBatch), preds, `${name}: predictions after load`);

      if (!model.twoTower) {
        assert.equal(model.encodeUser, undefined);
        return;
      }
      model.eval();
      scope(() => noGrad(() => {
        const u = model.encodeUser!(testBatch);
        const v = model.encodeItem!(testBatch);
        assert.equal(u.shape[0], testBatch.size);
        assert.equal(v.shape[0], testBatch.size);
        const served = model.score!(u, v);
        assert.ok(maxAbsDiff(vals(served), preds) < 1e-5, `${name}: served scores differ from forward`);
        // One user against all N items equals that user's row repeated N times.
        const one = ops.gather(u, Tensor.from(new Int32Array([3]), [1])); // [1, U]
        const repeated = ops.gather(u, Tensor.from(new Int32Array(testBatch.size).fill(3), [testBatch.size])); // [N, U]
        assert.ok(maxAbsDiff(vals(model.score!(one, v)), vals(model.score!(repeated, v))) < 1e-6, `${name}: broadcast score`);
      }));
    });
  }
});
