// The trainer: learning on synthetic data, early stopping, atomic checkpoints, and exact resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, Rng, ops } from '../src/core/index.js';
import { Dropout, Embedding, Module } from '../src/nn/index.js';
import { CachedDataset, Dataset, parseDataConfig, syntheticConfig, writeSyntheticLog, type Batch, type FeatureInfo } from '../src/data/index.js';
import type { LossOutput, RecModel } from '../src/models/types.js';
import { parseTrainConfig } from '../src/train/config.js';
import { Progress } from '../src/train/progress.js';
import { Trainer } from '../src/train/trainer.js';

/** A matrix-factorisation model with dropout, local to this test so the trainer is tested on its own. */
class TinyMf extends Module implements RecModel {
  readonly kind = 'tiny-mf';
  readonly twoTower = false;
  private readonly users: Embedding;
  private readonly items: Embedding;
  private readonly drop: Dropout;

  constructor(features: FeatureInfo[], rng: Rng) {
    super();
    const size = (name: string) => features.find((f) => f.name === name)!.vocabSize;
    this.users = this.addModule('users', new Embedding(size('user_id'), 8, rng, { scale: 0.1 }));
    this.items = this.addModule('items', new Embedding(size('item_id'), 8, rng, { scale: 0.1 }));
    this.drop = this.addModule('drop', new Dropout(0.2, rng.fork()));
  }

  forward(b: Batch): Tensor {
    const u = this.drop.forward(this.users.forward(Tensor.from(b.sparse.user_id.subarray(0, b.size))));
    return ops.rowDot(u, this.items.forward(Tensor.from(b.sparse.item_id.subarray(0, b.size))));
  }

  loss(b: Batch): LossOutput {
    const logits = this.forward(b);
    const loss = ops.bceWithLogits(logits, Tensor.from(b.label.subarray(0, b.size)));
    return { loss, logits, parts: {} };
  }
}

async function setup(): Promise<{ dir: string; data: Dataset }> {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-train-'));
  const data = await Dataset.load(syntheticConfig(join(dir, 'data'), { users: 120, items: 60, interactionsPerUser: 30 }));
  return { dir, data };
}

/** A train config (validated with a registered model's name, then naming the local model the Trainer is given). */
const config = (outDir: string, over: Record<string, unknown> = {}) => ({
  ...parseTrainConfig({ model: { kind: 'mf' }, data: { recipe: 'unused' }, batchSize: 128, epochs: 6, outDir, earlyStopping: { metric: 'logloss', patience: 10 }, optimizer: { kind: 'adam', lr: 0.05 }, ...over }),
  model: { kind: 'tiny-mf', config: {} },
});

