// The sampled-softmax objective (src/train/sampled-softmax.ts): its log-Q offsets and accidental-hit masks against
// hand-computed cases, its loss and gradient against a float64 computation written here and central differences,
// its sampler statistics from the train split only, its draws seeded by the epoch, its config checks, and the
// two-tower models (IntTower, RankTower, DSSM and CS3 through `scoreCross`; a dot scorer without it through `score` on gathered pairs) learning with it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, bufferPoolStats, clearBufferPool, noGrad, scope } from '../src/core/index.js';
import * as ops from '../src/core/ops/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { UniformSampler } from '../src/data/samplers.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { parseTrainConfig, resolveTrainConfig, resolvedDefaultsLine, type TrainConfigInput } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { createTwoBp } from '../src/train/strategies/onebp.js';
import { rankingEval } from '../src/train/ranking-eval.js';
import { MASKED, SampledSoftmax, SampledSoftmaxSchema, sampledSoftmaxLoss, softmaxPlan, type PlanOptions, type Scorer, type SoftmaxPlan } from '../src/train/sampled-softmax.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-ssm-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 60, items: 40, interactionsPerUser: 15, seed: 4 })));

const model = (kind: ModelName): RecModel => MODELS[kind]({ features: ds.features, rng: new Rng(3) }, { ...TINY_CONFIGS[kind] } as never) as RecModel;
const objective = (extra: Record<string, unknown> = {}) => SampledSoftmaxSchema.parse({ kind: 'sampled-softmax', ...extra });
const firstBatch = (size: number): Batch => ds.batches('train', { batchSize: size, shuffle: false }).epoch(0).next().value as Batch;

// Three positive rows: user 7 liked items 1 and 2, user 8 liked item 1; M = 2 sampled items (2 and 3).
const Q_IN = new Map([[1, 0.5], [2, 0.25], [3, 0.25]]);
const Q_S = new Map([[1, 0.5], [2, 0.4], [3, 0.1]]);
const PLAN_OPTS: PlanOptions = { inBatch: true, logQ: true, maskHits: true, inBatchProb: (i) => Q_IN.get(i) ?? 0, sampledProb: (i) => Q_S.get(i) ?? 0 };
const hand = (...rows: (number | 'x')[][]) => rows.flat().map((x) => (x === 'x' ? MASKED : -Math.log(x)));

test('in-batch log-Q is log(P q(i)), sampled log-Q log(M Q(i)), and hits (the row\'s item, its user\'s other positives) leave the denominator', () => {
  const plan = softmaxPlan([7, 7, 8], [1, 2, 1], [2, 3], PLAN_OPTS);
  assert.deepEqual([plan.P, plan.C], [3, 5]);
  assert.deepEqual([...plan.labels], [0, 1, 2]);
  // columns: in-batch items 1, 2, 1, then sampled 2, 3
  const want = hand(
    [3 * 0.5, 'x', 'x', 'x', 2 * 0.1], // user 7, item 1: item 2 is its user's other positive, item 1 its own
    ['x', 3 * 0.25, 'x', 'x', 2 * 0.1], // user 7, item 2
    ['x', 3 * 0.25, 3 * 0.5, 2 * 0.4, 2 * 0.1], // user 8, item 1: row 0's item 1 is a duplicate of its own
  );
  plan.offset.forEach((x, k) => assert.ok(Math.abs(x - want[k]) < 1e-12, `offset ${k}: ${x} vs ${want[k]}`));
  assert.deepEqual([...plan.itemIndex.subarray(0, 5)], [0, 1, 2, 3, 4]);
  assert.deepEqual([...plan.userIndex], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
});

test('without in-batch negatives each row\'s own item is column 0 with the sampled correction; logQ and masks can be turned off', () => {
  const plan = softmaxPlan([7, 7, 8], [1, 2, 1], [2, 3], { ...PLAN_OPTS, inBatch: false });
  assert.equal(plan.C, 3);
  assert.deepEqual([...plan.labels], [0, 0, 0]);
  assert.deepEqual([...plan.itemIndex], [0, 3, 4, 1, 3, 4, 2, 3, 4]);
  const want = hand([2 * 0.5, 'x', 2 * 0.1], [2 * 0.4, 'x', 2 * 0.1], [2 * 0.5, 2 * 0.4, 2 * 0.1]);
  plan.offset.forEach((x, k) => assert.ok(Math.abs(x - want[k]) < 1e-12, `offset ${k}: ${x} vs ${want[k]}`));
  assert.ok(softmaxPlan([7, 7, 8], [1, 2, 1], [2, 3], { ...PLAN_OPTS, logQ: false }).offset.every((x) => x === 0 || x === MASKED));
  assert.ok(softmaxPlan([7, 7, 8], [1, 2, 1], [2, 3], { ...PLAN_OPTS, maskHits: false }).offset.every((x) => x !== MASKED));
});

/** The loss written out in float64: mean over rows of log sum_c exp(z[p, c]) - z[p, own], z = s / T + offset. */
function lossByHand(s: Float64Array, plan: SoftmaxPlan, temperature: number): number {
  let total = 0;
  for (let p = 0; p < plan.P; p++) {
    const z = Array.from({ length: plan.C }, (_, c) => s[p * plan.C + c] / temperature + plan.offset[p * plan.C + c]);
    const m = Math.max(...z);
    total += m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0)) - z[plan.labels[p]];
  }
  return total / plan.P;
}

