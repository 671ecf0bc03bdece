// Training strategies (src/train/strategies): OneBP on MF and DSSM trains only item-side parameters (user-side
// tensors stay bit-identical), its InfoNCE falls, each step's moving aggregation is exactly
// e_u <- beta e_u + (1 - beta) e_i+ (checked against a recomputation), cold users are scored by the tower, its
// state survives a checkpoint, and models whose score is not an inner product are refused with a reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, backward, noGrad, scope } from '../src/core/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { parseTrainConfig } from '../src/train/config.js';
import { Trainer, createOptimizer } from '../src/train/trainer.js';
import { runTraining } from '../src/train/run.js';
import { rankingEval } from '../src/train/ranking-eval.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { OneBp, createOneBp, createTwoBp } from '../src/train/strategies/onebp.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-strategies-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 60, items: 40, interactionsPerUser: 15, seed: 4 })));

function model(kind: ModelName, extra: Record<string, unknown> = {}): RecModel {
  return MODELS[kind]({ features: ds.features, rng: new Rng(3) }, { ...TINY_CONFIGS[kind], ...extra } as never) as RecModel;
}

const snapshot = (m: RecModel): Map<string, Float32Array> => new Map(m.namedParameters().map(([n, t]) => [n, Float32Array.from(t.f)]));

for (const [kind, extra] of [['mf', { biases: false }], ['dssm', {}]] as [ModelName, Record<string, unknown>][]) {
  test(`onebp on ${kind}: only item-side parameters learn, the InfoNCE falls, cold users use the tower`, async () => {
    const m = model(kind, extra);
    const strategy = createOneBp({ model: m, data: ds, rng: new Rng(9) }, { negatives: 5, beta: 0.9 }) as OneBp;
    const trainable = new Set(strategy.trainable(m).map(([n]) => n));
    assert.ok(trainable.size > 0);
    assert.ok([...trainable].every((n) => !n.startsWith('user')), `user-side parameters are not optimised: ${[...trainable].join(', ')}`);
    const before = snapshot(m);
    const cfg = parseTrainConfig({ model: { kind }, data: { recipe: 'x' }, batchSize: 64, epochs: 4, seed: 1, optimizer: { kind: 'adam', lr: 0.02 },
      earlyStopping: { patience: 10 }, outDir: join(dir, `run-${kind}`) });
    const trainer = new Trainer(m, ds, cfg, { quiet: true, strategy });
    const losses = [0, 1, 2, 3].map((e) => trainer.trainEpoch(e).loss);
    assert.ok(losses[3] < losses[0], `InfoNCE ${losses.map((x) => x.toFixed(4)).join(' -> ')}`);
    const after = snapshot(m);
    for (const [n, v] of after) {
      const same = v.every((x, i) => x === before.get(n)![i]);
      if (trainable.has(n)) continue;
      assert.ok(same, `${n} is not trainable but changed`);
    }
    assert.ok([...trainable].some((n) => after.get(n)!.some((x, i) => x !== before.get(n)![i])), 'item-side parameters moved');
    // Evaluation uses the stored encodings; a user without one is scored by the tower.
    const batch = ds.batches('val', { batchSize: 32, shuffle: false }).epoch(0).next().value as Batch;
    noGrad(() => scope(() => {
      m.eval();
      const stored = Float32Array.from(strategy.forward(m, batch).f);
      const tower = Float32Array.from(m.forward(batch).f);
      const r = stored.findIndex((x, i) => Math.abs(x - tower[i]) > 1e-4);
      assert.ok(r >= 0, 'stored encodings moved away from the (frozen) user tower for users with positives');
      strategy.known.f[batch.user[r]] = 0;
      const cold = strategy.forward(m, batch).f[r];
      strategy.known.f[batch.user[r]] = 1;
      assert.ok(Math.abs(cold - tower[r]) < 1e-5, 'a cold user is scored by the user tower');
    }));
  });
}

