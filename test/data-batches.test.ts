import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { FeatureEncoders } from '../src/data/encoders.js';
import { syntheticConfig } from '../src/data/synthetic.js';
import { OOV_ID } from '../src/data/vocabulary.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-batches-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ds = await Dataset.load(syntheticConfig(dir, { users: 50, items: 70, interactionsPerUser: 25 }));

function csv(name: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(join(dir, name), 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

test('an epoch visits every row of the split once; order depends only on (seed, epoch)', () => {
  const s = ds.batches('train', { batchSize: 64 });
  const seen = (e: number) => {
    const out: number[] = [];
    for (const b of s.epoch(e)) out.push(...b.rows);
    return out;
  };
  const e0 = seen(0), e1 = seen(1);
  assert.equal(e0.length, ds.splits.train.length);
  assert.deepEqual([...e0].sort((a, b) => a - b), [...ds.splits.train]);
  assert.notDeepEqual(e0, e1);
  assert.deepEqual(seen(0), e0);
  assert.deepEqual(ds.batches('train', { batchSize: 64 }).epoch(1).next().value!.rows.slice(), Int32Array.from(e1.slice(0, 64)));
  const plain = ds.batches('val', { batchSize: 10, shuffle: false });
  const inOrder: number[] = [];
  for (const b of plain.epoch(3)) inOrder.push(...b.rows);
  assert.deepEqual(inOrder, [...ds.splits.val]);
});

test('batches reuse their buffers; the tail is a view; dropLast', () => {
  const s = ds.batches('train', { batchSize: 100 });
  const seen = new Set<Int32Array>();
  const sizes: number[] = [];
  for (const b of s.epoch(0)) {
    sizes.push(b.size);
    if (b.size === 100) seen.add(b.sparse.user_id);
    else assert.equal(b.sparse.user_id.buffer, [...seen][0].buffer, 'the tail views the same buffer');
  }
  assert.equal(seen.size, 1, 'one buffer for every full batch');
  const n = ds.splits.train.length;
  assert.deepEqual(sizes, [...Array(Math.floor(n / 100)).fill(100), ...(n % 100 ? [n % 100] : [])]);
  assert.equal(s.batchesPerEpoch, sizes.length);
  const d = ds.batches('train', { batchSize: 100, dropLast: true });
  assert.equal([...d.epoch(0)].length, Math.floor(n / 100));
});

test('batch layout: every feature of FeatureInfo, sequences [B, L] padded with 0', () => {
  const b = ds.batches('train', { batchSize: 32 }).epoch(0).next().value!;
  for (const f of ds.features) {
    if (f.kind === 'sparse') assert.equal(b.sparse[f.name].length, 32);
    if (f.kind === 'dense') assert.equal(b.dense[f.name].length, 32);
    if (f.kind === 'sequence') {
      const s = b.sequence[f.name];
      assert.equal(s.ids.length, 32 * f.maxLen!);
      for (let i = 0; i < 32; i++) {
        for (let j = 0; j < f.maxLen!; j++) assert.equal(s.ids[i * f.maxLen! + j] === 0, j >= s.lengths[i]);
      }
    }
  }
  const hist = ds.features.find((f) => f.name === 'user_hist')!;
  const item = ds.features.find((f) => f.name === 'item_id')!;
  assert.deepEqual([hist.table, hist.vocabSize, hist.derived], ['item_id', item.vocabSize, 'history']);
  assert.equal(item.dim, 8);
  assert.ok(ds.features.every((f) => f.kind === 'dense' || f.vocabSize >= 3));
});

test('bulk encoding equals encodeRow on the raw row (the serving path), also after a JSON round trip', () => {
  const users = new Map(csv('users.csv').map((u) => [u.user_id, u]));
  const items = new Map(csv('items.csv').map((i) => [i.item_id, i]));
  const events = csv('events.csv');
  const restored = FeatureEncoders.fromJSON(JSON.parse(JSON.stringify(ds.encoders)));
  const b = ds.batches('test', { batchSize: 50, shuffle: false }).epoch(0).next().value!;
  for (let i = 0; i < b.size; i++) {
    const ev = events[b.rows[i]];
    const raw = { ...ev, ...users.get(ev.user_id), ...items.get(ev.item_id) };
    for (const enc of [ds.encoders, restored]) {
      const row = enc.encodeRow(raw);
      for (const [k, v] of Object.entries(row.sparse)) assert.equal(v, b.sparse[k][i], k);
      for (const [k, v] of Object.entries(row.dense)) assert.ok(Math.abs(v - b.dense[k][i]) < 1e-5, k);
      const g = b.sequence.genres;
      assert.deepEqual([...row.sequence.genres], [...g.ids.subarray(i * g.maxLen, i * g.maxLen + g.lengths[i])]);
    }
  }
});

test('serving: unknown ids map to OOV and are counted per feature', () => {
  const enc = FeatureEncoders.fromJSON(JSON.parse(JSON.stringify(ds.encoders)));
  const known = ds.userKeys[ds.rowUser[ds.splits.train[0]]];
  enc.encodeRow({ user_id: known, gender: 'F', device: 'ios' }, ['user', 'context']);
  const row = enc.encodeRow({ user_id: 'stranger', gender: 'X', device: 'fridge' }, ['user', 'context']);
  assert.deepEqual([row.sparse.user_id, row.sparse.gender, row.sparse.device], [OOV_ID, OOV_ID, OOV_ID]);
  assert.equal(row.sparse.item_id, undefined);
  assert.deepEqual(enc.oov.user_id, { lookups: 2, oov: 1 });
  assert.deepEqual(enc.oov.device, { lookups: 2, oov: 1 });
  assert.equal(row.sequence.user_hist.length, 0);
  const item = enc.encodeRow({ item_id: 'i3', genres: ['comedy', 'never-seen'] }, ['item']);
  assert.equal(item.sequence.genres[1], OOV_ID);
  assert.equal(enc.vocabulary('genres').oov, 1);
});

test('a full epoch over the whole synthetic set stays allocation-light and fast', () => {
  const s = ds.batches(Int32Array.from({ length: ds.size }, (_, i) => i), { batchSize: 256 });
  const t0 = performance.now();
  let rows = 0;
  for (let e = 0; e < 5; e++) for (const b of s.epoch(e)) rows += b.size;
  assert.equal(rows, 5 * ds.size);
  assert.ok(performance.now() - t0 < 2000);
});
