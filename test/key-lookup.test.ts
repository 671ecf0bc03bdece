// Batch key lookups (KeyIndex.indexOfAll): over a string table in memory the native addon looks a whole batch up
// (native/key_lookup.cc); it must answer exactly as indexOf per key, whatever the keys, and refuse damaged tables and
// bad arguments by name. Without the addon the same answers come from indexOf.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { nativeAddon } from '../src/core/kernels/native.js';
import { ArrayKeyIndex, type KeyIndex } from '../src/data/index.js';
import { readIdTable } from '../src/export/id-table.js';
import { writeIdTable } from '../src/export/id-table-write.js';
import { canMap, mapFile } from '../src/export/mapped-file.js';
import { align8, fnv1aBytes } from '../src/export/string-table.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'prerank-keys-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

let files = 0;
/** The id table of `ids` in both layouts, each read from the heap and, where the addon can, mapped. */
async function tables(ids: readonly string[]): Promise<KeyIndex[]> {
  const out: KeyIndex[] = [];
  for (const layout of [1, 2] as const) {
    const path = join(root, `t${files++}.bin`);
    await writeIdTable(path, ids, 'ids.bin', layout);
    out.push(readIdTable(new Uint8Array(readFileSync(path)), ids.length, 'ids.bin'));
    if (canMap()) out.push(readIdTable(new Uint8Array(mapFile(path)), ids.length, 'ids.bin'));
  }
  return out;
}

/** Counts the addon's batch lookups while fn runs (0 when the addon is not loaded). */
function nativeCalls(fn: () => void): number {
  type Lookup = (...args: unknown[]) => void;
  const a = nativeAddon() as unknown as Record<'lookupKeys' | 'lookupInlineIds', Lookup | undefined> | null;
  if (!a) {
    fn();
    return 0;
  }
  let calls = 0;
  const real = { lookupKeys: a.lookupKeys, lookupInlineIds: a.lookupInlineIds };
  for (const name of ['lookupKeys', 'lookupInlineIds'] as const) {
    a[name] = (...args) => {
      calls++;
      return real[name]!(...args);
    };
  }
  try {
    fn();
  } finally {
    Object.assign(a, real);
  }
  return calls;
}

/** indexOfAll equals indexOf per key and the position in `ids` (-1 when absent), through the native lookup. */
function assertBatch(t: KeyIndex, ids: readonly string[], keys: readonly string[]): void {
  const where = new Map(ids.map((id, i) => [id, i]));
  let got: number[] = [];
  const calls = nativeCalls(() => (got = [...t.indexOfAll(keys)]));
  if (nativeAddon()) assert.equal(calls, 1, 'one native call per batch');
  const want = keys.map((k) => where.get(k) ?? -1);
  assert.deepEqual(got, want);
  assert.deepEqual(got, keys.map((k) => t.indexOf(k)));
}

// U+FFFD: what a lossy encoder makes of a lone surrogate, so '\ud800' must not find it
const UNICODE = ['\ufffd', 'a\ufffd', 'é', 'ünïcödé', '日本語', '👍🏽', 'e\u0301', '\u{10ffff}', '\u07ff', '\u0800', '\uffff', '\ue000'];

test('a batch lookup finds what indexOf finds: random, missing, duplicate, unicode and numeric ids', async () => {
  const ids = ['', 'a', ...UNICODE, 'x'.repeat(3000), ...Array.from({ length: 3000 }, (_, i) => String(i)),
    ...Array.from({ length: 2000 }, (_, i) => `item-${i}`)];
  const missing = ['3000', '-1', '01', '1.0', 'item-', 'item-2000', 'Item-1', ' 1', '1 ', 'e', '👍', 'x'.repeat(2999), '\u00e9\u0301'];
  const malformed = ['\ud800', '\udc00', 'a\ud800', 'a\ud83d', '\ud83da', '\udc4d\ud83d', '1\udfff'];
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const random = Array.from({ length: 1500 }, () => (rand(4) === 0 ? missing[rand(missing.length)] : ids[rand(ids.length)]));
  for (const t of await tables(ids)) {
    assertBatch(t, ids, random);
    assertBatch(t, ids, [...missing, ...malformed, ...UNICODE, '']);
    assertBatch(t, ids, ['7', '7', 'é', '7', '\ud800', '\ud800', 'nope', 'nope']);
    assertBatch(t, ids, []);
    assertBatch(t, ids, ['42']);
  }
  for (const t of await tables([])) assertBatch(t, [], ['', 'a', '\ud800']);
});

test('a batch lookup equals indexOf on any text, lone surrogates included', async () => {
  await fc.assert(fc.asyncProperty(
    fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 10 }), { maxLength: 200 }),
    fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 50 }),
    async (ids, others) => {
      const keys = [...others, ...ids.filter((_, i) => i % 3 === 0), ...others.slice(0, 5)];
      for (const t of await tables(ids)) assertBatch(t, ids, keys);
    }), { numRuns: 30 });
});

/** Two distinct ASCII keys with one FNV-1a 32 hash (found by search; the birthday bound makes one likely by ~100k). */
function collision(): [string, string] {
  const seen = new Map<number, string>();
  const b = Buffer.alloc(32);
  for (let i = 0; ; i++) {
    const k = `k${i}`;
    const h = fnv1aBytes(b, b.write(k, 0, 'latin1'));
    const other = seen.get(h);
    if (other !== undefined) return [other, k];
    seen.set(h, k);
  }
}