test('onebp: one step moves each positive row\'s user encoding to beta e_u + (1 - beta) e_i+ (in row order)', () => {
  const m = model('mf', { biases: false });
  const beta = 0.8;
  const strategy = createOneBp({ model: m, data: ds, rng: new Rng(2) }, { negatives: 3, beta }) as OneBp;
  const opt = createOptimizer(m, { kind: 'adam', lr: 0.05, weightDecay: 0 }, strategy.trainable(m));
  const batch = ds.batches('train', { batchSize: 32, seed: 5 }).epoch(0).next().value as Batch;
  const D = strategy.encodings.shape[1];
  const e0 = Float32Array.from(strategy.encodings.f);
  m.train();
  scope(() => {
    opt.zeroGrad();
    backward(strategy.loss(m, batch).loss);
  });
  opt.step();
  strategy.afterStep(m, batch);
  // Recompute: the positives' item encodings after the step, aggregated in row order.
  const want = Float32Array.from(e0);
  noGrad(() => scope(() => {
    m.eval();
    const v = m.encodeItem!(batch).f;
    for (let b = 0; b < batch.size; b++) {
      if (!(batch.label[b] > 0.5)) continue;
      const o = batch.user[b] * D;
      for (let d = 0; d < D; d++) want[o + d] = beta * want[o + d] + (1 - beta) * v[b * D + d];
    }
  }));
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i] - strategy.encodings.f[i]));
  assert.ok(diff < 1e-6, `encodings differ by ${diff}`);
  assert.ok(want.some((x, i) => x !== e0[i]), 'some encoding moved');
});

test('onebp state is saved and restored with the checkpoint; non-inner-product models are refused', async () => {
  const m = model('mf', { biases: false });
  const s1 = createOneBp({ model: m, data: ds, rng: new Rng(2) }, {}) as OneBp;
  s1.encodings.f[5] = 42;
  await saveCheckpoint(join(dir, 'ck'), m, null, { epoch: 0 }, s1);
  const s2 = createOneBp({ model: m, data: ds, rng: new Rng(2) }, {}) as OneBp;
  assert.notEqual(s2.encodings.f[5], 42);
  await loadCheckpoint(join(dir, 'ck'), m, null, s2);
  assert.deepEqual(s2.encodings.f, s1.encodings.f);
  assert.throws(() => createOneBp({ model: model('int-tower'), data: ds, rng: new Rng(1) }, {}), /does not score by an inner product/);
  assert.throws(() => createOneBp({ model: model('dcn'), data: ds, rng: new Rng(1) }, {}), /not a two-tower model/);
  assert.throws(() => createOneBp({ model: m, data: ds, rng: new Rng(1) }, { beta2: 1 } as never), /unknown onebp config key 'beta2'/);
});

test('a train config selects the strategy by name; an unknown one lists the registered', async () => {
  const base = { model: { kind: 'mf', config: { embedDim: 8, embedStd: 0.1 } }, data: { recipe: 'x' }, batchSize: 64, epochs: 2, seed: 1 };
  const r = await runTraining(parseTrainConfig({ ...base, strategy: { kind: 'onebp', config: { negatives: 4 } }, outDir: join(dir, 'cfg-run') }), { data: ds, quiet: true });
  assert.ok(Number.isFinite(r.test.auc) && Number.isFinite(r.fit.epochs[0].trainLoss));
  await assert.rejects(runTraining(parseTrainConfig({ ...base, strategy: { kind: 'threebp' }, outDir: join(dir, 'cfg-bad') }), { data: ds, quiet: true }),
    /unknown training strategy 'threebp' \(registered: onebp, twobp, cs3-cascade\)/);
});