const D = 4;
const bias = Tensor.from([0.3], [1], 'float64');
const dot: Scorer = { score: (u, v) => ops.add(ops.rowDot(u, v), bias), scoreCross: (u, v) => ops.add(ops.matmul(u, v, { transB: true }), bias) };
const dotPairsOnly: Scorer = { score: dot.score };
// IntTower-like: 2 user heads against 2 item heads of width 2, sum over user heads of the max over item heads.
const maxSim: Scorer = { score: (u, v) => ops.pairMaxSim(ops.reshape(u, [u.shape[0], 2, 2]), ops.reshape(v, [v.shape[0], 2, 2])) };
const pairScore = (u: Float64Array, v: Float64Array, kind: string): number => kind === 'max-sim'
  ? [0, 1].reduce((a, h) => a + Math.max(...[0, 1].map((g) => u[2 * h] * v[2 * g] + u[2 * h + 1] * v[2 * g + 1])), 0)
  : u.reduce((a, x, d) => a + x * v[d], 0.3);

for (const [kind, scorer] of [['dot (scoreCross)', dot], ['dot (gathered pairs)', dotPairsOnly], ['max-sim', maxSim]] as const) {
  for (const inBatch of [true, false]) {
    test(`the loss equals its float64 formula and its gradient central differences: ${kind} score, inBatch ${inBatch}`, () => {
      const rng = new Rng(kind.length + (inBatch ? 1 : 0));
      const plan = softmaxPlan([7, 7, 8], [1, 2, 1], [2, 3], { ...PLAN_OPTS, inBatch });
      const u = randTensor(rng, [3, D]), v = randTensor(rng, [5, D]);
      const s = new Float64Array(plan.P * plan.C);
      for (let k = 0; k < s.length; k++) {
        const [p, i] = [plan.userIndex[k], plan.itemIndex[k]];
        s[k] = pairScore((u.data as Float64Array).subarray(p * D, p * D + D), (v.data as Float64Array).subarray(i * D, i * D + D), kind);
      }
      const got = scope(() => sampledSoftmaxLoss(scorer, u, v, plan, 0.7).item());
      assert.ok(Math.abs(got - lossByHand(s, plan, 0.7)) < 1e-12, `${got} vs ${lossByHand(s, plan, 0.7)}`);
      gradCheck(`sampled softmax ${kind}`, (a, b) => sampledSoftmaxLoss(scorer, a, b, plan, 0.7), [u, v]);
    });
  }
}

