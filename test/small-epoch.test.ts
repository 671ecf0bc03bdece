// A run whose epoch is too few optimizer steps says so once, on stderr and in its log, with a batch size that fixes it;
// batchSize 'auto' (the default) resolves from the train split's size, and an absent lr from the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticLog } from '../src/data/index.js';
import { parseTrainConfig, resolveTrainConfig } from '../src/train/config.js';
import { buildModel, loadData, runTraining } from '../src/train/run.js';
import { AUTO_BATCH, autoBatchSize, smallEpochWarning } from '../src/train/small-epoch.js';
import { createOptimizer, Trainer } from '../src/train/trainer.js';

/** fn over a tiny synthetic dataset (40 users, 60 items) in a temporary folder, removed afterwards. */
async function withTinyData(prefix: string, fn: (t: { dir: string; config: string; data: Awaited<ReturnType<typeof loadData>>; rows: number }) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const config = join(dir, 'data.json');
    writeFileSync(config, JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 40, items: 60, interactionsPerUser: 10 })));
    const data = await loadData({ data: { config } });
    await fn({ dir, config, data, rows: data.splitSize('train') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the small-epoch warning names the power-of-two batch size that gives at least 50 steps', () => {
  assert.equal(smallEpochWarning(6600, 2048), 'an epoch is 4 optimizer steps (6600 training rows at batchSize 2048), fewer than 50: '
    + 'set batchSize to 128 or less (52 steps an epoch) and re-tune the learning rate');
  assert.equal(smallEpochWarning(6600, 128), null);
  assert.equal(smallEpochWarning(50 * 2048, 2048), null, 'exactly 50 steps is enough');
  assert.match(smallEpochWarning(49 * 2048, 2048)!, /49 optimizer steps .* set batchSize to 1024 or less \(98 steps/);
  assert.match(smallEpochWarning(30, 8)!, /4 optimizer steps .* even at batchSize 1: this dataset is too small/);
});

test('a run with fewer than 50 steps an epoch warns once (stderr and run log), a resumed one does not repeat it, a run with enough steps is silent', async () => {
  await withTinyData('prerank-small-', async ({ dir, config, data, rows }) => {
    const fit = async (batchSize: number, outDir: string, opts: { maxEpochsThisCall?: number; resume?: boolean } = {}) => {
      const cfg = parseTrainConfig({ model: { kind: 'lr' }, data: { config }, batchSize, epochs: 2, outDir: join(dir, outDir) });
      const said: string[] = [];
      await new Trainer(buildModel(cfg, data), data, cfg, { quiet: true, warn: (l) => said.push(l), ...opts }).fit();
      const logged = readFileSync(join(dir, outDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'warning');
      return { said, logged: logged.map((e) => e.message) };
    };
    const small = await fit(64, 'small', { maxEpochsThisCall: 1 });
    assert.deepEqual(small.said, [`an epoch is ${Math.ceil(rows / 64)} optimizer steps (${rows} training rows at batchSize 64), fewer than 50: `
      + `set batchSize to 4 or less (${Math.ceil(rows / 4)} steps an epoch) and re-tune the learning rate`]);
    assert.deepEqual(small.logged, small.said);
    const resumed = await fit(64, 'small', { resume: true });
    assert.deepEqual(resumed.said, []);
    assert.equal(resumed.logged.length, 1, 'the log holds the one warning of the run');
    const enough = await fit(4, 'enough');
    assert.deepEqual(enough, { said: [], logged: [] });
  });
});

/** The rule by brute force: the largest power of two in [min, max] giving >= steps batches, else min. */
function bruteAuto(rows: number): number {
  let best = AUTO_BATCH.min;
  for (let b = AUTO_BATCH.min; b <= AUTO_BATCH.max; b *= 2) if (Math.ceil(rows / b) >= AUTO_BATCH.steps) best = b;
  return best;
}

test("batchSize 'auto' is the largest power of two giving >= 200 steps an epoch, clamped to 64..2048", () => {
  assert.equal(autoBatchSize(50998), 256, 'ML-100K train split: 200 steps');
  assert.equal(autoBatchSize(56552), 256, 'ml-latest-small');
  assert.equal(autoBatchSize(252304), 1024, 'ML-1M partial');
  assert.equal(autoBatchSize(25600), 128, 'exactly 200 steps at 128');
  assert.equal(autoBatchSize(25601), 128);
  assert.equal(autoBatchSize(1000), 64, 'small data: the floor');
  assert.equal(autoBatchSize(0), 64);
  assert.equal(autoBatchSize(10_000_000), 2048, 'large data: the former fixed default');
  for (let rows = 1; rows < 1_000_000; rows = Math.ceil(rows * 1.37) + 3) assert.equal(autoBatchSize(rows), bruteAuto(rows), `${rows} rows`);
});

test("explicit batch size and lr win over 'auto' and the model's default lr; absent ones resolve per model", () => {
  const base = { data: { config: 'unused' }, outDir: 'unused' };
  const auto = resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'lr' } }), 50998);
  assert.equal(auto.config.batchSize, 256);
  assert.equal(auto.config.optimizer.lr, 5e-3, "LR's own default");
  assert.deepEqual(auto.resolved, { batchSize: 256, lr: 5e-3, softmaxTemperature: null });
  assert.equal(resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'dcn' } }), 50998).config.optimizer.lr, 3e-3);
  assert.equal(resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'dssm' } }), 50998).config.optimizer.lr, 1e-3);
  const explicit = resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'lr' }, batchSize: 2048, optimizer: { lr: 0.02 } }), 50998);
  assert.equal(explicit.config.batchSize, 2048);
  assert.equal(explicit.config.optimizer.lr, 0.02);
  assert.deepEqual(explicit.resolved, { batchSize: null, lr: null, softmaxTemperature: null });
  assert.equal(resolveTrainConfig(parseTrainConfig({ ...base, model: { kind: 'lr' }, batchSize: 'auto' }), 252304).config.batchSize, 1024);
  assert.throws(() => parseTrainConfig({ ...base, model: { kind: 'lr' }, batchSize: 'big' }), /train\.batchSize: expected number or 'auto'$/m);
  assert.throws(() => parseTrainConfig({ ...base, model: { kind: 'lr' }, batchSize: 0.5 }), /train\.batchSize: expected int or 'auto'$/m);
  assert.throws(() => parseTrainConfig({ ...base, model: { kind: 'lr' }, batchSize: 0 }), /train\.batchSize: Too small: expected number to be >0/);
});

