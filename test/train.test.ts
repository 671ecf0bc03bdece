// The trainer: learning on synthetic data, early stopping, atomic checkpoints, and exact resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, Rng, ops } from '../src/core/index.js';
import { Dropout, Embedding, Module } from '../src/nn/index.js';
import { CachedDataset, Dataset, parseDataConfig, syntheticConfig, writeSyntheticLog, type Batch, type FeatureInfo } from '../src/data/index.js';
import type { LossOutput, RecModel } from '../src/models/types.js';
import { parseTrainConfig } from '../src/train/config.js';
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
