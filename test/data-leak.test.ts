// Nothing from the val or test rows may reach a vocabulary, a scaler or a derived feature. The authors' public
// IntTower pipeline leaks both ways (mean ratings computed on test, scaler refit on test); these tests would catch it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { OOV_ID } from '../src/data/vocabulary.js';
import { parseDataConfig, type DataConfigInput } from '../src/data/spec.js';
import { syntheticConfig } from '../src/data/synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-leak-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// u9 and i9 (and the 'astronaut', 'noir' and 'tv' values) occur only in test rows; i9's price is extreme.
const USERS = 'uid,job,age\nu1,cook,20\nu2,pilot,30\nu9,astronaut,99\n';
const ITEMS = 'iid,genres,price\ni1,drama|comedy,10\ni2,comedy,20\ni3,drama,30\ni9,noir,1000000\n';
const TRAIN_VAL = [
  'u1,i1,5,1,ios,train', 'u1,i2,1,3,web,train', 'u2,i1,1,2,ios,train', 'u2,i3,5,4,web,train',
  'u2,i2,5,5,ios,train', 'u1,i3,4,6,web,val',
];

function write(name: string, testRows: string[]): Dataset | Promise<Dataset> {
  const events = join(dir, `${name}.csv`);
  writeFileSync(events, ['user,item,rating,ts,device,fold', ...TRAIN_VAL, ...testRows].join('\n') + '\n');
  writeFileSync(join(dir, 'users.csv'), USERS);
  writeFileSync(join(dir, 'items.csv'), ITEMS);
  const cfg: DataConfigInput = {
    name,
    sources: { interactions: { path: events }, users: { path: join(dir, 'users.csv'), key: 'uid' },
      items: { path: join(dir, 'items.csv'), key: 'iid' } },
    keys: { user: 'user', item: 'item', time: 'ts' },
    label: { column: 'rating', rule: { op: '>', value: 3 } },
    features: [
      { kind: 'sparse', name: 'user', source: 'user' }, { kind: 'sparse', name: 'job', source: 'user' },
      { kind: 'dense', name: 'age', source: 'user', scaler: 'standard' },
      { kind: 'sparse', name: 'item', source: 'item' }, { kind: 'sequence', name: 'genres', source: 'item' },
      { kind: 'dense', name: 'price', source: 'item', scaler: 'minmax' }, { kind: 'sparse', name: 'device', source: 'context' },
    ],
    derived: [
      { kind: 'stat', name: 'user_rating', source: 'user', stat: 'mean', column: 'rating' },
      { kind: 'stat', name: 'user_ctr', source: 'user', stat: 'meanLabel', prior: 1 },
      { kind: 'stat', name: 'item_ctr', source: 'item', stat: 'meanLabel' },
      { kind: 'stat', name: 'item_count', source: 'item', stat: 'count' },
      { kind: 'history', name: 'hist', shareWith: 'item', maxLen: 4 },
    ],
    split: { method: 'column', column: 'fold' },
  };
  return Dataset.load(parseDataConfig(cfg));
}

const TEST_A = ['u9,i9,5,7,tv,test', 'u1,i9,5,8,tv,test', 'u1,i1,5,9,ios,test', 'u2,i2,5,10,tv,test'];
const TEST_B = ['u9,i9,1,7,web,test', 'u1,i9,1,8,ios,test', 'u1,i1,1,9,web,test', 'u2,i2,2,10,ios,test', 'u2,i3,1,11,tv,test'];

test('LEAK: test-only values map to OOV and do not move any scaler', async () => {
  const ds = await write('leak-a', TEST_A);
  const enc = ds.encoders;
  const row = enc.encodeRow({ user: 'u9', job: 'astronaut', age: 99, item: 'i9', genres: 'noir', price: 1e6, device: 'tv' });
  assert.deepEqual([row.sparse.user, row.sparse.job, row.sparse.item, row.sparse.device], [OOV_ID, OOV_ID, OOV_ID, OOV_ID]);
  assert.deepEqual([...row.sequence.genres], [OOV_ID]);
  const price = enc.toJSON().scalers.price;
  assert.deepEqual([price.shift, price.scale], [10, 1 / 20], 'minmax over train items i1..i3 only (i9 is 1e6)');
  const age = enc.toJSON().scalers.age;
  assert.ok(Math.abs(age.shift - (20 * 2 + 30 * 3) / 5) < 1e-12, 'age mean weighted by train rows, u9 absent');
  const testRows = ds.splits.test;
  for (const b of ds.batches(testRows, { batchSize: 8, shuffle: false }).epoch(0)) {
    for (let i = 0; i < b.size; i++) {
      if (ds.userKeys[b.user[i]] === 'u9') assert.equal(b.sparse.job[i], OOV_ID);
      if (ds.itemKeys[b.item[i]] === 'i9') assert.equal(b.sequence.genres.ids[i * b.sequence.genres.maxLen], OOV_ID);
    }
  }
});

