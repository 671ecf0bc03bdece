// A run whose epoch is too few optimizer steps says so once, on stderr and in its log, with a batch size that fixes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticLog } from '../src/data/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { buildModel, loadData } from '../src/train/run.js';
import { smallEpochWarning } from '../src/train/small-epoch.js';
import { Trainer } from '../src/train/trainer.js';

test('the small-epoch warning names the power-of-two batch size that gives at least 50 steps', () => {
  assert.equal(smallEpochWarning(6600, 2048), 'an epoch is 4 optimizer steps (6600 training rows at batchSize 2048), fewer than 50: '
    + 'set batchSize to 128 or less (52 steps an epoch) and re-tune the learning rate');
  assert.equal(smallEpochWarning(6600, 128), null);
  assert.equal(smallEpochWarning(50 * 2048, 2048), null, 'exactly 50 steps is enough');
  assert.match(smallEpochWarning(49 * 2048, 2048)!, /49 optimizer steps .* set batchSize to 1024 or less \(98 steps/);
  assert.match(smallEpochWarning(30, 8)!, /4 optimizer steps .* even at batchSize 1: this dataset is too small/);
});

test('a run with fewer than 50 steps an epoch warns once (stderr and run log), a resumed one does not repeat it, a run with enough steps is silent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-small-'));
  try {
    const config = join(dir, 'data.json');
    writeFileSync(config, JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 40, items: 60, interactionsPerUser: 10 })));
    const data = await loadData({ data: { config } });
    const rows = data.splitSize('train');
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
