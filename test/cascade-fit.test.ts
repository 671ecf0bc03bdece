// `prerank cascade train`'s fit loop (src/cascade/fit.ts): validation on the latest training requests by t (never an
// evaluation request), early stopping on a validation metric with best = its argmax (argmin for the loss), the best
// checkpoint loaded back, last/ written every epoch, one JSONL record per epoch; config errors name the field.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateRequests, modelScorer } from '../src/cascade/evaluate.js';
import { fitOnCascade, validationCut, type CascadeFitOptions } from '../src/cascade/fit.js';
import { parseCascadeTrainConfig } from '../src/cascade/run.js';
import type { CascadeResult } from '../src/cascade/simulate.js';
import { Rng } from '../src/core/index.js';
import { MODELS, TINY_CONFIGS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Adam } from '../src/nn/index.js';
import { loadTensors } from '../src/nn/state.js';
import { tinyCascade } from './cascade-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-cascade-fit-'));
after(() => rmSync(root, { recursive: true, force: true }));

let cascade: CascadeResult;
before(async () => {
  ({ cascade } = await tinyCascade(root, 6));
});

function opts(name: string, over: Partial<CascadeFitOptions> = {}): CascadeFitOptions {
  return { objective: { kind: 'hybrid', weights: { distillation: 1, sorting: 1, amRankmax: 1 } },
    caps: { impression: 4, ranking_candidate: 4, prerank_candidate: 6, random: 3 }, listsPerBatch: 4, epochs: 6, seed: 2,
    validation: { fraction: 0.3 }, earlyStopping: { metric: 'ndcg@10', patience: 1 }, outDir: join(root, name), ...over };
}

function dssm(): RecModel {
  return MODELS.dssm({ features: cascade.fit.data.features, rng: new Rng(4) }, TINY_CONFIGS.dssm as never);
}

const readLog = (dir: string): Record<string, unknown>[] => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('validation: the latest training requests by t, no evaluation request; the training lists leave them out', async () => {
  const train = cascade.logs.filter((e) => e.request.split === 'train');
  const cut = validationCut(cascade.logs, 0.3);
  const val = train.filter((e) => e.request.t >= cut);
  assert.ok(val.length >= Math.ceil(0.3 * train.length) && val.length < train.length, `${val.length} of ${train.length}`);
  assert.ok(Math.max(...train.filter((e) => e.request.t < cut).map((e) => e.request.t)) < Math.min(...val.map((e) => e.request.t)));
  const o = opts('split', { epochs: 1 });
  const r = await fitOnCascade(dssm(), cascade, new Adam(dssm().namedParameters(), { lr: 0.01 }), o);
  assert.deepEqual(r.requests, { train: train.length - val.length, val: val.length, valFrom: cut });
  assert.ok(cascade.logs.filter((e) => e.request.split === 'eval').every((e) => e.request.t >= cascade.periods.trainEnd));
  assert.throws(() => validationCut(cascade.logs.filter((e) => e.request.split === 'eval'), 0.3), /0 training request/);
});

for (const [metric, lower] of [['ndcg@10', false], ['loss', true]] as const) {
  test(`early stopping on ${metric}: best = arg${lower ? 'min' : 'max'}, stops after patience, best weights restored, log per epoch`, async () => {
    const o = opts(`stop-${metric}`, { earlyStopping: { metric, patience: 1 } });
    const m = dssm();
    const r = await fitOnCascade(m, cascade, new Adam(m.namedParameters(), { lr: 0.05 }), o);
    const vals = r.epochs.map((e) => e.val[metric]);
    assert.ok(vals.every(Number.isFinite), vals.join());
    const bestV = lower ? Math.min(...vals) : Math.max(...vals);
    assert.equal(r.bestEpoch, vals.indexOf(bestV), vals.join());
    const lastEpoch = r.epochs.length - 1;
    assert.equal(r.stoppedEarly, lastEpoch - r.bestEpoch > 1);
    if (!r.stoppedEarly) assert.equal(r.epochs.length, o.epochs);
    // the model now holds the best epoch's weights: its validation score is the one logged for that epoch
    const valLogs = cascade.logs.filter((e) => e.request.split === 'train' && e.request.t >= r.requests.valFrom!);
    if (metric !== 'loss') {
      const again = evaluateRequests(valLogs, cascade.config.labels, modelScorer(m, cascade), { ks: [10] }).metrics[metric];
      assert.ok(Math.abs(again - bestV) < 1e-6, `${again} vs ${bestV}`);
    }
    const best = await loadTensors(join(o.outDir, 'best'));
    assert.equal((best.meta as { epoch: number }).epoch, r.bestEpoch);
    for (const [n, t] of m.stateTensors()) assert.deepEqual(Array.from(best.tensors.get(`model.${n}`)!.f), Array.from(t.f), n);
    const last = await loadTensors(join(o.outDir, 'last'));
    assert.equal((last.meta as { epoch: number }).epoch, lastEpoch);
    assert.ok([...last.tensors.keys()].some((k) => k.startsWith('optim.')), 'last/ holds the optimizer state');
    const log = readLog(o.outDir);
    assert.equal(log[0].event, 'start');
    assert.equal(log[log.length - 1].event, 'end');
    const ep = log.filter((x) => x.event === 'epoch');
    assert.equal(ep.length, r.epochs.length);
    ep.forEach((x, i) => {
      assert.equal(x.epoch, i);
      assert.equal((x.val as Record<string, number>)[metric], vals[i]);
      assert.ok((x.samplesPerSec as number) > 0 && (x.listsPerSec as number) > 0);
    });
  });
}

