// subsetRaw (a RawData restricted to some rows, e.g. one time period) and history for rows outside the dataset.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { gatherHistory } from '../src/data/derived.js';
import { ingest } from '../src/data/ingest.js';
import { subsetRaw } from '../src/data/subset.js';
import { syntheticConfig } from '../src/data/synthetic.js';
import { OOV_ID } from '../src/data/vocabulary.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-subset-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('subsetRaw keeps entity ids, picks rows and labels, and a Dataset on it fits only on those rows', async () => {
  const cfg = syntheticConfig(dir, { users: 20, items: 200, interactionsPerUser: 6 });
  const raw = await ingest(cfg);
  const cut = [...raw.time!].sort((a, b) => a - b)[Math.floor(raw.rows / 2)];
  const rows = Int32Array.from({ length: raw.rows }, (_, r) => r).filter((r) => raw.time![r] < cut);
  const label = Float32Array.from(rows, (_, k) => k % 2);
  const sub = subsetRaw(raw, rows, label);
  assert.equal(sub.rows, rows.length);
  assert.ok(sub.rows > 0 && sub.rows < raw.rows);
  rows.forEach((r, k) => {
    assert.equal(sub.user[k], raw.user[r]);
    assert.equal(sub.item[k], raw.item[r]);
    assert.equal(sub.time![k], raw.time![r]);
    assert.equal(sub.label[k], k % 2);
    assert.equal((sub.rowColumns.get('device')!.values as string[])[k], (raw.rowColumns.get('device')!.values as string[])[r]);
  });
  assert.equal(sub.users, raw.users);
  assert.equal(sub.report.rowsDropped, raw.report.rowsDropped + raw.rows - rows.length);
  // an item whose every event is at or after the cut is OOV for a Dataset fitted on the subset
  const late = new Set<number>();
  for (let r = 0; r < raw.rows; r++) late.add(raw.item[r]);
  for (const r of rows) late.delete(raw.item[r]);
  const ds = Dataset.fromRaw({ ...cfg, split: { method: 'random', val: 0.1, test: 0.1 } }, sub);
  assert.ok(late.size > 0, 'the synthetic log should have items seen only late');
  for (const e of late) assert.equal(ds.encoders.vocabs.get('item_id')!.peek(raw.items.keys[e]), OOV_ID);
  assert.throws(() => subsetRaw(raw, Int32Array.from([3, 2])), /ascending/);
  assert.throws(() => subsetRaw(raw, Int32Array.from([1, 2]), new Float32Array(1)), /1 labels for 2 rows/);
});

test('gatherHistory: a row index below 0 reads all of the user\'s fitted positives, most recent maxLen', async () => {
  const h = { maxLen: 2, start: Int32Array.from([0, 3, 3]), ids: Int32Array.from([5, 6, 7]),
    end: Int32Array.from([1]), skip: Int32Array.from([-1]) };
  const out = new Int32Array(4).fill(-9);
  assert.equal(gatherHistory(h, -1, 0, out, 0), 2);
  assert.deepEqual([...out.subarray(0, 2)], [6, 7]);
  assert.equal(gatherHistory(h, 0, 0, out, 2), 1);
  assert.deepEqual([...out.subarray(2)], [5, 0]);
  assert.equal(gatherHistory(h, -1, 1, out, 0), 0);
  assert.deepEqual([...out.subarray(0, 2)], [0, 0]);
});
