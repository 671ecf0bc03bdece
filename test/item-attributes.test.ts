// Item attributes read from the items file for the explorer page: the values per key, and the size check that runs in
// DuckDB before any row reaches JS (a catalogue of millions of items would not fit in the heap as strings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadDataConfig, readItemAttributes, writeSyntheticLog } from '../src/data/index.js';
import { writeFileSync } from 'node:fs';
import { tempDir } from './serve-fixture.js';

async function config() {
  const dir = join(tempDir('attrs'), 'data');
  const input = writeSyntheticLog(dir, { users: 30, items: 50, interactionsPerUser: 10 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(input));
  return loadDataConfig(join(dir, 'config.json'));
}

test('readItemAttributes gives each asked key its items-file values', async () => {
  const cfg = await config();
  const a = await readItemAttributes(cfg, ['i1', 'i2', 'nope'], { maxBytes: 1 << 20 });
  assert.ok(a && !('skipped' in a));
  assert.deepEqual(a.columns, ['category', 'genres', 'price']);
  assert.deepEqual([...a.values.keys()], ['i1', 'i2']);
});

test('attributes larger than maxBytes are not read: the answer says how large they would be', async () => {
  const cfg = await config();
  const keys = Array.from({ length: 50 }, (_, i) => `i${i}`);
  const a = await readItemAttributes(cfg, keys, { maxBytes: 200 });
  assert.ok(a && 'skipped' in a, 'skipped');
  assert.match(a.skipped, /^item attributes of 50 items would take about \d+ bytes of JSON, more than 200: not written$/);
  // the estimate scales with the keys asked for: a few keys fit
  const few = await readItemAttributes(cfg, keys.slice(0, 2), { maxBytes: 200 });
  assert.ok(few && !('skipped' in few));
  assert.equal(few.values.size, 2);
});
