// Training strategies (src/train/strategies): OneBP on MF and DSSM trains only item-side parameters (user-side
// tensors stay bit-identical), its InfoNCE falls, each step's moving aggregation is exactly
// e_u <- beta e_u + (1 - beta) e_i+ (checked against a recomputation), cold users are scored by the tower, its
// state survives a checkpoint, and models whose score is not an inner product are refused with a reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, backward, noGrad, scope, type Tensor } from '../src/core/index.js';
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
  assert.throws(() => createOneBp({ model: m, data: ds, rng: new Rng(1) }, { beta2: 1 } as never), /onebp\.beta2: unknown key 'beta2'; did you mean 'beta'\?/);
});

test('a train config selects the strategy by name; an unknown one lists the registered', async () => {
  const base = { model: { kind: 'mf', config: { embedDim: 8, embedStd: 0.1 } }, data: { recipe: 'x' }, batchSize: 64, epochs: 2, seed: 1 };
  const r = await runTraining(parseTrainConfig({ ...base, strategy: { kind: 'onebp', config: { negatives: 4 } }, outDir: join(dir, 'cfg-run') }), { data: ds, quiet: true });
  assert.ok(Number.isFinite(r.test.auc) && Number.isFinite(r.fit.epochs[0].trainLoss));
  assert.throws(() => parseTrainConfig({ ...base, strategy: { kind: 'threebp' }, outDir: join(dir, 'cfg-bad') }),
    /train\.strategy\.kind: unknown training strategy 'threebp'.*\(registered: onebp, twobp, cs3-cascade\)/);
});