test("the objective's temperature defaults to the model's (DSSM 0.25, others 1), an explicit one wins, and a run records which it used", () => {
  assert.equal(new SampledSoftmax(model('dssm'), ds, objective(), 1).temperature, 0.25);
  assert.equal(new SampledSoftmax(model('int-tower'), ds, objective(), 1).temperature, 1);
  assert.equal(new SampledSoftmax(model('rank-tower'), ds, objective(), 1).temperature, 1);
  assert.equal(new SampledSoftmax(model('dssm'), ds, objective({ temperature: 1 }), 1).temperature, 1);
  const base = { data: { config: 'unused' }, outDir: 'unused', objective: { kind: 'sampled-softmax' } };
  const { config, resolved } = resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'dssm' } }), 1000);
  assert.equal(config.objective?.temperature, 0.25);
  assert.equal(resolved.softmaxTemperature, 0.25);
  assert.match(resolvedDefaultsLine(resolved, 1000) ?? '', /objective temperature = 0\.25 \(the model's default\)/);
  const explicit = resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'dssm' }, objective: { kind: 'sampled-softmax', temperature: 1 } }), 1000);
  assert.deepEqual([explicit.config.objective?.temperature, explicit.resolved.softmaxTemperature], [1, null]);
  assert.equal(resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'int-tower' } }), 1000).config.objective?.temperature, 1);
});

test('scoreCross equals score over the cross product (every model that declares it)', () => {
  const kinds = (Object.keys(MODELS) as ModelName[]).filter((k) => model(k).scoreCross);
  assert.ok(['dssm', 'mf', 'dat', 'cs3', 'int-tower', 'rank-tower'].every((k) => kinds.includes(k as ModelName)), `models with scoreCross: ${kinds.join(', ')}`);
  for (const kind of kinds) {
    const m = model(kind);
    m.eval();
    noGrad(() => scope(() => {
      const batch = firstBatch(6);
      const u = m.encodeUser!(batch), v = m.encodeItem!(batch);
      const cross = m.scoreCross!(u, v).f;
      const P = batch.size;
      const idx = (f: (k: number) => number) => Tensor.from(Int32Array.from({ length: P * P }, (_, k) => f(k)), [P * P], 'int32');
      const pairs = m.score!(ops.gather(u, idx((k) => Math.floor(k / P))), ops.gather(v, idx((k) => k % P))).f;
      for (let k = 0; k < P * P; k++) assert.ok(Math.abs(cross[k] - pairs[k]) < 1e-5 * (1 + Math.abs(pairs[k])), `${kind} [${k}]: ${cross[k]} vs ${pairs[k]}`);
    }));
  }
});

test('the sampler statistics come from the train split only: changing val and test rows leaves them as they are', () => {
  const stats = () => {
    const s = new SampledSoftmax(model('dssm'), ds, objective({ sampler: 'popularity', alpha: 1 }), 1);
    return { q: Array.from(s.inBatchProb), p: Array.from({ length: ds.itemCount }, (_, i) => s.sampler!.prob(i)) };
  };
  const before = stats();
  const change = (rows: ArrayLike<number>) => {
    const saved = Array.from(rows, (r) => [ds.rowItem[r], ds.label[r]]);
    for (const r of Array.from(rows)) { ds.rowItem[r] = 0; ds.label[r] = 1; }
    return () => Array.from(rows).forEach((r, k) => { [ds.rowItem[r], ds.label[r]] = saved[k]; });
  };
  const restore = change([...ds.splits.val, ...ds.splits.test]);
  try {
    assert.deepEqual(stats(), before);
  } finally {
    restore();
  }
  const restoreTrain = change(ds.splits.train.subarray(0, 20)); // the check can see a change: train rows move them
  try {
    const moved = stats();
    assert.notDeepEqual(moved.q, before.q);
    assert.notDeepEqual(moved.p, before.p);
  } finally {
    restoreTrain();
  }
});

test("an epoch's sampled items depend only on the run's seed and the epoch", () => {
  const s = new SampledSoftmax(model('dssm'), ds, objective({ negatives: 8 }), 5);
  const draw = (e: number) => (s.startEpoch(e), Array.from(s.sampler!.sample([0], 1, 8)));
  assert.deepEqual(draw(3), draw(3));
  assert.notDeepEqual(draw(3), draw(4));
});