test("a config without batchSize or lr trains at the resolved values, says so in its log, and stores them in config.json", async () => {
  await withTinyData('prerank-auto-', async ({ dir, config, data, rows }) => {
    const cfg = parseTrainConfig({ model: { kind: 'lr' }, data: { config }, epochs: 1, outDir: join(dir, 'run') });
    const r = await runTraining(cfg, { data, quiet: true, warn: () => {} });
    assert.equal(r.config.batchSize, 64);
    assert.equal(r.fit.epochs[0].steps, Math.ceil(rows / 64), 'the epoch ran at the resolved batch size');
    const stored = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8'));
    assert.equal(stored.batchSize, 64);
    assert.equal(stored.optimizer.lr, 5e-3);
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    assert.deepEqual([summary.batchSize, summary.lr], [64, 5e-3]);
    const log = readFileSync(join(dir, 'run', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.filter((e) => e.event === 'defaults').map((e) => e.message),
      [`batchSize auto = 64 (${rows} training rows, ${Math.ceil(rows / 64)} steps an epoch); lr = 0.005 (the model's default)`]);
    const trainer = new Trainer(buildModel(cfg, data), data, cfg, { quiet: true, warn: () => {} });
    assert.equal(trainer.optimizer.lr, 5e-3);
    assert.equal(createOptimizer(r.model, { kind: 'sgd', weightDecay: 0 }).lr, 5e-3, 'createOptimizer without an lr: the model\'s');
    // the optimizer's epsilon: given, it reaches Adam and Adagrad; sgd has none and refuses it
    const eps = (kind: 'adam' | 'adagrad') => (createOptimizer(r.model, parseTrainConfig({ model: { kind: 'lr' }, data: { config }, optimizer: { kind, eps: 4e-12 }, outDir: dir }).optimizer) as unknown as { eps: number }).eps;
    assert.equal(eps('adam'), 4e-12);
    assert.equal(eps('adagrad'), 4e-12);
    assert.equal((createOptimizer(r.model, { kind: 'adam', weightDecay: 0 }) as unknown as { eps: number }).eps, 1e-8, "Adam's default");
    assert.throws(() => parseTrainConfig({ model: { kind: 'lr' }, data: { config }, optimizer: { kind: 'sgd', eps: 1e-8 }, outDir: dir }), /optimizer\.eps.*sgd has no epsilon/s);
    const pinned = parseTrainConfig({ model: { kind: 'lr' }, data: { config }, epochs: 1, batchSize: 7, optimizer: { lr: 0.01 }, outDir: join(dir, 'pinned') });
    const p = await runTraining(pinned, { data, quiet: true, warn: () => {} });
    assert.equal(p.fit.epochs[0].steps, Math.ceil(rows / 7));
    assert.equal(p.config.optimizer.lr, 0.01);
    assert.ok(!readFileSync(join(dir, 'pinned', 'log.jsonl'), 'utf8').includes('"defaults"'), 'nothing to say when the config gave both');
  });
});
