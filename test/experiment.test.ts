// The experiment runner end to end on a synthetic log: models x seeds -> Markdown table, JSON, HTML report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { writeSyntheticLog } from '../src/data/index.js';
import { ExperimentSchema, runExperiment } from '../src/train/experiment.js';

test('an experiment writes the mean +- std table with RelaImpr, every run in JSON, and an SVG report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-exp-'));
  try {
    const dataConfig = join(dir, 'data.json');
    writeFileSync(dataConfig, JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 80, items: 50, interactionsPerUser: 20 })));
    const exp = ExperimentSchema.parse({
      name: 'tiny', data: { config: dataConfig }, seeds: [1, 2], base: 'dssm', outDir: join(dir, 'out'),
      models: [{ kind: 'dssm', config: { tower: [16, 8] } }, { kind: 'int-tower', label: 'int-tower-small', config: { tower: [16, 8], headSize: 8 } }],
      train: { batchSize: 256, epochs: 2, evalBatchSize: 512 },
    });
    const runs = await runExperiment(exp, 'test command', () => {});
    assert.equal(runs.length, 4);
    const md = readFileSync(join(dir, 'out', 'results.md'), 'utf8');
    assert.match(md, /\| dssm \| 0\.\d{4} ± 0\.\d{4} \|/);
    assert.match(md, /\| int-tower-small \|.*\| -?\d+\.\d\d% \|/);
    assert.match(md, /\| dssm \|[^\n]*\| 0\.00% \|/, 'the base model has RelaImpr 0');
    assert.match(md, /Command: `test command`/);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8'));
    assert.equal(json.runs.length, 4);
    for (const r of json.runs) assert.ok(r.test.auc > 0 && r.latencyMs > 0 && r.curve.length >= 1);
    assert.ok(!isAbsolute(json.experiment.data.config), `results.json names no machine's folders: ${json.experiment.data.config}`);
    const html = readFileSync(join(dir, 'out', 'report.html'), 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 2);
    assert.match(html, /<polyline/);

    // --resume: an interrupted run (the last record missing) trains only what is missing; the kept records are the
    // recorded ones, and the new run equals the one it replaces (same seed, same data).
    const lost = json.runs.pop();
    writeFileSync(join(dir, 'out', 'results.json'), JSON.stringify(json));
    const said: string[] = [];
    const resumed = await runExperiment(exp, 'test command', (m) => said.push(m), { resume: true });
    assert.equal(said.filter((m) => m.includes('not trained again')).length, 3);
    assert.deepEqual(resumed.slice(0, 3), json.runs);
    assert.equal(resumed[3].test.auc, lost.test.auc);
    // the unrecorded run left its checkpoint and config.json: it continued from them instead of training anew
    const events = (run: string) => readFileSync(join(dir, 'out', 'runs', run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).event);
    assert.deepEqual(events('int-tower-small-seed2').filter((e) => e === 'resume'), ['resume']);
    // Every record keeps its model config with the defaults filled in; a run recorded under another default (here
    // one planted as IntTower's former Light-SE) is trained again on resume, a record without one is kept.
    const withConfigs = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8'));
    assert.equal(withConfigs.runs[2].modelConfig.lightSe, 'residual');
    assert.deepEqual(withConfigs.runs[2].modelConfig.tower, [16, 8]);
    withConfigs.runs[2].modelConfig.lightSe = 'paper';
    delete withConfigs.runs[3].modelConfig;
    writeFileSync(join(dir, 'out', 'results.json'), JSON.stringify(withConfigs));
    const staleSaid: string[] = [];
    const retrained = await runExperiment(exp, 'test command', (m) => staleSaid.push(m), { resume: true });
    assert.equal(staleSaid.filter((m) => m.includes('not trained again')).length, 3);
    assert.deepEqual(staleSaid.filter((m) => m.endsWith(', trained again')),
      ['  int-tower-small seed 1: recorded with another resolved model config (lightSe: "paper" -> "residual"), trained again']);
    assert.equal(retrained[2].test.auc, resumed[2].test.auc, 'the same run again');
    assert.ok(!events('int-tower-small-seed1').includes('resume'), 'a stale run trains from the start, not from its checkpoint');
    assert.equal((retrained[2].modelConfig as { lightSe: string }).lightSe, 'residual');
    // A changed config refuses to mix with the recorded numbers.
    const changed = { ...exp, train: { ...exp.train, epochs: 3 } };
    await assert.rejects(runExperiment(changed, 'test command', () => {}, { resume: true }), /--resume: .*different experiment config/);
    // The same data config in another checkout (another absolute path, same file) resumes.
    mkdirSync(join(dir, 'moved'));
    copyFileSync(dataConfig, join(dir, 'moved', basename(dataConfig)));
    const moved: string[] = [];
    await runExperiment({ ...exp, data: { config: join(dir, 'moved', basename(dataConfig)) } }, 'test command', (m) => moved.push(m), { resume: true });
    assert.equal(moved.filter((m) => m.includes('not trained again')).length, 4);
    // An entry changed or removed refuses too; an entry added (and a new title) resumes, training only the new one.
    const [dssm, small] = exp.models;
    await assert.rejects(runExperiment({ ...exp, models: [dssm, { ...small, config: { ...small.config, headSize: 4 } }] }, 'test command', () => {}, { resume: true }),
      /--resume: .* records entry 'int-tower-small' with another config \(.*"headSize":8.*; now .*"headSize":4/);
    await assert.rejects(runExperiment({ ...exp, models: [dssm] }, 'test command', () => {}, { resume: true }), /records entry 'int-tower-small', which this config no longer has/);
    const grownSaid: string[] = [];
    const grown = await runExperiment({ ...exp, name: 'tiny, and a wider DSSM', models: [...exp.models, { kind: 'dssm', label: 'dssm-wide', config: { tower: [32, 8] } }] },
      'test command', (m) => grownSaid.push(m), { resume: true });
    assert.equal(grownSaid.filter((m) => m.includes('not trained again')).length, 4);
    assert.deepEqual(grown.map((r) => `${r.label}/${r.seed}`), ['dssm/1', 'dssm/2', 'int-tower-small/1', 'int-tower-small/2', 'dssm-wide/1', 'dssm-wide/2']);
    assert.deepEqual(grown.slice(0, 4).map((r) => r.test.auc), retrained.map((r) => r.test.auc));

    // Shards (--only): two runners on one outDir, each with its own labels, leave one complete results.json whose
    // runs equal the unsharded ones.
    // (these also drop each run's checkpoints once it is recorded, which the first runs kept)
    const sharded = { ...exp, outDir: join(dir, 'shards'), keepCheckpoints: false };
    await Promise.all([
      runExperiment(sharded, 'test command', () => {}, { only: ['int-tower-small'] }),
      runExperiment(sharded, 'test command', () => {}, { only: ['dssm'] }),
    ]);
    const shardRuns = JSON.parse(readFileSync(join(dir, 'shards', 'results.json'), 'utf8')).runs;
    assert.deepEqual(shardRuns.map((r: { label: string; seed: number }) => `${r.label}/${r.seed}`), ['dssm/1', 'dssm/2', 'int-tower-small/1', 'int-tower-small/2']);
    assert.deepEqual(shardRuns.map((r: { test: { auc: number } }) => r.test.auc), resumed.map((r) => r.test.auc));
    await assert.rejects(runExperiment(sharded, 'test command', () => {}, { only: ['nope'] }), /--only: no entry labelled nope/);
    for (const d of ['best', 'last']) {
      assert.ok(existsSync(join(dir, 'out', 'runs', 'dssm-seed1', d)), `kept: ${d}`);
      assert.ok(!existsSync(join(dir, 'shards', 'runs', 'dssm-seed1', d)), `removed: ${d}`);
      assert.ok(existsSync(join(dir, 'shards', 'runs', 'dssm-seed1', 'summary.json')));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