test('a uniform sampler given a generator draws pool[rng.int(pool size)] in order (OneBP and twobp keep their negatives)', () => {
  const counts = Float64Array.from({ length: 30 }, (_, i) => (i % 4 === 0 ? 0 : i));
  const pool = Int32Array.from({ length: 30 }, (_, i) => i).filter((i) => counts[i] > 0);
  const a = new Rng(11), b = new Rng(11);
  const got = new UniformSampler(counts, { rng: a }).sample([0], 1, 50);
  assert.deepEqual([...got], Array.from({ length: 50 }, () => pool[b.int(pool.length)]));
});

function trainConfig(kind: string, extra: Partial<TrainConfigInput> = {}) {
  return parseTrainConfig({ model: { kind, config: TINY_CONFIGS[kind as ModelName] }, data: { recipe: 'x' }, batchSize: 64, epochs: 6, seed: 1, optimizer: { kind: 'adam', lr: 0.01 },
    earlyStopping: { patience: 10 }, outDir: join(dir, `run-${kind}`), objective: { kind: 'sampled-softmax', negatives: 10 }, ...extra });
}

for (const kind of ['int-tower', 'rank-tower', 'dssm', 'cs3'] as ModelName[]) {
  test(`${kind} trains with the sampled softmax: its loss on a fixed batch and draw falls over a few epochs`, () => {
    const m = model(kind);
    const cfg = trainConfig(kind);
    const fixed = new SampledSoftmax(m, ds, cfg.objective!, 7);
    const batch = firstBatch(64);
    const lossNow = () => {
      fixed.startEpoch(0);
      m.eval();
      const loss = noGrad(() => scope(() => fixed.loss(m, batch).loss.item()));
      m.train();
      return loss;
    };
    const before = lossNow();
    const trainer = new Trainer(m, ds, cfg, { quiet: true });
    const losses = [0, 1, 2, 3, 4, 5].map((e) => trainer.trainEpoch(e).loss);
    const afterTraining = lossNow();
    assert.ok(afterTraining < before - 0.1, `fixed-batch loss ${before.toFixed(4)} -> ${afterTraining.toFixed(4)} (epochs ${losses.map((x) => x.toFixed(4)).join(' -> ')})`);
  });
}

test("the model's own loss is added with its weight; weight 0 is the softmax alone", () => {
  const m = model('int-tower');
  const batch = firstBatch(64);
  const at = (w: number) => {
    const s = new SampledSoftmax(m, ds, objective({ negatives: 5, modelLossWeight: w }), 2);
    s.startEpoch(0);
    return noGrad(() => scope(() => { const out = s.loss(m, batch); return { loss: out.loss.item(), ssm: out.parts.sampledSoftmax }; }));
  };
  m.eval();
  const own = noGrad(() => scope(() => m.loss(batch).loss.item()));
  const [zero, half] = [at(0), at(0.5)];
  assert.ok(Math.abs(zero.loss - zero.ssm) < 1e-6);
  assert.ok(Math.abs(half.loss - (half.ssm + 0.5 * own)) < 1e-5, `${half.loss} vs ${half.ssm} + 0.5 * ${own}`);
});

