// The one training loop over any batch source and objective (src/train/loop.ts, trainer.ts): a toy run (one weight
// pulled towards targets) checks what every run gets from the loop, independent of dataset rows and models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, ops } from '../src/core/index.js';
import { Module } from '../src/nn/index.js';
import type { RecModel } from '../src/models/types.js';
import { improves, type TrainingRun } from '../src/train/loop.js';
import { Trainer, type LoopConfig } from '../src/train/trainer.js';

const TARGETS = [1, 2, 3, 4, 9];

class OneWeight extends Module {
  readonly kind = 'one-weight';
  readonly w = this.addParam('w', Tensor.from([0], [1]));
}

/** Batches of 2 targets (the last of 1) in a seeded order per epoch; loss = mean squared distance to the batch's targets. */
function toyRun(): TrainingRun<number[], { dist: number }> {
  return {
    source: {
      epoch: (e) => {
        const order = new Rng(100 + e).shuffle(Int32Array.from(TARGETS.keys()));
        return [0, 2, 4].map((at) => Array.from(order.subarray(at, at + 2), (k) => TARGETS[k]));
      },
      batchesPerEpoch: 3,
      samples: (b) => b.length,
      weight: (b) => b.length,
    },
    objective: {
      loss: (model, b) => {
        const d = ops.sub(Tensor.from(b, [b.length]), (model as unknown as OneWeight).w);
        return { loss: ops.meanAll(ops.mul(d, d)) };
      },
      validate: (model) => ({ dist: Math.abs((model as unknown as OneWeight).w.f[0] - 2.5) }),
      lowerIsBetter: (metric) => metric === 'dist',
      describe: (v) => `dist ${v.dist}`,
    },
  };
}

function fitToy(outDir: string, extra: { resume?: boolean; maxEpochsThisCall?: number } = {}) {
  const model = new OneWeight() as unknown as RecModel;
  const cfg: LoopConfig = { epochs: 6, outDir, optimizer: { kind: 'sgd', lr: 0.2, weightDecay: 0 }, earlyStopping: { metric: 'dist', patience: 1 } };
  const steps: number[][] = [];
  const trainer = new Trainer(model, toyRun(), cfg, { quiet: true, ...extra, onStep: (e, _s, l) => (steps[e] ??= []).push(l) });
  return { model: model as unknown as OneWeight, trainer, steps };
}

test('any batch source and objective train through the one loop: loss weighted by the source, best = argmin, early stop, exact resume', async () => {
  const root = mkdtempSync(join(tmpdir(), 'prerank-loop-'));
  try {
    const a = fitToy(join(root, 'a'));
    const fit = await a.trainer.fit();
    for (const rec of fit.epochs) {
      const sizes = toyRun().source.epoch(rec.epoch) as number[][];
      const want = a.steps[rec.epoch].reduce((s, l, i) => s + l * sizes[i].length, 0) / TARGETS.length;
      assert.equal(rec.trainLoss, want, `epoch ${rec.epoch}: the mean over samples, not over steps`);
      assert.equal(rec.steps, 3);
    }
    const dists = fit.epochs.map((e) => e.val.dist);
    assert.equal(fit.bestEpoch, dists.indexOf(Math.min(...dists)), dists.join());
    assert.equal(fit.stoppedEarly, true, `w passes 2.5 on its way to the targets' mean: ${dists.join()}`);
    assert.equal(fit.epochs.length - 1 - fit.bestEpoch, 2, 'patience 1: two epochs without improvement');
    const first = fitToy(join(root, 'b'), { maxEpochsThisCall: 2 });
    await first.trainer.fit();
    const b = fitToy(join(root, 'b'), { resume: true });
    const resumed = await b.trainer.fit();
    assert.equal(resumed.resumedFrom, 1);
    assert.deepEqual(resumed.epochs.map((e) => [e.trainLoss, e.val.dist]), fit.epochs.map((e) => [e.trainLoss, e.val.dist]));
    assert.equal(b.model.w.f[0], a.model.w.f[0]);
    await b.trainer.restoreBest();
    assert.equal(Math.abs(b.model.w.f[0] - 2.5), fit.best.dist);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the first epoch is the best even when its metric is not finite; later only a finite improvement replaces the best', () => {
  assert.equal(improves(NaN, null, false), true);
  assert.equal(improves(0.1, NaN, false), true);
  assert.equal(improves(NaN, 0.1, false), false);
  assert.equal(improves(Infinity, 0.1, false), false);
  assert.equal(improves(0.2, 0.1, false), true);
  assert.equal(improves(0.2, 0.1, true), false);
  assert.equal(improves(0.1, 0.1, true), false, 'a tie is no improvement');
});
