import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/random.js';
import { splitRows, type Splits } from '../src/data/split.js';

function data(users: number, perUser: number, seed = 3) {
  const rng = new Rng(seed);
  const n = users * perUser;
  const user = new Int32Array(n);
  const time = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    user[i] = rng.int(users);
    time[i] = rng.int(50);
  }
  return { rows: n, user, time };
}

function checkPartition(s: Splits, n: number): void {
  const seen = new Uint8Array(n);
  for (const part of [s.train, s.val, s.test]) {
    for (let k = 0; k < part.length; k++) {
      assert.equal(seen[part[k]], 0);
      seen[part[k]] = 1;
      if (k) assert.ok(part[k] > part[k - 1], 'sorted');
    }
  }
  assert.ok(seen.every((x) => x === 1));
}

test('random split: sizes, partition, seeded', () => {
  const d = data(30, 40);
  const s = splitRows(d, { method: 'random', val: 0.1, test: 0.2, seed: 1 });
  checkPartition(s, d.rows);
  assert.equal(s.test.length, Math.round(0.2 * d.rows));
  assert.equal(s.val.length, Math.round(0.1 * d.rows));
  assert.deepEqual(splitRows(d, { method: 'random', val: 0.1, test: 0.2, seed: 1 }), s);
  assert.notDeepEqual(splitRows(d, { method: 'random', val: 0.1, test: 0.2, seed: 2 }).test, s.test);
});

test('temporal split: per user, val and test come after train', () => {
  const d = data(20, 30);
  const s = splitRows(d, { method: 'temporal', val: 0.1, test: 0.2, seed: 1 });
  checkPartition(s, d.rows);
  for (let u = 0; u < 20; u++) {
    const of = (rows: Int32Array) => [...rows].filter((r) => d.user[r] === u).map((r) => d.time[r]);
    const [tr, va, te] = [of(s.train), of(s.val), of(s.test)];
    const n = tr.length + va.length + te.length;
    assert.equal(te.length, Math.min(Math.round(0.2 * n), n - 1));
    if (va.length) assert.ok(Math.max(...tr) <= Math.min(...va));
    if (te.length) assert.ok(Math.max(...tr, ...va) <= Math.min(...te));
  }
});

test('leave-last-out: the last event is test, the one before is val', () => {
  const user = Int32Array.from([0, 0, 0, 1, 1, 2, 0]);
  const time = Float64Array.from([5, 1, 9, 3, 2, 4, 7]);
  const s = splitRows({ rows: 7, user, time }, { method: 'leave-last-out', val: 0, test: 0, seed: 1 });
  assert.deepEqual([...s.test], [2, 3]);
  assert.deepEqual([...s.val], [6]);
  assert.deepEqual([...s.train], [0, 1, 4, 5]);
});

test('column split follows the fold column', () => {
  const fold = Int8Array.from([0, 2, 1, 0, 2]);
  const s = splitRows({ rows: 5, user: new Int32Array(5), fold }, { method: 'column', val: 0, test: 0, seed: 1 });
  assert.deepEqual([[...s.train], [...s.val], [...s.test]], [[0, 3], [2], [1, 4]]);
});
