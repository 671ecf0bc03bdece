// The one-epoch warning: a run whose validation metric peaks after the first epoch and falls at the second, with
// embedding tables of few training rows a value, names those tables once (stderr and run log).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticLog, type FeatureInfo } from '../src/data/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { buildModel, loadData } from '../src/train/run.js';
import { FEW_ROWS_A_VALUE, oneEpochWarning, sparseTables } from '../src/train/one-epoch.js';
import { Trainer } from '../src/train/trainer.js';

const FEATURES: FeatureInfo[] = [
  { name: 'user_id', kind: 'sparse', source: 'user', vocabSize: 200_002 },
  { name: 'gender', kind: 'sparse', source: 'user', vocabSize: 4 },
  { name: 'item_id', kind: 'sparse', source: 'item', vocabSize: 100_002 },
  { name: 'clicked_items', kind: 'sequence', source: 'user', table: 'item_id', vocabSize: 100_002, derived: 'history' },
  { name: 'price', kind: 'dense', source: 'item', vocabSize: 0 },
  { name: 'pad_only', kind: 'sparse', source: 'item', vocabSize: 2 },
];

test('sparseTables: tables under the rows-a-value threshold, fewest first, a shared table once, dense and empty ones skipped', () => {
  const t = sparseTables(FEATURES, 800_000);
  assert.deepEqual(t, [{ table: 'user_id', values: 200_000, rowsPerValue: 4 }, { table: 'item_id', values: 100_000, rowsPerValue: 8 }]);
  assert.deepEqual(sparseTables(FEATURES, FEW_ROWS_A_VALUE * 100_000).map((x) => x.table), ['user_id'], 'item_id at exactly the threshold is not named');
  assert.deepEqual(sparseTables(FEATURES, 1e9), []);
});

test('oneEpochWarning: only a peak at the first epoch, a fall of more than 0.01 at the second and tables to name', () => {
  const tables = sparseTables(FEATURES, 800_000);
  const w = oneEpochWarning('auc', [0.678, 0.616, 0.59], false, tables);
  assert.match(w!, /^validation auc was best after the first epoch and fell by more than 0\.01 at the second/);
  assert.match(w!, /user_id \(4\.0 training rows a value\), item_id \(8\.0 training rows a value\)/);
  assert.match(w!, /raise minFreq on those features .* or, keeping them, raise the learning rate/, 'both remedies are named');
  assert.equal(oneEpochWarning('auc', [0.678, 0.672, 0.66], false, tables), null, 'a fall of 0.006');
  assert.equal(oneEpochWarning('auc', [0.65, 0.63, 0.70], false, tables), null, 'best later');
  assert.equal(oneEpochWarning('auc', [0.678, 0.616], false, []), null, 'no table to name');
  assert.equal(oneEpochWarning('auc', [0.678], false, tables), null, 'one epoch');
  assert.ok(oneEpochWarning('logloss', [0.53, 0.6], true, tables), 'lower is better: a rise is the fall');
  assert.equal(oneEpochWarning('logloss', [0.6, 0.53], true, tables), null);
});

test('a run whose validation falls after the first epoch warns once, on stderr and in its log; a run that improves is silent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-one-epoch-'));
  try {
    const config = join(dir, 'data.json');
    writeFileSync(config, JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 40, items: 60, interactionsPerUser: 10 })));
    const data = await loadData({ data: { config } });
    const fit = async (aucs: number[], outDir: string) => {
      const cfg = parseTrainConfig({ model: { kind: 'lr' }, data: { config }, batchSize: 4, epochs: aucs.length, outDir: join(dir, outDir),
        earlyStopping: { metric: 'auc', patience: 10 } });
      const said: string[] = [];
      const trainer = new Trainer(buildModel(cfg, data), data, cfg, { quiet: true, warn: (l) => said.push(l) });
      // planted validation: the trainer's decision, not the model's learning, is under test
      const planted = [...aucs];
      trainer.run.objective.validate = () => ({ auc: planted.shift()!, gauc: NaN, logloss: NaN, accuracy: NaN, rows: 1 });
      await trainer.fit();
      const logged = readFileSync(join(dir, outDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'warning');
      return { said, logged };
    };
    const falls = await fit([0.7, 0.65, 0.6], 'falls');
    assert.equal(falls.said.length, 1);
    assert.match(falls.said[0], /user_id \(\d+\.\d training rows a value\)/);
    assert.deepEqual(falls.logged.map((e) => e.message), falls.said);
    assert.deepEqual(falls.logged[0].values, [0.7, 0.65], 'the log keeps the figures behind it');
    assert.deepEqual((await fit([0.6, 0.65, 0.7], 'improves')).said, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