test('bad objective settings are refused with the field and the reason', () => {
  assert.throws(() => trainConfig('dssm', { objective: { kind: 'sampled-softmax', negatives: -1 } }), /objective\.negatives/);
  assert.throws(() => trainConfig('dssm', { objective: { kind: 'sampled-softmax', inBatch: false, negatives: 0 } }), /negatives must be >= 1/);
  assert.throws(() => new Trainer(model('deepfm'), ds, trainConfig('deepfm'), { quiet: true }), /'deepfm' is not a two-tower model/);
  const m = model('dssm');
  const strategy = createTwoBp({ model: m, data: ds, rng: new Rng(1) }, {});
  assert.throws(() => new Trainer(m, ds, trainConfig('dssm'), { quiet: true, strategy }), /objective 'sampled-softmax' and strategy 'twobp' both give the step's loss/);
});

test('full-corpus ranking can evaluate a seeded sample of the users (large corpora): that many, the same for the same seed', () => {
  const m = model('dssm');
  const all = rankingEval(m, ds, { split: 'test', ks: [10] }).exact;
  const a = rankingEval(m, ds, { split: 'test', ks: [10], users: 7, seed: 3 }).exact;
  assert.ok(all.users > 7);
  assert.equal(a.users, 7);
  assert.deepEqual(rankingEval(m, ds, { split: 'test', ks: [10], users: 7, seed: 3 }).exact, a);
  assert.deepEqual(rankingEval(m, ds, { split: 'test', ks: [10], users: all.users + 5 }).exact, all);
});

test("full-corpus ranking holds one user's scoring temporaries at a time, not a batch's", () => {
  // Each user's scores over the corpus allocate the model's per-pair tensors ([N items, ...] each); a batch of 256
  // users must not keep 256 sets alive (RankTower on 3.7k items reached 17 GB that way). The buffers released after
  // an evaluation show what was held at once: about the same for 2 users as for 40.
  const m = model('rank-tower');
  const pooledAfter = (users: number) => {
    clearBufferPool();
    rankingEval(m, ds, { split: 'test', ks: [10], users, seed: 1 });
    return bufferPoolStats().pooledBytes;
  };
  const [two, forty] = [pooledAfter(2), pooledAfter(40)];
  assert.ok(forty < 2 * two, `pooled after 40 users ${forty} B, after 2 users ${two} B`);
});

test('a run with the sampled softmax resumed from its last checkpoint trains as an uninterrupted one', async () => {
  const run = async (name: string, stops: number[]) => {
    const cfg = trainConfig('dssm', { epochs: 3, outDir: join(dir, name) });
    const losses: number[] = [];
    for (const n of stops) {
      const fit = await new Trainer(model('dssm'), ds, cfg, { quiet: true, resume: true, maxEpochsThisCall: n }).fit();
      losses.push(...fit.epochs.slice(losses.length).map((e) => e.trainLoss));
    }
    return losses;
  };
  const whole = await run('resume-whole', [3]);
  assert.equal(whole.length, 3);
  assert.deepEqual(await run('resume-split', [1, 2]), whole);
});

test('a run killed mid-epoch resumes at the step its mid-epoch checkpoint recorded and ends as an uninterrupted one', async () => {
  // Dropout (the model's RNG) and the sampler's draws (the objective's RNG) must both continue where they were.
  const withDropout = (): RecModel => MODELS.dssm({ features: ds.features, rng: new Rng(3) }, { ...TINY_CONFIGS.dssm, dropout: 0.3 } as never) as RecModel;
  const cfg = (name: string) => trainConfig('dssm', { epochs: 2, checkpointMinutes: 1e-9, outDir: join(dir, name) });
  const weights = (m: RecModel) => m.namedParameters().map(([n, t]) => [n, Array.from(t.f)]);
  const whole = withDropout();
  const wholeFit = await new Trainer(whole, ds, cfg('mid-whole'), { quiet: true }).fit();
  const stopped = new AbortController();
  const killed = new Trainer(withDropout(), ds, cfg('mid-split'), { quiet: true, signal: stopped.signal, onStep: (e, s) => e === 1 && s === 2 && stopped.abort() });
  await assert.rejects(killed.fit(), /training aborted/);
  const resumed = withDropout();
  const trainer = new Trainer(resumed, ds, cfg('mid-split'), { quiet: true, resume: true });
  const fit = await trainer.fit();
  assert.equal(fit.resumedFrom, 0, 'epoch 0 was done; epoch 1 resumed inside');
  const log = readFileSync(join(dir, 'mid-split', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((r) => r.event === 'resume').map((r) => [r.epoch, r.step]), [[1, 3]]);
  assert.deepEqual(fit.epochs.map((e) => [e.trainLoss, e.steps, e.val.auc]), wholeFit.epochs.map((e) => [e.trainLoss, e.steps, e.val.auc]));
  assert.deepEqual(weights(resumed), weights(whole));
});