test('full-corpus ranking evaluation equals a per-user brute force (train items masked); OneBP reps plug in', () => {
  const m = model('dssm');
  m.eval();
  const ks = [5, 10];
  const got = rankingEval(m, ds, { split: 'test', ks });
  // Brute force: the user's first test row against every item through the training forward.
  const masked = ds.trainUserItems();
  const N = ds.itemCount;
  const seen = new Map<number, { row: number; pos: Set<number> }>();
  for (const r of ds.splits.test) {
    const u = ds.rowUser[r];
    const e = seen.get(u) ?? seen.set(u, { row: r, pos: new Set() }).get(u)!;
    if (ds.label[r] > 0.5) e.pos.add(ds.rowItem[r]);
  }
  const sums = { recall: [0, 0], ndcg: [0, 0] };
  let users = 0;
  for (const [u, { row, pos: all }] of seen) {
    // A test positive the user also had in train is masked, so it is not counted as relevant (docs/METRICS.md).
    const pos = new Set([...all].filter((i) => !masked[u].includes(i)));
    if (pos.size === 0) continue;
    users++;
    const scores = noGrad(() => scope(() => {
      const b = ds.batches(new Int32Array(N).fill(row), { batchSize: N, shuffle: false }).epoch(0).next().value as Batch;
      ds.fillItems(b, Int32Array.from({ length: N }, (_, i) => i));
      return Float32Array.from(m.forward(b).f);
    }));
    const order = Array.from({ length: N }, (_, i) => i).filter((i) => !masked[u].includes(i)).sort((a, b) => scores[b] - scores[a] || a - b);
    ks.forEach((k, t) => {
      const top = order.slice(0, k);
      sums.recall[t] += top.filter((i) => pos.has(i)).length / pos.size;
      const dcg = top.reduce((s, i, p) => s + (pos.has(i) ? 1 / Math.log2(p + 2) : 0), 0);
      const idcg = Array.from({ length: Math.min(k, pos.size) }, (_, p) => 1 / Math.log2(p + 2)).reduce((a, b) => a + b, 0);
      sums.ndcg[t] += dcg / idcg;
    });
  }
  ks.forEach((k, t) => {
    assert.ok(Math.abs(got[`recall@${k}`] - sums.recall[t] / users) < 1e-6, `recall@${k}`);
    assert.ok(Math.abs(got[`ndcg@${k}`] - sums.ndcg[t] / users) < 1e-6, `ndcg@${k}`);
  });
  // A fresh OneBP keeps the tower's reps for every user with train rows: the same ranking.
  const s = createOneBp({ model: m, data: ds, rng: new Rng(1) }, {});
  m.eval();
  const viaStrategy = rankingEval(m, ds, { split: 'test', ks, strategy: s });
  for (const k of ks) assert.ok(Math.abs(viaStrategy[`recall@${k}`] - got[`recall@${k}`]) < 1e-6);
});

test('twobp (the same sampled InfoNCE with two-sided backpropagation) trains both towers, also for IntTower', () => {
  for (const kind of ['mf', 'int-tower'] as ModelName[]) {
    const m = model(kind, kind === 'mf' ? { biases: false } : {});
    const strategy = createTwoBp({ model: m, data: ds, rng: new Rng(9) }, { negatives: 5 });
    const before = snapshot(m);
    const cfg = parseTrainConfig({ model: { kind }, data: { recipe: 'x' }, batchSize: 64, epochs: 3, seed: 1, optimizer: { kind: 'adam', lr: 0.02 }, outDir: join(dir, `twobp-${kind}`) });
    const trainer = new Trainer(m, ds, cfg, { quiet: true, strategy });
    const losses = [0, 1, 2].map((e) => trainer.trainEpoch(e).loss);
    assert.ok(losses[2] < losses[0], `${kind}: InfoNCE ${losses.map((x) => x.toFixed(4)).join(' -> ')}`);
    const moved = (prefix: string) => [...snapshot(m)].some(([n, v]) => n.startsWith(prefix) && v.some((x, i) => x !== before.get(n)![i]));
    assert.ok(moved(kind === 'mf' ? 'users.' : 'user.'), `${kind}: the user tower learns`);
  }
});

test('early stopping can watch a validation ranking metric (recall@K): the best epoch is its argmax', async () => {
  const m = model('mf', { biases: false });
  const strategy = createOneBp({ model: m, data: ds, rng: new Rng(9) }, { negatives: 5 });
  const cfg = parseTrainConfig({ model: { kind: 'mf' }, data: { recipe: 'x' }, batchSize: 64, epochs: 4, seed: 1, optimizer: { kind: 'adam', lr: 0.02 },
    earlyStopping: { metric: 'recall@10', patience: 10 }, outDir: join(dir, 'es-recall') });
  const fit = await new Trainer(m, ds, cfg, { quiet: true, strategy }).fit();
  const recalls = fit.epochs.map((e) => e.val['recall@10']);
  assert.ok(recalls.every(Number.isFinite), `val recall@10 per epoch: ${recalls.join(', ')}`);
  const first = recalls.indexOf(Math.max(...recalls));
  assert.equal(fit.bestEpoch, first);
  assert.throws(() => parseTrainConfig({ ...cfg, earlyStopping: { metric: 'recall@0' } }), /earlyStopping\.metric/);
});