test('LEAK: labels and values of val/test rows do not change any fitted encoder', async () => {
  const a = await write('leak-a', TEST_A);
  const b = await write('leak-b', TEST_B);
  assert.notDeepEqual([...a.label], [...b.label]);
  assert.deepEqual(a.encoders.toJSON(), { ...b.encoders.toJSON(), name: 'leak-a' });
  const ja = a.encoders.toJSON();
  const u1 = ja.stats.user_rating.keys.indexOf('u1');
  assert.equal(ja.stats.user_rating.values[u1], (5 + 1) / 2, 'u1 mean rating from its two train rows');
  assert.equal(ja.stats.user_rating.keys.includes('u9'), false);
  const global = 3 / 5;
  assert.equal(ja.stats.user_ctr.values[u1], (1 + global) / 3, 'prior pulls towards the train mean label');
  assert.equal(ja.stats.item_count.values[ja.stats.item_count.keys.indexOf('i1')], 2);
  const itemCtr = a.encoders.encodeRow({ item: 'i9' }, ['item']).dense.item_ctr;
  assert.equal(itemCtr, a.encoders.scalers.get('item_ctr')!.transform(global), 'unseen item falls back to train mean');
});

test('LEAK: history holds train positives strictly before the row, never the row itself', async () => {
  const ds = await write('leak-a', TEST_A);
  const hist = new Map<string, string[]>();
  for (const b of ds.batches(Int32Array.from({ length: ds.size }, (_, i) => i), { batchSize: 16, shuffle: false }).epoch(0)) {
    const s = b.sequence.hist;
    for (let i = 0; i < b.size; i++) {
      const ids = [...s.ids.subarray(i * s.maxLen, i * s.maxLen + s.lengths[i])];
      hist.set(`${ds.userKeys[b.user[i]]}@${ds.time![b.rows[i]]}`, ids.map((id) => ds.encoders.vocabulary('hist').token(id)!));
    }
  }
  assert.deepEqual(hist.get('u1@1'), [], 'nothing before the first event');
  assert.deepEqual(hist.get('u1@3'), ['i1']);
  assert.deepEqual(hist.get('u2@5'), ['i3'], 'u2@2 was negative, u2@4 positive');
  assert.deepEqual(hist.get('u1@6'), ['i1'], 'val row sees train only');
  assert.deepEqual(hist.get('u1@9'), ['i1'], 'test positives (u1@8) never enter a history');
  assert.deepEqual(hist.get('u2@10'), ['i3', 'i2']);
  assert.deepEqual(hist.get('u9@7'), []);
});

test('LEAK: on a random split every statistic equals its recomputation from train rows', async () => {
  const ds = await Dataset.load(syntheticConfig(join(dir, 'syn')));
  const j = ds.encoders.toJSON();
  const sum = new Map<string, number>();
  const cnt = new Map<string, number>();
  for (const r of ds.splits.train) {
    const u = ds.userKeys[ds.rowUser[r]];
    sum.set(u, (sum.get(u) ?? 0) + ds.label[r]);
    cnt.set(u, (cnt.get(u) ?? 0) + 1);
  }
  assert.deepEqual(new Set(j.stats.user_ctr.keys), new Set(cnt.keys()));
  j.stats.user_ctr.keys.forEach((u, k) => assert.ok(Math.abs(j.stats.user_ctr.values[k] - sum.get(u)! / cnt.get(u)!) < 1e-12));
  const trainItems = new Set([...ds.splits.train].map((r) => ds.itemKeys[ds.rowItem[r]]));
  assert.deepEqual(new Set(ds.encoders.vocabulary('item_id').tokens), trainItems);
});

test('LEAK: a non-causal history is every train positive of the user except the row itself', async () => {
  const { fitHistory, gatherHistory } = await import('../src/data/derived.js');
  const raw = { rows: 5, user: Int32Array.from([0, 0, 0, 0, 1]), item: Int32Array.from([0, 1, 2, 3, 0]),
    label: Float32Array.from([1, 1, 1, 0, 1]), users: { keys: ['a', 'b'] } } as unknown as Parameters<typeof fitHistory>[1];
  const train = Int32Array.from([0, 1, 3, 4]);
  const h = fitHistory({ kind: 'history', name: 'h', source: 'user', shareWith: 'item', maxLen: 3, pooling: 'mean' },
    raw, train, Int32Array.from([10, 11, 12, 13]), false);
  const out = new Int32Array(3);
  const seen = (r: number) => [...out.subarray(0, gatherHistory(h, r, raw.user[r], out, 0))];
  assert.deepEqual(seen(0), [11], 'own event left out');
  assert.deepEqual(seen(1), [10]);
  assert.deepEqual(seen(2), [10, 11], 'row 2 is test: its positive is in no history');
  assert.deepEqual(seen(3), [10, 11]);
  assert.deepEqual(seen(4), []);
});
