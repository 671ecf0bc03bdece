// Id tables in layout 2 (ids of up to 11 bytes inline in their slot): every lookup answers as layout 1 and as a Map
// do, on random and adversarial ids; the file round-trips; a layout-1 file converts to the same bytes export writes;
// damaged files are refused by name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { nativeAddon } from '../src/core/kernels/native.js';
import type { KeyIndex } from '../src/data/index.js';
import { idTableBytes, readIdTable, upgradeIdTableBytes } from '../src/export/id-table.js';
import { writeIdTable } from '../src/export/id-table-write.js';
import { INLINE_HEADER } from '../src/export/inline-id-table.js';
import { canMap, mapFile } from '../src/export/mapped-file.js';
import { fnv1aBytes } from '../src/export/string-table.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'prerank-inline-ids-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

let files = 0;
/** Layout 1 and layout 2 of ids, each from the heap and (where the addon can) mapped. */
async function both(ids: readonly string[]): Promise<{ v1: KeyIndex[]; v2: KeyIndex[] }> {
  const out = { v1: [] as KeyIndex[], v2: [] as KeyIndex[] };
  for (const layout of [1, 2] as const) {
    const path = join(root, `t${files++}.bin`);
    await writeIdTable(path, ids, 'ids.bin', layout);
    const list = layout === 1 ? out.v1 : out.v2;
    list.push(readIdTable(new Uint8Array(readFileSync(path)), ids.length, 'ids.bin'));
    if (canMap()) list.push(readIdTable(new Uint8Array(mapFile(path)), ids.length, 'ids.bin'));
  }
  return out;
}

/** Layout 2 answers indexOfAll, indexOf and keyAt as layout 1 and a Map over ids do. */
async function assertSame(ids: readonly string[], keys: readonly string[]): Promise<void> {
  const where = new Map(ids.map((id, i) => [id, i]));
  const want = keys.map((k) => where.get(k) ?? -1);
  const { v1, v2 } = await both(ids);
  for (const t of [...v1, ...v2]) {
    assert.deepEqual([...t.indexOfAll(keys)], want);
    assert.deepEqual(keys.map((k) => t.indexOf(k)), want);
  }
  for (const t of v2) for (let r = 0; r < ids.length; r++) assert.equal(t.keyAt(r), ids[r]);
}

/** Text of exactly n UTF-8 bytes around the 11-byte inline limit, multi-byte characters included. */
const sized = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 0, maxLength: 16 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '日', '👍'), minLength: 2, maxLength: 8 }),
  fc.integer({ min: 9, max: 14 }).map((n) => 'x'.repeat(n)),
);

test('layout 2 finds what layout 1 finds: short, long and unicode ids, and missing and malformed keys', async () => {
  await fc.assert(fc.asyncProperty(
    fc.uniqueArray(sized, { maxLength: 150 }),
    fc.array(fc.oneof(sized, fc.string({ unit: 'binary', maxLength: 12 })), { maxLength: 40 }),
    async (ids, others) => {
      await assertSame(ids, [...others, ...ids.filter((_, i) => i % 2 === 0), ...others.slice(0, 3)]);
    }), { numRuns: 40 });
});

test('numeric ids: candidates sent as integers find their decimal text, and near-miss numerals find nothing', async () => {
  await fc.assert(fc.asyncProperty(
    fc.uniqueArray(fc.maxSafeInteger(), { minLength: 1, maxLength: 200 }),
    async (ints) => {
      const ids = ints.map(String);
      // the scorer turns integer candidates into strings with String(), as request bodies give them
      const near = ints.flatMap((n) => [`0${n}`, `${n}.0`, `+${n}`, `${n} `, String(n + 1)]);
      await assertSame(ids, [...ints.slice(0, 50).map(String), ...near.slice(0, 100), String(-0), '1e3']);
    }), { numRuns: 25 });
});