test('full-corpus ranking evaluation equals a per-user brute force (train items masked); OneBP reps plug in', () => {
  const m = model('dssm');
  m.eval();
  const ks = [5, 10];
  const got = rankingEval(m, ds, { split: 'test', ks }).exact;
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
  const viaStrategy = rankingEval(m, ds, { split: 'test', ks, strategy: s }).exact;
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

test('uniqueItems: each distinct item is encoded once and shared by its slots; loss and gradients equal one row per slot (MF; DSSM without batch norm or dropout)', () => {
  for (const [kind, extra] of [['mf', { biases: true }], ['dssm', { batchNorm: false, dropout: 0 }]] as [ModelName, Record<string, unknown>][]) {
    const batch = ds.batches('train', { batchSize: 64, shuffle: true, seed: 2 }).epoch(0).next().value as Batch;
    const run = (uniqueItems: boolean, factory: typeof createOneBp | typeof createTwoBp) => {
      const m = model(kind, extra);
      m.train();
      const strategy = factory({ model: m, data: ds, rng: new Rng(9) }, { negatives: 6, positives: 1, uniqueItems });
      const encoded: number[] = [];
      const encodeItem = m.encodeItem!.bind(m);
      m.encodeItem = (b) => (encoded.push(b.size), encodeItem(b));
      const loss = scope(() => {
        const l = strategy.loss(m, batch).loss;
        backward(l);
        return l.item();
      });
      const dense = (t: Tensor): Float32Array => {
        if (t.grad) return Float32Array.from(t.grad.f);
        const g = new Float32Array(t.size), D = t.shape[1];
        t.sparseGrad!.ids.forEach((ids, k) => ids.forEach((id, j) => {
          for (let c = 0; c < D; c++) g[id * D + c] += t.sparseGrad!.rows[k][j * D + c];
        }));
        return g;
      };
      const grads = new Map(m.namedParameters().filter(([, t]) => t.grad || t.sparseGrad).map(([n, t]) => [n, dense(t)]));
      return { loss, grads, encoded: encoded[0] };
    };
    for (const factory of [createOneBp, createTwoBp]) {
      const a = run(true, factory), b = run(false, factory);
      assert.ok(a.encoded < b.encoded, `${kind}: ${a.encoded} distinct items encoded instead of ${b.encoded} slots`);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * Math.max(1, Math.abs(b.loss)), `${kind}: loss ${a.loss} vs ${b.loss}`);
      assert.deepEqual([...a.grads.keys()].sort(), [...b.grads.keys()].sort());
      for (const [n, g] of b.grads) {
        const h = a.grads.get(n)!;
        const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
        const d = Math.max(...Array.from(g, (x, i) => Math.abs(x - h[i])));
        assert.ok(d < 1e-4 * scale, `${kind} ${n}: gradient differs by ${d} (scale ${scale})`);
      }
    }
  }
  assert.throws(() => createTwoBp({ model: model('mf'), data: ds, rng: new Rng(1) }, { uniqueItems: 1 as never }), /twobp\.uniqueItems: .*expected boolean/);
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

/** Users with at least `min` positive train rows, and their positive train items. */
function positivesByUser(min: number): Map<number, number[]> {
  const m = new Map<number, Set<number>>();
  for (const r of ds.splits.train) if (ds.label[r] > 0.5) (m.get(ds.rowUser[r]) ?? m.set(ds.rowUser[r], new Set()).get(ds.rowUser[r])!).add(ds.rowItem[r]);
  return new Map([...m].filter(([, s]) => s.size >= min).map(([u, s]) => [u, [...s]]));
}

test('onebp init "history-mean": e_u = the mean item encoding of the user\'s train positives; "tower" differs', () => {
  for (const kind of ['mf', 'dssm'] as ModelName[]) {
    const m = model(kind, kind === 'mf' ? { biases: false } : {});
    const hist = createOneBp({ model: m, data: ds, rng: new Rng(2) }, { init: 'history-mean' }) as OneBp;
    const tower = createOneBp({ model: m, data: ds, rng: new Rng(2) }, { init: 'tower' }) as OneBp;
    const D = hist.encodings.shape[1];
    const liked = positivesByUser(2);
    assert.ok(liked.size > 10);
    noGrad(() => scope(() => {
      m.eval();
      for (const [u, items] of [...liked].slice(0, 10)) {
        const v = m.encodeItem!(ds.fillItems(ds.itemBatch(items.length), Int32Array.from(items))).f;
        const want = new Float32Array(D);
        for (let i = 0; i < items.length; i++) for (let d = 0; d < D; d++) want[d] += v[i * D + d] / items.length;
        const got = hist.encodings.f.subarray(u * D, u * D + D);
        assert.ok(want.every((x, d) => Math.abs(x - got[d]) < 1e-5), `${kind} user ${u}: history mean`);
        assert.ok(got.some((x, d) => Math.abs(x - tower.encodings.f[u * D + d]) > 1e-4), `${kind} user ${u}: differs from the tower init`);
        assert.equal(hist.known.f[u], 1);
      }
    }));
    m.train();
  }
  // Users with train rows but no positive keep the tower's output (the same as init "tower").
  const m = model('mf', { biases: false });
  const hist = createOneBp({ model: m, data: ds, rng: new Rng(2) }, { init: 'history-mean' }) as OneBp;
  const tower = createOneBp({ model: m, data: ds, rng: new Rng(2) }, {}) as OneBp;
  const liked = positivesByUser(1);
  const D = hist.encodings.shape[1];
  for (let u = 0; u < ds.userCount; u++) {
    if (liked.has(u) || !tower.known.f[u]) continue;
    assert.deepEqual(hist.encodings.f.subarray(u * D, u * D + D), tower.encodings.f.subarray(u * D, u * D + D));
  }
  assert.throws(() => createOneBp({ model: m, data: ds, rng: new Rng(1) }, { init: 'mean' } as never), /onebp\.init: .*expected one of "tower"\|"history-mean"/);
  assert.throws(() => createOneBp({ model: m, data: ds, rng: new Rng(1) }, { warmupEpochs: -1 }), /onebp\.warmupEpochs: .*expected number to be >=0/);
  assert.throws(() => createTwoBp({ model: m, data: ds, rng: new Rng(1) }, { positives: 1.5 }), /twobp\.positives: .*expected int/);
});

test('onebp warmupEpochs: two-sided training first (user tower learns), then stored encodings from the warmed tower and only the item side learns', () => {
  const m = model('dssm');
  const strategy = createOneBp({ model: m, data: ds, rng: new Rng(9) }, { negatives: 5, beta: 0.9, warmupEpochs: 2 }) as OneBp;
  assert.equal(strategy.switched, false, 'no stored encodings during the warm-up');
  const cfg = parseTrainConfig({ model: { kind: 'dssm' }, data: { recipe: 'x' }, batchSize: 64, epochs: 3, seed: 1, optimizer: { kind: 'adam', lr: 0.02 }, outDir: join(dir, 'warmup') });
  const trainer = new Trainer(m, ds, cfg, { quiet: true, strategy });
  const s0 = snapshot(m);
  trainer.trainEpoch(0);
  trainer.trainEpoch(1);
  const s1 = snapshot(m);
  const userSide = [...s1.keys()].filter((n) => n.startsWith('user'));
  assert.ok(userSide.length > 0 && userSide.some((n) => s1.get(n)!.some((x, i) => x !== s0.get(n)![i])), 'the user tower learns during the warm-up');
  assert.equal(strategy.switched, false);
  // Epoch 2 starts with the switch: encodings = the warmed-up tower's output for each user's first train row.
  strategy.startEpoch(m, 2);
  assert.equal(strategy.switched, true);
  const D = strategy.encodings.shape[1];
  const first = new Map<number, number>();
  for (const r of ds.splits.train) if (!first.has(ds.rowUser[r])) first.set(ds.rowUser[r], r);
  const rows = Int32Array.from([...first.values()].slice(0, 8));
  noGrad(() => scope(() => {
    m.eval();
    const b = ds.batches(rows, { batchSize: rows.length, shuffle: false }).epoch(0).next().value as Batch;
    const u = m.encodeUser!(b).f;
    for (let k = 0; k < b.size; k++) {
      const got = strategy.encodings.f.subarray(b.user[k] * D, b.user[k] * D + D);
      assert.ok(got.every((x, d) => Math.abs(x - u[k * D + d]) < 1e-5), `user ${b.user[k]}: encoding from the warmed-up tower`);
    }
  }));
  const e2 = Float32Array.from(strategy.encodings.f);
  trainer.trainEpoch(2);
  const s2 = snapshot(m);
  for (const n of userSide) assert.ok(s2.get(n)!.every((x, i) => x === s1.get(n)![i]), `${n} does not move after the switch`);
  assert.ok([...s2.keys()].some((n) => n.startsWith('item') && s2.get(n)!.some((x, i) => x !== s1.get(n)![i])), 'the item side learns after the switch');
  assert.ok(strategy.encodings.f.some((x, i) => x !== e2[i]), 'the moving aggregation runs after the switch');
});

test('onebp/twobp positives: K extra positives from the user\'s train positives each get an InfoNCE term', () => {
  const liked = positivesByUser(4);
  const r = ds.splits.train.find((row) => ds.label[row] > 0.5 && liked.has(ds.rowUser[row]))!;
  const u = ds.rowUser[r];
  const others = new Set(liked.get(u)!.filter((i) => i !== ds.rowItem[r]));
  const batch = ds.batches(Int32Array.of(r), { batchSize: 1, shuffle: false }).epoch(0).next().value as Batch;
  for (const create of [createOneBp, createTwoBp]) {
    /** Item ids whose embedding rows receive a gradient from one step's loss. */
    const touched = (positives: number): { ids: Set<number>; loss: number } => {
      const m = model('mf', { biases: false });
      const s = create({ model: m, data: ds, rng: new Rng(4) }, { negatives: 6, positives });
      m.train();
      for (const [, t] of m.namedParameters()) { t.grad = null; t.sparseGrad = null; }
      const loss = scope(() => {
        const l = s.loss(m, batch).loss;
        backward(l);
        return l.item();
      });
      const table = m.namedParameters().find(([n]) => n === 'items.table')![1];
      const ids = new Set<number>();
      for (const part of table.sparseGrad?.ids ?? []) for (const id of part) ids.add(id);
      return { ids, loss };
    };
    const itemIdOf = (entity: number): number => ds.fillItems(ds.itemBatch(1), Int32Array.of(entity)).sparse.item_id[0];
    const otherIds = new Set([...others].map(itemIdOf));
    const k0 = touched(0), k3 = touched(3);
    assert.ok(![...k0.ids].some((id) => otherIds.has(id)), 'without extra positives the user\'s other positives get no gradient');
    assert.ok([...k3.ids].some((id) => otherIds.has(id)), 'with positives: 3 some of the user\'s other positives get a gradient');
    assert.ok(Number.isFinite(k3.loss) && k3.loss !== k0.loss);
  }
});
