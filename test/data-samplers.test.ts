import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { ListwiseStream } from '../src/data/listwise.js';
import { accidentalHits, inBatchLogQ, PopularitySampler, UniformSampler } from '../src/data/samplers.js';
import { syntheticConfig } from '../src/data/synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-samplers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('popularity^alpha sampler draws in proportion, never an item without train rows', () => {
  const counts = [0, 10, 40, 0, 50];
  for (const alpha of [1, 0.5, 0]) {
    const s = new PopularitySampler(counts, alpha, { seed: 3 });
    const w = counts.map((c) => (c > 0 ? Math.pow(c, alpha) : 0));
    const z = w.reduce((a, b) => a + b, 0);
    const draws = s.sample([0], 1, 100_000);
    const freq = new Array(counts.length).fill(0);
    for (const d of draws) freq[d]++;
    counts.forEach((_, i) => {
      assert.ok(Math.abs(freq[i] / 1e5 - w[i] / z) < 0.01, `alpha ${alpha} item ${i}`);
      assert.ok(Math.abs(s.prob(i) - w[i] / z) < 1e-12);
    });
  }
  const u = new UniformSampler(counts, { seed: 1 });
  assert.equal(u.prob(2), 1 / 3);
  assert.deepEqual(new UniformSampler(counts, { seed: 9 }).sample([0, 0], 2, 5), new UniformSampler(counts, { seed: 9 }).sample([0, 0], 2, 5));
});

test('sampler exclusion avoids the user\'s own items', () => {
  const counts = Array.from({ length: 20 }, () => 1);
  const exclude = [Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]), new Int32Array(0)];
  const s = new UniformSampler(counts, { seed: 5, exclude, maxTries: 100 });
  const out = s.sample([0, 1], 2, 200);
  for (let j = 0; j < 200; j++) assert.ok(out[j] >= 17);
  assert.ok(out.subarray(200).some((x) => x < 17));
});

test('in-batch log-Q and accidental-hit masks', () => {
  const counts = [3, 1, 0, 6];
  const q = inBatchLogQ([0, 3, 2], 3, counts);
  const denom = 10 + 4;
  assert.deepEqual([...q].map((x) => +x.toFixed(6)), [4 / denom, 7 / denom, 1 / denom].map((x) => +Math.log(x).toFixed(6)));
  const mask = accidentalHits([0, 1, 2], [5, 7, 5], 3);
  assert.deepEqual([...mask], [0, 0, 1, 0, 0, 0, 1, 0, 0]);
  const withHistory = accidentalHits([0, 1, 2], [5, 7, 5], 3, [Int32Array.from([7]), new Int32Array(0), new Int32Array(0)]);
  assert.deepEqual([...withHistory], [0, 1, 1, 0, 0, 0, 1, 0, 0]);
});

test('negatives get their item features from the item table', async () => {
  const ds = await Dataset.load(syntheticConfig(join(dir, 'neg')));
  const s = new PopularitySampler(ds.trainItemCounts(), 0.75, { seed: 2, exclude: ds.trainUserItems() });
  const negs = s.sample([0, 1, 2], 3, 4);
  const b = ds.fillItems(ds.itemBatch(16), negs);
  assert.equal(b.size, 12);
  for (let i = 0; i < 12; i++) {
    assert.equal(b.sparse.item_id[i], ds.tables.item.sparse.get('item_id')![negs[i]]);
    assert.equal(b.dense.price[i], ds.tables.item.dense.get('price')![negs[i]]);
  }
  assert.equal(b.sparse.user_id, undefined);
});

test('listwise groups: one user per group, rows from the split, sampled top-up, masks', async () => {
  const ds = await Dataset.load(syntheticConfig(join(dir, 'list'), { users: 30, interactionsPerUser: 8 }));
  const sampler = new UniformSampler(ds.trainItemCounts(), { seed: 4 });
  for (const withSampler of [false, true]) {
    const L = 6, G = 4;
    const stream = new ListwiseStream(ds, 'train', { usersPerBatch: G, listSize: L, sampler: withSampler ? sampler : undefined });
    const users: number[] = [];
    const train = new Set(ds.splits.train);
    for (const b of stream.epoch(0)) {
      assert.equal(b.size, b.groups * L);
      for (let g = 0; g < b.groups; g++) {
        const u = b.user[g * L];
        users.push(u);
        const real = new Set<number>();
        for (let j = 0; j < L; j++) {
          const s = g * L + j;
          assert.equal(b.user[s], u);
          assert.equal(b.mask[s], withSampler || !b.sampled[s] ? (withSampler ? 1 : b.mask[s]) : 0);
          if (b.mask[s] && !b.sampled[s]) {
            assert.ok(train.has(b.rows[s]) && ds.rowUser[b.rows[s]] === u);
            assert.equal(b.label[s], ds.label[b.rows[s]]);
            assert.equal(real.has(b.rows[s]), false, 'no row twice in a list');
            real.add(b.rows[s]);
          } else {
            assert.equal(b.label[s], 0);
            if (b.sampled[s]) assert.equal(b.sparse.item_id[s], ds.tables.item.sparse.get('item_id')![b.item[s]]);
          }
        }
      }
    }
    assert.equal(new Set(users).size, users.length, 'each user once per epoch');
    assert.equal(users.length, stream.userCount);
  }
});