/** Two distinct keys of `len` ASCII bytes with one FNV-1a 32 hash (found by search; likely by ~100k keys). */
function collision(len: number): [string, string] {
  const seen = new Map<number, string>();
  const b = Buffer.alloc(64);
  for (let i = 0; ; i++) {
    const k = `${i}`.padStart(len, 'k');
    const h = fnv1aBytes(b, b.write(k, 0, 'latin1'));
    const other = seen.get(h);
    if (other !== undefined) return [other, k];
    seen.set(h, k);
  }
}

test('long ids with one hash are told apart by their bytes; short ids with one hash by their inline bytes', async () => {
  for (const len of [12, 8]) {
    const [a, b] = collision(len);
    const ids = [a, b, ...Array.from({ length: 100 }, (_, i) => `id-number-${i}-long`)];
    await assertSame(ids, [b, a, b, 'id-number-5-long', a, 'id-number-500-long']);
    await assertSame([a, 'z'], [b, a, b]);
    await assertSame([b, 'z'], [a, b]);
  }
  // the length byte tells an id from the same id with NULs after it (the inline bytes are zero-padded)
  await assertSame(['a', 'a\u0000', '\u0000', '', '\u0000\u0000'], ['a\u0000', '', '\u0000', 'a', 'a\u0000\u0000', '\u0000'.repeat(3)]);
});

test('the file round-trips, and a layout-1 file converts to the bytes export writes', async () => {
  const ids = ['', 'a', 'é', '👍🏽', 'x'.repeat(11), 'y'.repeat(12), 'z'.repeat(300), ...Array.from({ length: 500 }, (_, i) => String(i * 7919))];
  const v2 = idTableBytes(ids, 'ids.bin', 2);
  assert.equal(new DataView(v2.buffer).getUint32(8, true), 2);
  const t = readIdTable(v2, ids.length, 'ids.bin');
  assert.deepEqual(Array.from({ length: ids.length }, (_, r) => t.keyAt(r)), ids);
  assert.deepEqual(Buffer.from(upgradeIdTableBytes(idTableBytes(ids, 'ids.bin', 1), 'ids.bin')), Buffer.from(v2));
  assert.equal(upgradeIdTableBytes(v2, 'ids.bin'), v2, 'a layout-2 file is already current');
  assert.throws(() => idTableBytes(['ab', 'b', 'ab'], 'items/ids.bin', 2), /items\/ids\.bin: key "ab" occurs twice \(positions 0 and 2\)/);
  assert.throws(() => idTableBytes(['a-long-id-of-many-bytes', 'b', 'a-long-id-of-many-bytes'], 'items/ids.bin', 2), /occurs twice \(positions 0 and 2\)/);
  assert.throws(() => idTableBytes(['a', 'b\ud800'], 'items/ids.bin', 2), /items\/ids\.bin: key 1 .* is not well-formed UTF-16/);
});

/** The bytes of `ids` in layout 2 after edit. */
function damaged(ids: readonly string[], edit: (b: Buffer) => Buffer): Uint8Array {
  return new Uint8Array(edit(Buffer.from(idTableBytes(ids, 'ids.bin', 2))));
}

/** The byte offset of the slot holding id `id` of a layout-2 file. */
function slotOf(b: Buffer, id: string): number {
  const c = b.readUInt32LE(16);
  for (let s = fnv1aBytes(Buffer.from(id), Buffer.byteLength(id)) & (c - 1); ; s = (s + 1) & (c - 1)) {
    const at = INLINE_HEADER + 16 * s;
    const row = b.readUInt32LE(at) - 1;
    if (row >= 0 && b.subarray(at + 5, at + 5 + Buffer.byteLength(id)).toString() === id) return at;
    if (row >= 0 && b[at + 4] === 255) return at; // a long id: the only one in these tables
  }
}

