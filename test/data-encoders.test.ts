import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a, OOV_ID, PAD_ID, Vocabulary } from '../src/data/vocabulary.js';
import { Scaler } from '../src/data/scaler.js';

const counts = (o: Record<string, number>) => new Map(Object.entries(o));

test('vocabulary: reserved ids, frequency order, stable ties, OOV', () => {
  const v = Vocabulary.fit(counts({ b: 3, a: 3, c: 5, d: 1 }));
  assert.equal(PAD_ID, 0);
  assert.equal(OOV_ID, 1);
  assert.deepEqual(v.tokens, ['c', 'a', 'b', 'd']);
  assert.equal(v.size, 6);
  assert.equal(v.peek('c'), 2);
  assert.equal(v.peek('a'), 3);
  assert.equal(v.peek('zzz'), OOV_ID);
  assert.equal(v.peek(null), OOV_ID);
  assert.equal(v.peek(''), OOV_ID);
  assert.equal(v.token(2), 'c');
  assert.equal(v.token(1), undefined);
});

test('vocabulary: numbers and their text are the same value', () => {
  const v = Vocabulary.fit(counts({ '25': 2, '7': 1 }));
  assert.equal(v.peek(25), v.peek('25'));
  assert.equal(v.peek(7n), v.peek('7'));
  assert.equal(v.peek(NaN), OOV_ID);
});

test('vocabulary: minFreq and maxSize caps', () => {
  const c = counts({ a: 10, b: 5, c: 2, d: 1 });
  assert.deepEqual(Vocabulary.fit(c, { minFreq: 2 }).tokens, ['a', 'b', 'c']);
  assert.deepEqual(Vocabulary.fit(c, { maxSize: 2 }).tokens, ['a', 'b']);
  assert.deepEqual(Vocabulary.fit(c, { minFreq: 3, maxSize: 5 }).tokens, ['a', 'b']);
  assert.equal(Vocabulary.fit(c, { minFreq: 3 }).peek('c'), OOV_ID);
});

test('vocabulary: hashing maps the tail into buckets deterministically', () => {
  const pure = Vocabulary.fit(counts({ a: 10, b: 1 }), { hashBuckets: 16 });
  assert.equal(pure.tokens.length, 0);
  assert.equal(pure.size, 18);
  assert.equal(pure.peek('anything'), 2 + (fnv1a('anything') % 16));
  assert.equal(pure.peek('never-seen'), pure.peek('never-seen'));
  assert.equal(pure.peek(null), OOV_ID);
  const mixed = Vocabulary.fit(counts({ a: 10, b: 1 }), { maxSize: 1, hashBuckets: 4 });
  assert.equal(mixed.peek('a'), 2);
  const h = mixed.peek('b');
  assert.ok(h >= 3 && h < 7);
  assert.equal(mixed.size, 7);
  assert.equal(fnv1a(''), 0x811c9dc5);
  assert.equal(fnv1a('a'), 0xe40c292c);
});

test('vocabulary: JSON round trip and serving-time OOV counting', () => {
  const v = Vocabulary.fit(counts({ x: 2, y: 1 }), { maxSize: 5, hashBuckets: 3 });
  const w = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
  for (const k of ['x', 'y', 'q', 'r', '']) assert.equal(w.peek(k), v.peek(k));
  const plain = Vocabulary.fit(counts({ x: 2 }));
  plain.id('x');
  plain.id('nope');
  plain.id(undefined);
  assert.deepEqual([plain.lookups, plain.oov], [3, 2]);
  plain.peek('nope');
  assert.equal(plain.oov, 2);
  plain.resetCounts();
  assert.deepEqual([plain.lookups, plain.oov], [0, 0]);
});

test('scalers: minmax, standard, log1p, none, NaN fill', () => {
  const x = [1, 2, 3, NaN, 5];
  const mm = Scaler.fit('minmax', x);
  assert.equal(mm.fill, 11 / 4);
  assert.equal(mm.transform(1), 0);
  assert.equal(mm.transform(5), 1);
  assert.equal(mm.transform(NaN), (11 / 4 - 1) / 4);
  assert.equal(mm.transform(null), mm.transform(NaN));
  const st = Scaler.fit('standard', [1, 2, 3, 4], undefined, 'zero');
  const mean = 2.5, sd = Math.sqrt(1.25);
  assert.ok(Math.abs(st.transform(4) - (4 - mean) / sd) < 1e-12);
  assert.ok(Math.abs(st.transform(Infinity) - (0 - mean) / sd) < 1e-12);
  const lg = Scaler.fit('log1p', [0, 10], undefined, 7);
  assert.equal(lg.transform(10), Math.log1p(10));
  assert.equal(lg.transform(-3), -Math.log1p(3));
  assert.equal(lg.transform(NaN), Math.log1p(7));
  assert.equal(Scaler.fit('none', [1, NaN]).transform(NaN), 1);
  assert.equal(Scaler.fit('standard', [3, 3]).transform(3), 0);
  assert.equal(Scaler.fit('minmax', [3, 3]).transform(4), 1);
});

test('scalers: weights equal repeated values; JSON round trip', () => {
  const w = Scaler.fit('standard', [1, 5], [3, 1]);
  const r = Scaler.fit('standard', [1, 1, 1, 5]);
  assert.ok(Math.abs(w.shift - r.shift) < 1e-12 && Math.abs(w.scale - r.scale) < 1e-12);
  assert.equal(Scaler.fit('minmax', [1, 100, 5], [1, 0, 1]).transform(5), 1);
  const back = Scaler.fromJSON(JSON.parse(JSON.stringify(w)));
  assert.equal(back.transform(2.5), w.transform(2.5));
});