test('keys with the same hash are told apart by their bytes', async () => {
  const [a, b] = collision();
  const ids = [a, b, ...Array.from({ length: 100 }, (_, i) => `id${i}`)];
  for (const t of await tables(ids)) assertBatch(t, ids, [b, a, b, 'id5', a]);
  // only the first in the table: the second's probe meets a slot with its hash and other bytes, then an empty one
  for (const t of await tables([a, 'z'])) assertBatch(t, [a, 'z'], [b, a, b]);
  for (const t of await tables([b, 'z'])) assertBatch(t, [b, 'z'], [a, b]);
});

test('a damaged table and bad arguments are refused by name', async () => {
  const ids = Array.from({ length: 50 }, (_, i) => `i${i}`);
  const path = join(root, 'damaged.bin');
  await writeIdTable(path, ids, 'ids.bin', 1);
  const bytes = readFileSync(path);
  // point the slot holding i7 at a key past the end
  const slots = 32 + align8(4 * (ids.length + 1));
  const capacity = bytes.readUInt32LE(16);
  let s = fnv1aBytes(Buffer.from('i7'), 2) & (capacity - 1);
  while (bytes.readUInt32LE(slots + 8 * s + 4) !== 8) s = (s + 1) & (capacity - 1);
  bytes.writeUInt32LE(1000, slots + 8 * s + 4);
  writeFileSync(path, bytes);
  const t = readIdTable(new Uint8Array(readFileSync(path)), ids.length, 'items/ids.bin');
  assert.throws(() => t.indexOfAll(['i3', 'i7']), /items\/ids\.bin: corrupt table \(a slot names key 999 of 50\)/);
  assert.throws(() => t.indexOf('i7'), /items\/ids\.bin: corrupt table \(a slot names key 999 of 50\)/);
  assert.deepEqual([...t.indexOfAll(['i3', 'i8'])], [3, 8]);
  assert.throws(() => t.indexOfAll(['i1', 'i2'], new Int32Array(1)), /items\/ids\.bin: indexOfAll of 2 keys into an array of 1/);
  assert.throws(() => t.indexOfAll(['i1', 7 as unknown as string]), /items\/ids\.bin: key 1 is a number, not a string/);
});

test('the native lookup checks its arguments against the table it is given', { skip: !nativeAddon() }, () => {
  const look = (nativeAddon() as unknown as { lookupKeys: (...a: unknown[]) => void }).lookupKeys;
  const table = new Uint8Array(64);
  const out = new Int32Array(1);
  assert.throws(() => look(table, 0, 0, 8, 0, 'a', Int32Array.of(1), out, 't.bin'), /lookupKeys: t\.bin: the table needs 72 bytes, the buffer has 64/);
  assert.throws(() => look(new Uint8Array(200), 0, 0, 6, 0, 'a', Int32Array.of(1), out, 't.bin'), /slot count 6 is not a power of two/);
  assert.throws(() => look(new Uint8Array(200), 0, 0, 8, 0, 'ab', Int32Array.of(3), out, 't.bin'), /lengths\[0\] = 3 runs past the keys' 2 UTF-16 units/);
  assert.throws(() => look(new Uint8Array(200), 0, 0, 8, 0, 'ab', Int32Array.of(1), out, 't.bin'), /lengths add up to 1 UTF-16 units, the keys have 2/);
  assert.throws(() => look(new Uint8Array(200), 0, 0, 8, 0, 'ab', Int32Array.of(1, 1), out, 't.bin'), /argument out has 1 elements, needs 2/);
});

test('without the addon a batch lookup answers from indexOf', () => {
  const script = `
    import { readIdTable } from './dist/src/export/id-table.js';
    import { writeIdTable } from './dist/src/export/id-table-write.js';
    import { readFileSync } from 'node:fs';
    const ids = ['a', 'é', '👍🏽', ...Array.from({ length: 300 }, (_, i) => String(i)), 'a-longer-id-than-eleven-bytes'];
    const got = [];
    for (const layout of [1, 2]) {
      const path = process.argv[1] + layout;
      await writeIdTable(path, ids, 'ids.bin', layout);
      const t = readIdTable(new Uint8Array(readFileSync(path)), ids.length, 'ids.bin');
      got.push([...t.indexOfAll(['299', 'b', '👍🏽', '\\ud800', 'a', '299', 'a-longer-id-than-eleven-bytes', 'a-longer-id-than-eleven-byteS'])]);
    }
    console.log(JSON.stringify(got));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, join(root, 'plain.bin')],
    { env: { ...process.env, PRERANK_NATIVE_PATH: '/nonexistent/prerank_native.node' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /native addon unavailable/);
  const want = [302, -1, 2, -1, 0, 302, 303, -1];
  assert.deepEqual(JSON.parse(r.stdout), [want, want]);
});

test('an array key index answers a batch as indexOf does', () => {
  const k = new ArrayKeyIndex(['a', 'b', 'a2']);
  assert.deepEqual([...k.indexOfAll(['b', 'x', 'a2', 'b'])], [1, -1, 2, 1]);
  assert.throws(() => k.indexOfAll(['a', 'b'], new Int32Array(1)), /indexOfAll of 2 keys into an array of 1/);
});