test('the trainer learns, logs, and keeps best and last checkpoints', async () => {
  const { dir, data } = await setup();
  try {
    const cfg = config(join(dir, 'run'));
    const model = new TinyMf(data.features, new Rng(1));
    const before = new Trainer(model, data, cfg, { quiet: true }).evaluate('val');
    const trainer = new Trainer(model, data, cfg, { quiet: true });
    const fit = await trainer.fit();
    assert.equal(fit.epochs.length, 6);
    assert.ok(fit.epochs[5].trainLoss < fit.epochs[0].trainLoss, 'train loss should fall');
    assert.ok(fit.best.logloss < before.logloss, `val logloss ${before.logloss} -> ${fit.best.logloss}`);
    assert.deepEqual(readdirSync(join(dir, 'run')).sort(), ['best', 'last', 'log.jsonl']);
    await trainer.restoreBest();
    assert.equal(trainer.evaluate('val').logloss, fit.best.logloss);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('early stopping stops after `patience` epochs without improvement', async () => {
  const { dir, data } = await setup();
  try {
    const cfg = config(join(dir, 'run'), { optimizer: { kind: 'sgd', lr: 1e-12 }, earlyStopping: { metric: 'auc', patience: 1 } });
    const fit = await new Trainer(new TinyMf(data.features, new Rng(1)), data, cfg, { quiet: true }).fit();
    assert.equal(fit.stoppedEarly, true);
    assert.ok(fit.epochs.length <= 3, `ran ${fit.epochs.length} epochs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming from the last checkpoint gives exactly the uninterrupted result', async () => {
  const { dir, data } = await setup();
  try {
    const whole = new TinyMf(data.features, new Rng(3));
    await new Trainer(whole, data, config(join(dir, 'a')), { quiet: true }).fit();
    const first = new TinyMf(data.features, new Rng(3));
    const partial = await new Trainer(first, data, config(join(dir, 'b')), { quiet: true, maxEpochsThisCall: 2 }).fit();
    assert.equal(partial.epochs.length, 2);
    // A fresh process would rebuild the model from a different seed: the checkpoint must restore everything.
    const resumed = new TinyMf(data.features, new Rng(999));
    const fit = await new Trainer(resumed, data, config(join(dir, 'b')), { quiet: true, resume: true }).fit();
    assert.equal(fit.resumedFrom, 1);
    assert.equal(fit.epochs.length, 6);
    for (const [name, t] of whole.stateTensors()) assert.deepEqual(resumed.stateTensors().get(name)!.data, t.data, name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming a run that reads the data cache, in a new process, gives exactly the uninterrupted result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-train-cache-'));
  try {
    const input = writeSyntheticLog(join(dir, 'data'), { users: 120, items: 60, interactionsPerUser: 30 });
    const open = () => CachedDataset.open(parseDataConfig({ ...input, cache: { dir: join(dir, 'cache'), chunkRows: 1024 } }));
    const data = await open();
    const cfg = (out: string) => config(join(dir, out), { epochs: 4 });
    const whole = new TinyMf(data.features, new Rng(3));
    const all = await new Trainer(whole, data, cfg('a'), { quiet: true }).fit();
    assert.ok(all.epochs[3].trainLoss < all.epochs[0].trainLoss, 'train loss should fall');
    await new Trainer(new TinyMf(data.features, new Rng(3)), data, cfg('b'), { quiet: true, maxEpochsThisCall: 2 }).fit();
    const again = await open();
    assert.equal(again.cache.reused, true);
    const resumed = new TinyMf(again.features, new Rng(999));
    const fit = await new Trainer(resumed, again, cfg('b'), { quiet: true, resume: true }).fit();
    assert.equal(fit.resumedFrom, 1);
    assert.deepEqual(fit.epochs.map((e) => e.trainLoss), all.epochs.map((e) => e.trainLoss));
    for (const [name, t] of whole.stateTensors()) assert.deepEqual(resumed.stateTensors().get(name)!.data, t.data, name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a long epoch writes progress records to the run log; a short one and a bare trainEpoch do not', async () => {
  const { dir, data } = await setup();
  const read = (run: string) => readFileSync(join(dir, run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  try {
    const every = new Trainer(new TinyMf(data.features, new Rng(1)), data, config(join(dir, 'every'), { epochs: 2 }), { quiet: true, progressEveryMs: 0 });
    await every.fit();
    const steps = every.run.source.batchesPerEpoch;
    const progress = read('every').filter((r) => r.event === 'progress');
    // every step but each epoch's last (the epoch record follows it), in order
    assert.deepEqual(progress.map((r) => [r.epoch, r.step]), [0, 1].flatMap((e) => Array.from({ length: steps - 1 }, (_, i) => [e, i + 1])));
    for (const r of progress) {
      assert.equal(r.of, steps);
      assert.ok(r.samplesPerSec > 0 && Number.isFinite(r.loss) && r.etaSeconds >= 0, JSON.stringify(r));
    }
    await new Trainer(new TinyMf(data.features, new Rng(1)), data, config(join(dir, 'minute'), { epochs: 2 }), { quiet: true }).fit();
    assert.deepEqual(read('minute').filter((r) => r.event === 'progress'), [], 'epochs under a minute write none');
    new Trainer(new TinyMf(data.features, new Rng(1)), data, config(join(dir, 'bare')), { quiet: true, progressEveryMs: 0 }).trainEpoch(0);
    assert.equal(existsSync(join(dir, 'bare')), false, 'an epoch outside fit leaves no log');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress on a stderr that is not a terminal: a plain line a period, none when quiet', () => {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => (lines.push(s), true)) as typeof process.stderr.write;
  try {
    for (const line of [true, false]) {
      const p = new Progress({ line, recordEveryMs: 0 });
      p.start(false);
      for (let done = 1; done <= 3; done++) p.update(4, done, 3, done * 10, 0.5);
      p.end();
    }
  } finally {
    process.stderr.write = write;
  }
  assert.equal(process.stderr.isTTY && !process.env.CI ? 'tty' : 'plain', 'plain', 'the test runner gives the test a non-terminal stderr');
  assert.deepEqual(lines.map((l) => l.replace(/[\d.]+ batch\/s/, 'R batch/s').replace(/ETA \d+s/, 'ETA Ts')),
    ['epoch 4: 1/3 R batch/s loss 0.5000 ETA Ts\n', 'epoch 4: 2/3 R batch/s loss 0.5000 ETA Ts\n']);
});
