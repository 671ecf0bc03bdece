// The data split's seed as a protocol axis: another split seed is another split, every statistic is refitted on
// that split's train rows alone, a run remembers its split, and experiment tables give the spread over both seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset, writeSyntheticLog } from '../src/data/index.js';
import { ExperimentSchema, runExperiment } from '../src/train/experiment.js';
import { loadData, loadTrainConfig } from '../src/train/run.js';

function syntheticData(dir: string, opts = { users: 40, items: 200, interactionsPerUser: 10 }): string {
  const path = join(dir, 'data.json');
  writeFileSync(path, JSON.stringify(writeSyntheticLog(join(dir, 'data'), opts)));
  return path;
}

/** Train rows per item key, counted from the split itself. */
function trainItemRows(d: Dataset): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of d.splits.train) {
    const key = d.itemKeys[d.rowItem[r]];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

test('another split seed splits the rows differently, and every vocabulary and statistic follows its train rows only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-split-'));
  try {
    const config = syntheticData(dir);
    const [a, b] = await Promise.all([1, 2].map((s) => loadData({ data: { config }, splitSeed: s }) as Promise<Dataset>));
    assert.notDeepEqual([...a.splits.train], [...b.splits.train]);
    assert.equal(a.splits.train.length, b.splits.train.length, 'the same fractions');
    const again = (await loadData({ data: { config }, splitSeed: 1 })) as Dataset;
    assert.deepEqual([...again.splits.test], [...a.splits.test], 'a split seed is reproducible');
    for (const d of [a, b]) {
      const counts = trainItemRows(d);
      const enc = d.encoders.toJSON();
      assert.deepEqual(new Set(enc.vocabularies.item_id.tokens), new Set(counts.keys()), 'item ids known = items of this split\'s train rows');
      const stat = enc.stats.item_count as { keys: string[]; values: number[] };
      assert.deepEqual(Object.fromEntries(stat.keys.map((k, i) => [k, stat.values[i]])), Object.fromEntries(counts), 'item_count over this split\'s train rows');
    }
    assert.notDeepEqual(new Set(a.encoders.toJSON().vocabularies.item_id.tokens), new Set(b.encoders.toJSON().vocabularies.item_id.tokens));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an experiment with splitSeeds runs every model seed on every split, reports the ± over both and the gap\'s sd over splits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-split-exp-'));
  try {
    const config = syntheticData(dir, { users: 80, items: 50, interactionsPerUser: 20 });
    const exp = ExperimentSchema.parse({
      name: 'splits', data: { config }, seeds: [1, 2], splitSeeds: [11, 12], gaps: [['dssm', 'lr']], base: 'lr', outDir: join(dir, 'out'),
      models: [{ kind: 'lr' }, { kind: 'dssm', config: { tower: [16, 8] }, train: { batchSize: 32 } }], train: { batchSize: 64, epochs: 1, evalBatchSize: 512 },
    });
    const runs = await runExperiment(exp, 'test command', () => {});
    assert.deepEqual(runs.map((r) => `${r.label}/${r.splitSeed}/${r.seed}`),
      ['lr/11/1', 'lr/11/2', 'lr/12/1', 'lr/12/2', 'dssm/11/1', 'dssm/11/2', 'dssm/12/1', 'dssm/12/2']);
    const run = loadTrainConfig(join(dir, 'out', 'runs', 'dssm-split12-seed1', 'config.json'));
    assert.equal(run.splitSeed, 12, 'a run remembers its split (export and eval rebuild the same one)');
    assert.deepEqual([run.batchSize, loadTrainConfig(join(dir, 'out', 'runs', 'lr-split12-seed1', 'config.json')).batchSize], [32, 64], 'an entry\'s own train settings');
    const md = readFileSync(join(dir, 'out', 'results.md'), 'utf8');
    assert.match(md, /Split seeds: 11, 12\./);
    assert.match(md, /mean ± sd over all 4 runs of an entry \(2 model seeds x 2 split seeds/);
    const auc = (label: string, s: number) => runs.filter((r) => r.label === label && r.splitSeed === s).reduce((t, r) => t + r.test.auc / 2, 0);
    const gaps = [11, 12].map((s) => auc('dssm', s) - auc('lr', s));
    const sd = Math.abs(gaps[0] - gaps[1]) / Math.SQRT2; // the sample sd of two values
    assert.ok(sd > 0);
    assert.ok(md.includes(`| dssm − lr | ${gaps[0].toFixed(4)} | ${gaps[1].toFixed(4)} | ${((gaps[0] + gaps[1]) / 2).toFixed(4)} | ${sd.toFixed(4)} |`), md);
    const said: string[] = [];
    await runExperiment(exp, 'test command', (l) => said.push(l), { resume: true });
    assert.equal(said.filter((l) => l.includes('not trained again')).length, 8, 'resume finds every (label, split, seed)');
    await assert.rejects(runExperiment({ ...exp, gaps: [['dssm', 'nope']] }, 'x', () => {}), /experiment gaps: no entry labelled nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
