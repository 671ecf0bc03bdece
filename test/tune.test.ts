// The tuner on planted objectives (a function of the sampled values stands in for training, so every rule is checked
// in milliseconds) and once end to end with real training in worker processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrainConfig } from '../src/train/config.js';
import type { JobResult } from '../src/train/tune/asha.js';
import { parseTuneConfig, rungEpochs, type TuneConfig } from '../src/train/tune/config.js';
import { runSearch, type TrialRunner } from '../src/train/tune/search.js';
import { sampleTrial } from '../src/train/tune/space.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'prerank-tune-'));

/** A search over a planted space: the best is lr 1e-2, batchSize 512, dropout near 0.2; lr 1e-4 is far worse. */
function search(outDir: string, extra: Record<string, unknown> = {}): TuneConfig {
  return parseTuneConfig({
    name: 'planted', outDir, trials: 27, seed: 5, asha: { minEpochs: 1, eta: 3 },
    base: { model: { kind: 'dssm' }, data: { recipe: 'ml-100k' }, epochs: 9 },
    space: {
      'optimizer.lr': { choice: [1e-4, 1e-3, 1e-2] },
      batchSize: { choice: [256, 512] },
      'model.config.dropout': { uniform: [0, 0.5] },
    },
    ...extra,
  });
}

/** The planted validation AUC of a config after `epochs` epochs: it rises with epochs towards a value set by the config. */
function planted(cfg: TrainConfig, epochs: number): number {
  const lr = cfg.optimizer.lr, dropout = (cfg.model.config as { dropout?: number }).dropout ?? 0.2;
  const ceiling = lr === 1e-4 ? 0.55 : 0.8 + (lr === 1e-2 ? 0.05 : 0) + (cfg.batchSize === 512 ? 0.03 : 0) - 0.2 * Math.abs(dropout - 0.2);
  return 0.5 + (ceiling - 0.5) * (1 - 0.5 ** epochs);
}

/** A runner whose training is `planted`; it records every job and can fail (as a killed search does) at job `failAt`. */
function fakeRunner(failAt = Infinity) {
  const jobs: string[] = [];
  const tests: string[] = [];
  const runner: TrialRunner = {
    async train(cfg, epochs): Promise<JobResult> {
      if (jobs.length + 1 >= failAt) throw new Error('killed');
      jobs.push(`${cfg.outDir}@${epochs}`);
      const curve = Array.from({ length: epochs }, (_, e) => ({ epoch: e, trainLoss: 1 / (e + 1), value: planted(cfg, e + 1) }));
      return { epochsDone: epochs, value: curve[epochs - 1].value, stoppedEarly: false, lowerIsBetter: false, curve, warnings: [] };
    },
    async test(cfg) {
      tests.push(cfg.outDir);
      return { auc: planted(cfg, 9) - 0.01 };
    },
  };
  return { runner, jobs, tests };
}

test('rungs are minEpochs * eta^k below the budget, then the budget', () => {
  assert.deepEqual(rungEpochs(1, 3, 9), [1, 3, 9]);
  assert.deepEqual(rungEpochs(1, 3, 10), [1, 3, 9, 10]);
  assert.deepEqual(rungEpochs(2, 2, 8), [2, 4, 8]);
  assert.deepEqual(rungEpochs(5, 3, 5), [5], 'minEpochs at the budget: plain random search');
});

test('a trial draws the same values whatever ran before it; another sampler seed draws others', () => {
  const space = search(tmp()).space;
  assert.deepEqual(sampleTrial(space, 5, 7), sampleTrial(space, 5, 7));
  assert.notDeepEqual(sampleTrial(space, 5, 7), sampleTrial(space, 6, 7));
  assert.notDeepEqual(sampleTrial(space, 5, 7), sampleTrial(space, 5, 8));
});