test('early stopping does stop: a learning rate that wrecks the model stops after patience + 1 bad epochs', async () => {
  // lr 1 (1,000x Adam's usual) sends the validation loss up after the first epoch; patience 0 stops at epoch 1
  const m = dssm();
  const r = await fitOnCascade(m, cascade, new Adam(m.namedParameters(), { lr: 1 }), opts('wreck', { earlyStopping: { metric: 'loss', patience: 0 } }));
  assert.equal(r.stoppedEarly, true, r.epochs.map((e) => e.val.loss).join());
  assert.equal(r.epochs.length - 1 - r.bestEpoch, 1, 'patience 0: the first epoch without improvement is the last');
});

test('without validation every epoch runs and the last is kept', async () => {
  const o = opts('noval', { validation: null, epochs: 3 });
  const r = await fitOnCascade(dssm(), cascade, new Adam(dssm().namedParameters(), { lr: 0.01 }), o);
  assert.deepEqual([r.epochs.length, r.bestEpoch, r.stoppedEarly, r.requests.val], [3, 2, false, 0]);
  assert.ok(existsSync(join(o.outDir, 'best')));
  assert.deepEqual(r.epochs[0].val, {});
});

test('cascade training stopped after one epoch and resumed ends with the same weights, losses and metrics as an uninterrupted run', async () => {
  const o = (name: string): CascadeFitOptions => opts(name, { epochs: 3, earlyStopping: { metric: 'ndcg@10', patience: 5 } });
  const whole = dssm();
  const a = await fitOnCascade(whole, cascade, new Adam(whole.namedParameters(), { lr: 0.02 }), o('whole'));
  const first = dssm();
  const part = await fitOnCascade(first, cascade, new Adam(first.namedParameters(), { lr: 0.02 }), { ...o('parts'), maxEpochsThisCall: 1 });
  assert.deepEqual([part.epochs.length, part.resumedFrom], [1, null]);
  const resumed = dssm();
  const b = await fitOnCascade(resumed, cascade, new Adam(resumed.namedParameters(), { lr: 0.02 }), { ...o('parts'), resume: true });
  assert.equal(b.resumedFrom, 0);
  const strip = (r: typeof a) => r.epochs.map((e) => ({ epoch: e.epoch, steps: e.steps, trainLoss: e.trainLoss, val: e.val }));
  assert.deepEqual(strip(b), strip(a));
  assert.equal(b.bestEpoch, a.bestEpoch);
  assert.deepEqual(b.losses, a.losses.slice(part.losses.length), 'the resumed call trains the later epochs\' steps');
  const mine = new Map(resumed.stateTensors());
  for (const [n, t] of whole.stateTensors()) assert.deepEqual(Array.from(mine.get(n)!.f), Array.from(t.f), n);
  for (const dir of ['last', 'best']) {
    const [x, y] = await Promise.all([loadTensors(join(root, 'whole', dir)), loadTensors(join(root, 'parts', dir))]);
    for (const [n, t] of x.tensors) assert.deepEqual(Array.from(y.tensors.get(n)!.f), Array.from(t.f), `${dir}/${n}`);
  }
  assert.equal(readLog(join(root, 'parts')).filter((x) => x.event === 'resume').length, 1);
});

test('train config errors name the field', () => {
  const base = { name: 'x', cascade: { name: 'c', data: { recipe: 'ml-100k' } }, model: { kind: 'dssm' }, objective: { kind: 'hybrid' },
    caps: { impression: 1, ranking_candidate: 1, prerank_candidate: 1, random: 1 }, out: 'o' };
  assert.throws(() => parseCascadeTrainConfig({ ...base, earlyStopping: { metric: 'ndcg' } }, root), /earlyStopping\.metric: 'ndcg' is not/);
  assert.throws(() => parseCascadeTrainConfig({ ...base, logs: 'somewhere' }, root), /exactly one of cascade .* and logs/);
  const { cascade: _c, ...noSource } = base;
  assert.throws(() => parseCascadeTrainConfig(noSource, root), /exactly one of cascade/);
  assert.throws(() => parseCascadeTrainConfig({ ...base, validation: { fraction: 1.5 } }, root), /validation\.fraction/);
  const ok = parseCascadeTrainConfig({ ...noSource, logs: 'built' }, root);
  assert.equal(ok.cfg.logs, join(root, 'built'));
  assert.equal(ok.cascade, null);
});