test('a damaged layout-2 table is refused by name', () => {
  const ids = ['i1', 'i2', 'i3', 'an-id-longer-than-eleven'];
  const ok = (b: Buffer) => b;
  assert.throws(() => readIdTable(damaged(ids, ok), 5, 'items/ids.bin'), /items\/ids\.bin: holds 4 ids, the manifest says 5/);
  assert.throws(() => readIdTable(damaged(ids, (b) => (b.writeUInt32LE(3, 8), b)), 4, 'items/ids.bin'), /layout version 3; this prerank reads versions 1 and 2/);
  assert.throws(() => readIdTable(damaged(ids, (b) => b.subarray(0, b.length - 8)), 4, 'items/ids.bin'), /bytes, expected \d+ for 4 ids of \d+ bytes \(layout 2\)/);
  assert.throws(() => readIdTable(damaged(ids, (b) => (b.writeUInt32LE(12, 16), b)), 4, 'items/ids.bin'), /slot count 12 is not a power of two/);
  assert.throws(() => readIdTable(damaged(ids, (b) => (b[40] = 1, b)), 4, 'items/ids.bin'), /bytes 24-63 of a layout-2 header are not zero/);
  // a slot naming a row past the count; offsets running past the bytes of the ids
  const row = readIdTable(damaged(ids, (b) => (b.writeUInt32LE(1000, slotOf(b, 'i2')), b)), 4, 'items/ids.bin');
  assert.throws(() => row.indexOf('i2'), /items\/ids\.bin: corrupt table \(slot \d+ names row 999 of 4\)/);
  assert.throws(() => row.indexOfAll(['i1', 'i2']), /items\/ids\.bin: corrupt table \(slot \d+ names row 999 of 4\)/);
  assert.deepEqual([...row.indexOfAll(['i1', 'i3'])], [0, 2]);
  const offsets = INLINE_HEADER + 16 * 8;
  const span = readIdTable(damaged(ids, (b) => (b.writeUInt32LE(9999, offsets + 16), b)), 4, 'items/ids.bin');
  assert.throws(() => span.indexOf('an-id-longer-than-eleven'), /items\/ids\.bin: corrupt table \(id 3 spans bytes \d+\.\.9999 of \d+\)/);
  assert.throws(() => span.indexOfAll(['an-id-longer-than-eleven']), /items\/ids\.bin: corrupt table \(id 3 spans bytes \d+\.\.9999 of \d+\)/);
  assert.throws(() => span.keyAt(3), /corrupt table \(id 3 spans bytes/);
  assert.throws(() => upgradeIdTableBytes(damaged(ids, (b) => (b.write('PRENCBIN', 0, 'latin1'), b)), 'items/ids.bin'), /not an id table/);
});

test('the native inline lookup checks its arguments against the table it is given', { skip: !nativeAddon() }, () => {
  const look = (nativeAddon() as unknown as { lookupInlineIds: (...a: unknown[]) => void }).lookupInlineIds;
  const out = new Int32Array(1);
  assert.throws(() => look(new Uint8Array(64), 0, 8, 0, 'a', Int32Array.of(1), out, 't.bin'), /lookupInlineIds: t\.bin: the table needs 200 bytes, the buffer has 64/);
  assert.throws(() => look(new Uint8Array(400), 0, 6, 0, 'a', Int32Array.of(1), out, 't.bin'), /slot count 6 is not a power of two/);
  assert.throws(() => look(new Uint8Array(400), 0, 8, 0, 'ab', Int32Array.of(3), out, 't.bin'), /lengths\[0\] = 3 runs past the keys' 2 UTF-16 units/);
  assert.throws(() => look(new Uint8Array(400), 0, 8, 0, 'ab', Int32Array.of(1, 1), out, 't.bin'), /argument out has 1 elements, needs 2/);
  look(new Uint8Array(400), 0, 8, 0, 'a', Int32Array.of(1), out, 't.bin');
  assert.deepEqual([...out], [-1]);
});