test('the tuner finds the planted best configuration, and reads test once, for it alone', async () => {
  const dir = tmp();
  try {
    const { runner, tests } = fakeRunner();
    const out = await runSearch(search(dir), runner);
    assert.equal(out.best.values['optimizer.lr'], 1e-2);
    assert.equal(out.best.values.batchSize, 512);
    const drawn = out.state.trials.filter((t) => t.values['optimizer.lr'] === 1e-2 && t.values.batchSize === 512);
    const closest = Math.min(...drawn.map((t) => Math.abs((t.values['model.config.dropout'] as number) - 0.2)));
    assert.equal(Math.abs((out.best.values['model.config.dropout'] as number) - 0.2), closest, 'the drawn dropout nearest the planted 0.2');
    assert.equal(out.best.epochsDone, 9, 'the best trial was promoted to the full budget');
    assert.deepEqual(tests, [out.bestConfig.outDir]);
    assert.equal(out.bestConfig.optimizer.lr, 1e-2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trial 0 is the base config: the search keeps it when no draw validates better, and draws the same trials beside it', async () => {
  const [a, b] = [tmp(), tmp()];
  try {
    // every drawn learning rate is the planted bad one; the base config (the model's own lr) is not
    const space = { 'optimizer.lr': { choice: [1e-4] }, 'model.config.dropout': { uniform: [0, 0.5] } };
    const withBase = search(a, { trials: 9, space });
    const withTests = fakeRunner();
    const out = await runSearch(withBase, withTests.runner);
    assert.equal(out.best.id, 0);
    assert.equal(out.best.baseline, true);
    assert.deepEqual(out.best.values, {});
    assert.equal(out.bestConfig.optimizer.lr, undefined, 'the best config sets no learning rate: the model default');
    assert.deepEqual(withTests.tests, [out.bestConfig.outDir]);
    for (const t of out.state.trials.slice(1)) assert.deepEqual(t.values, sampleTrial(withBase.space, withBase.seed, t.id));
    const { writeResults } = await import('../src/train/tune/results.js');
    writeResults(withBase, out, 'prerank tune --config planted.json');
    assert.match(readFileSync(join(a, 'results.md'), 'utf8'), /\| 0 \| base \| base \| 0\.\d{5} \| 9 \| base config; full budget \|/);
    assert.match(readFileSync(join(a, 'report.html'), 'utf8'), /<td>0<\/td><td>base<\/td><td>base<\/td>/);

    const without = await runSearch(search(b, { trials: 9, space, baseline: false }), fakeRunner().runner);
    assert.equal(without.best.values['optimizer.lr'], 1e-4, 'without the baseline every trial is a draw');
    assert.ok(without.state.trials.every((t) => !t.baseline));
    assert.deepEqual(without.state.trials.slice(1).map((t) => t.values), out.state.trials.slice(1).map((t) => t.values));
    // a state recorded before the setting existed (no baseline key) resumes as a search with baseline: false
    const recorded = JSON.parse(readFileSync(join(b, 'tune.json'), 'utf8'));
    assert.ok(!('baseline' in recorded.search) && JSON.parse(readFileSync(join(a, 'tune.json'), 'utf8')).search.baseline === true);
  } finally {
    for (const d of [a, b]) rmSync(d, { recursive: true, force: true });
  }
});

test('successive halving stops the planted bad trials at the first rung and promotes only the best third', async () => {
  const dir = tmp();
  try {
    const { runner, jobs } = fakeRunner();
    const out = await runSearch(search(dir), runner);
    const bad = out.state.trials.filter((t) => t.values['optimizer.lr'] === 1e-4);
    assert.ok(bad.length >= 3, `the seed draws several bad trials (${bad.length})`);
    for (const t of bad) {
      assert.equal(t.epochsDone, 1, `bad trial ${t.id} trained only the first rung`);
      assert.deepEqual(Object.keys(t.rungs), ['0']);
    }
    const reached = (k: number) => out.state.trials.filter((t) => t.rungs[k] !== undefined).length;
    // asynchronous halving: a trial is promoted while it is in the best third of the results so far, so a rung may
    // take a few more than a third of the one below (never most of it)
    assert.equal(reached(0), 27);
    assert.ok(reached(1) >= 9 && reached(1) <= 13, `rung 1: ${reached(1)} trials`);
    assert.ok(reached(2) >= 3 && reached(2) <= reached(1) / 2, `rung 2: ${reached(2)} trials`);
    assert.equal(jobs.length, reached(0) + reached(1) + reached(2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a killed search resumes without redoing finished trials or rungs, and ends as an uninterrupted one', async () => {
  const [a, b] = [tmp(), tmp()];
  try {
    const whole = fakeRunner();
    const uninterrupted = await runSearch(search(a), whole.runner);
    const killed = fakeRunner(20);
    await assert.rejects(runSearch(search(b), killed.runner), /killed/);
    const state = JSON.parse(readFileSync(join(b, 'tune.json'), 'utf8'));
    const recorded = state.trials.reduce((n: number, t: { rungs: object }) => n + Object.keys(t.rungs).length, 0);
    assert.equal(recorded, killed.jobs.length, 'every finished job is on disk');
    await assert.rejects(runSearch(search(b), fakeRunner().runner), /holds a search already: continue it with --resume/);
    await assert.rejects(runSearch(search(b, { seed: 6 }), fakeRunner().runner, { resume: true }), /written by a different search/);
    const rest = fakeRunner();
    const resumed = await runSearch(search(b), rest.runner, { resume: true });
    const doneBefore = new Set(killed.jobs.map((j) => j.replace(b, '')));
    for (const j of rest.jobs) assert.ok(!doneBefore.has(j.replace(b, '')), `${j} was done before the kill`);
    assert.deepEqual([...killed.jobs, ...rest.jobs].map((j) => j.replace(b, '')), whole.jobs.map((j) => j.replace(a, '')));
    assert.equal(resumed.best.id, uninterrupted.best.id);
    assert.deepEqual(resumed.test, uninterrupted.test);
    const again = fakeRunner();
    await runSearch(search(b), again.runner, { resume: true });
    assert.deepEqual([again.jobs, again.tests], [[], []], 'a finished search trains nothing and does not read test again');
    const wider = fakeRunner();
    const widened = await runSearch({ ...search(b), trials: 30 }, wider.runner, { resume: true });
    assert.equal(widened.state.trials.length, 30, 'more trials on resume widen the search');
    const before = new Set([...killed.jobs, ...rest.jobs]);
    assert.ok(wider.jobs.length >= 3 && wider.jobs.every((j) => !before.has(j)), 'only new trials and new promotions train');
  } finally {
    for (const d of [a, b]) rmSync(d, { recursive: true, force: true });
  }
});

test('a combination of values the train config rejects fails that trial alone; the search goes on', async () => {
  const dir = tmp();
  try {
    // temperature is a DSSM key, LR has none: each value passes alone, lr + temperature does not
    const cfg = search(dir, { trials: 6, space: { 'model.kind': { choice: ['dssm', 'lr'] }, 'model.config.temperature': { choice: [0.1, 0.2] } } });
    const out = await runSearch(cfg, fakeRunner().runner);
    const failed = out.state.trials.filter((t) => t.values['model.kind'] === 'lr');
    assert.ok(failed.length > 0 && failed.length < 6, `${failed.length} lr trials`);
    for (const t of failed) assert.match(t.error ?? '', /train\.model\.config\.temperature: unknown key/);
    assert.equal(out.bestConfig.model.kind, 'dssm');
    assert.match(readFileSync(join(dir, 'trials.jsonl'), 'utf8'), /"event":"failed"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad search configs name the key and what was expected', () => {
  const bad = (space: Record<string, unknown>, extra: Record<string, unknown> = {}) => () => search(tmp(), { space, ...extra });
  assert.throws(bad({ 'optimizer.lrr': { log: [1e-4, 1e-2] } }), /tune\.space\.optimizer\.lrr = 0\.0001: train\.optimizer\.lrr: unknown key 'lrr'; did you mean 'lr'\?/);
  assert.throws(bad({ 'optimizer.lr': { log: [0, 1e-2] } }), /tune\.space\.optimizer\.lr\.log: log: a log range needs low > 0/);
  assert.throws(bad({ batchSize: { choice: [256, 0.5] } }), /tune\.space\.batchSize = 0\.5: train\.batchSize: .*int/i);
  assert.throws(bad({ 'model.config.dropout': { uniform: [0, 1.5] } }), /tune\.space\.model\.config\.dropout = 1\.5: train\.model\.config\.dropout: /);
  assert.throws(bad({ 'model.config.dropout': { uniform: [0.5, 0.1] } }), /tune\.space\.model\.config\.dropout\.uniform: uniform: \[low, high\] with low <= high/);
  assert.throws(bad({ epochs: { int: [1, 9] } }), /tune\.space\.epochs: not a tunable key \(epochs is the budget/);
  assert.throws(bad({ 'batchSize.x': { choice: [1] } }), /tune\.space\.batchSize\.x: 'batchSize\.x': 'batchSize' holds 2048, not an object|tune\.space\.batchSize\.x/);
  assert.throws(bad({}), /tune\.space: at least one dimension/);
  assert.throws(bad({ batchSize: { choice: [1], uniform: [0, 1] } }), /tune\.space\.batchSize\.uniform: unknown key 'uniform'/);
  assert.throws(bad({ batchSize: { choice: [256] } }, { base: { model: { kind: 'dssm' } } }), /tune\.base\.data: /);
  assert.throws(bad({ batchSize: { choice: [256] } }, { trials: 0 }), /tune\.trials: /);
});

test('prerank tune end to end: real trials in worker processes, the planted learning rate wins, the best config trains', async () => {
  const dir = tmp();
  try {
    const { writeSyntheticLog } = await import('../src/data/index.js');
    const { loadTrainConfig } = await import('../src/train/run.js');
    const { loadExperiment } = await import('../src/train/experiment.js');
    const { processRunner } = await import('../src/train/tune/process-runner.js');
    const { writeResults } = await import('../src/train/tune/results.js');
    writeFileSync(join(dir, 'data.json'), JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 150, items: 40, interactionsPerUser: 30 })));
    const cfg = parseTuneConfig({
      name: 'tiny', outDir: join(dir, 'search'), trials: 4, seed: 3, parallel: 2, asha: { minEpochs: 1, eta: 2 },
      base: { model: { kind: 'lr' }, data: { config: 'data.json' }, epochs: 4, batchSize: 64, evalBatchSize: 512 },
      // lr 1e-7 cannot move the weights in 4 epochs: the planted bad value
      space: { 'optimizer.lr': { choice: [1e-7, 3e-2] }, 'model.config.l2Embedding': { log: [1e-7, 1e-4] } },
    }, dir);
    const said: string[] = [];
    const out = await runSearch(cfg, processRunner(cfg.parallel), { log: (l) => said.push(l) });
    writeResults(cfg, out, 'prerank tune --config tiny.json');
    assert.ok(out.state.trials.some((t) => t.values['optimizer.lr'] === 1e-7), 'the seed draws the bad learning rate');
    assert.equal(out.best.values['optimizer.lr'], 3e-2);
    assert.ok(out.test.auc > 0.5 && out.test.logloss > 0, JSON.stringify(out.test));
    for (const t of out.state.trials) {
      assert.ok(existsSync(join(dir, 'search', 'trials', `trial-00${t.id}`, 'best', 'manifest.json')));
      const top = Math.max(...Object.keys(t.rungs).map(Number));
      if (!t.stoppedEarly) assert.equal(t.epochsDone, out.rungs[top], `trial ${t.id} trained exactly to its rung`);
      assert.equal(t.curve.length, t.epochsDone);
    }
    const events = readFileSync(join(dir, 'search', 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(events.filter((e) => e.event === 'test').length, 1);
    assert.equal(events.filter((e) => e.event === 'result').length, Object.values(out.state.trials).reduce((n, t) => n + Object.keys(t.rungs).length, 0));
    const best = loadTrainConfig(join(dir, 'search', 'best-train.json'));
    assert.equal(best.optimizer.lr, 3e-2);
    assert.equal((best.model.config as { l2Embedding: number }).l2Embedding, out.best.values['model.config.l2Embedding']);
    const exp = loadExperiment(join(dir, 'search', 'best-experiment.json'));
    assert.deepEqual([exp.models[0].kind, exp.models[0].config, (exp.train.optimizer as { lr: number }).lr], ['lr', best.model.config, 3e-2]);
    const md = readFileSync(join(dir, 'search', 'results.md'), 'utf8');
    assert.match(md, new RegExp(`Best: trial ${out.best.id}; test auc 0\\.\\d{5}`));
    assert.match(md, /\| trial \| optimizer\.lr \| model\.config\.l2Embedding \| val auc \| epochs \| status \|/);
    const html = readFileSync(join(dir, 'search', 'report.html'), 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 3, 'one chart per searched key, and the curves');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a search killed with SIGKILL continues with --resume: recorded results are kept, the rest trains', async () => {
  const dir = tmp();
  try {
    const { spawn, spawnSync } = await import('node:child_process');
    const { writeSyntheticLog } = await import('../src/data/index.js');
    const main = new URL('../src/cli/main.js', import.meta.url).pathname;
    writeFileSync(join(dir, 'data.json'), JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 60, items: 40, interactionsPerUser: 20 })));
    writeFileSync(join(dir, 'search.json'), JSON.stringify({
      name: 'killed', outDir: join(dir, 'search'), trials: 6, seed: 2, parallel: 2, asha: { minEpochs: 1, eta: 2 },
      base: { model: { kind: 'lr' }, data: { config: 'data.json' }, epochs: 2, batchSize: 16, evalBatchSize: 512 },
      space: { 'optimizer.lr': { log: [1e-4, 1e-1] } },
    }));
    const events = () => {
      try {
        return readFileSync(join(dir, 'search', 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      } catch {
        return [];
      }
    };
    const child = spawn(process.execPath, [main, 'tune', '--config', join(dir, 'search.json')], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    while (events().filter((e) => e.event === 'result').length < 2) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await exited;
    const before = events();
    const done = new Set(before.filter((e) => e.event === 'result').map((e) => `${e.trial}@${e.rung}`));
    assert.ok(!before.some((e) => e.event === 'test'), 'killed before the end');
    const r = spawnSync(process.execPath, [main, 'tune', '--config', join(dir, 'search.json'), '--resume'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const after = events().slice(before.length);
    const started = after.filter((e) => e.event === 'start').map((e) => `${e.trial}@${e.rung}`);
    for (const j of done) assert.ok(!started.includes(j), `${j} finished before the kill and was not trained again`);
    const state = JSON.parse(readFileSync(join(dir, 'search', 'tune.json'), 'utf8'));
    assert.equal(state.trials.length, 6);
    assert.ok(state.trials.every((t: { rungs: object }) => '0' in t.rungs), 'every trial reached the first rung');
    assert.equal(events().filter((e) => e.event === 'test').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
