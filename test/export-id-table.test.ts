// A bundle's ids as a binary id table (src/export/id-table.ts): every id -> row and row -> id, unknown and malformed
// ids, unicode, the empty table, damaged files refused by name; loading a bundle costs the same at 1k and 200k items;
// format /2 bundles (ids as JSON) still load and serve the same; deferred checks cover ids and weights.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Bundle, exportBundle } from '../src/export/index.js';
import { readIdTable, type Ids } from '../src/export/id-table.js';
import { writeIdTable } from '../src/export/id-table-write.js';
import { FILES, sha256, type BundleManifest } from '../src/export/manifest.js';
import { canMap, mapFile } from '../src/export/mapped-file.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { asJsonIds } from './helpers/json-ids.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
let bundleDir: string;

before(async () => {
  root = tempDir('ids');
  run = await tinyRun(root, 'dssm');
  bundleDir = join(root, 'b');
  await exportBundle(run.runDir, bundleDir, { annIndex: false });
});
after(() => rmSync(root, { recursive: true, force: true }));

/** The id table of `ids` written to a file and read back, from the heap and (where the addon can) mapped. */
async function roundTrip(ids: readonly string[], tag: string): Promise<Ids[]> {
  const path = join(root, `${tag}.bin`);
  await writeIdTable(path, ids, tag);
  const out = [readIdTable(new Uint8Array(readFileSync(path)), ids.length, tag)];
  if (canMap()) out.push(readIdTable(new Uint8Array(mapFile(path)), ids.length, tag));
  return out;
}

function assertSame(t: Ids, ids: readonly string[]): void {
  assert.equal(t.size, ids.length);
  ids.forEach((id, r) => {
    assert.equal(t.keyAt(r), id, `row ${r}`);
    assert.equal(t.indexOf(id), r, `id ${JSON.stringify(id)}`);
  });
}

test('an id table maps every id to its row and every row to its id, unicode ids included', async () => {
  const ids = ['a', '', 'i1', 'i10', 'é', 'ünïcödé', '日本語', '👍🏽', 'e\u0301', 'x'.repeat(3000), ...Array.from({ length: 2000 }, (_, i) => `item-${i}`)];
  for (const t of await roundTrip(ids, 'fixed')) assertSame(t, ids);
  let k = 0;
  await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 300 }), async (some) => {
    for (const t of await roundTrip(some, `prop-${k++}`)) assertSame(t, some);
  }), { numRuns: 40 });
});

test('unknown ids are not found: absent, prefixes and extensions, other case, a lone surrogate; rows outside the table throw', async () => {
  const ids = Array.from({ length: 500 }, (_, i) => `i${i}`);
  for (const t of await roundTrip(ids, 'unknown')) {
    for (const id of ['i500', 'i', 'i10x', 'I1', ' i1', 'i1 ', '\ud800', '']) assert.equal(t.indexOf(id), -1, JSON.stringify(id));
    assert.throws(() => t.keyAt(500), /key index 500 is outside 0\.\.499/);
    assert.throws(() => t.keyAt(-1), /outside/);
  }
});

test('the empty id table has no rows and finds nothing', async () => {
  for (const t of await roundTrip([], 'empty')) {
    assert.equal(t.size, 0);
    assert.equal(t.indexOf(''), -1);
    assert.equal(t.indexOf('a'), -1);
  }
});

test('writing refuses a duplicate id and an id with a lone surrogate, naming the file', async () => {
  await assert.rejects(writeIdTable(join(root, 'dup.bin'), ['a', 'b', 'a'], FILES.itemIds), /items\/ids\.bin: key "a" occurs twice \(positions 0 and 2\)/);
  await assert.rejects(writeIdTable(join(root, 'bad.bin'), ['a', 'b\ud800'], FILES.itemIds), /items\/ids\.bin: key 1 .* is not well-formed UTF-16/);
});

test('a damaged id file is refused naming it and what differs', async () => {
  const path = join(root, 'damaged.bin');
  await writeIdTable(path, ['a', 'b', 'c'], 'damaged');
  const good = readFileSync(path);
  const variant = (edit: (b: Buffer) => Buffer): Uint8Array => new Uint8Array(edit(Buffer.from(good)));
  assert.throws(() => readIdTable(variant((b) => b), 4, 'items/ids.bin'), /items\/ids\.bin: holds 3 ids, the manifest says 4/);
  assert.throws(() => readIdTable(variant((b) => (b.write('PRENCBIN', 0, 'latin1'), b)), 3, 'items/ids.bin'), /not an id table \(magic "PRENCBIN", expected PRIDSBIN\)/);
  assert.throws(() => readIdTable(variant((b) => (b.writeUInt32LE(3, 8), b)), 3, 'items/ids.bin'), /layout version 3; this prerank reads versions 1 and 2/);
  assert.throws(() => readIdTable(variant((b) => b.subarray(0, b.length - 8)), 3, 'items/ids.bin'), /bytes, expected \d+ for 3 ids/);
  assert.throws(() => readIdTable(variant((b) => b.subarray(0, 16)), 3, 'items/ids.bin'), /shorter than the 32-byte header/);
});

/** The tiny bundle with its item table replaced by n ids and n random rows (ids and table are not in the model hash). */
async function withItems(n: number): Promise<string> {
  const dir = join(root, `b-${n}`);
  cpSync(bundleDir, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  if (!m.items.cached) throw new Error('DSSM exported no item table');
  await writeIdTable(join(dir, FILES.itemIds), Array.from({ length: n }, (_, i) => `item-${i}`), FILES.itemIds);
  const reps = Buffer.alloc(n * m.items.dim * 4);
  writeFileSync(join(dir, FILES.itemReps), reps);
  m.items.count = n;
  m.files[FILES.itemIds] = sha256(readFileSync(join(dir, FILES.itemIds)));
  m.files[FILES.itemReps] = sha256(reps);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

test('loading a bundle costs the same at 1k and 200k items (ids and table read in place)', { skip: canMap() ? false : 'the native addon is not loaded: nothing is mapped' }, async () => {
  const best = async (dir: string): Promise<number> => {
    let ms = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const b = await Bundle.load(dir, { verify: 'defer' });
      ms = Math.min(ms, performance.now() - t0);
      assert.equal(b.items!.ids.keyAt(b.items!.ids.size - 1), `item-${b.items!.ids.size - 1}`);
      b.dispose();
    }
    return ms;
  };
  const small = await best(await withItems(1000));
  const large = await best(await withItems(200_000));
  // loose: parsing 200k ids from JSON into an array and a Map takes tens of ms; opening the id table is constant
  assert.ok(large < 5 + 2 * small, `200k items: ${large.toFixed(2)} ms, 1k items: ${small.toFixed(2)} ms`);
});

test('a format /2 bundle (ids as JSON) still loads and serves the same scores as its format /3 export', async () => {
  const dir = join(root, 'b-v2');
  cpSync(bundleDir, dir, { recursive: true });
  asJsonIds(dir);
  const v2 = await Bundle.load(dir);
  assert.equal(v2.manifest.format, 'prerank-bundle/2');
  const v3 = await Bundle.load(bundleDir);
  const candidates = [...run.data.itemKeys, 'not-an-item'];
  const scores = async (b: Bundle) => createScorer(b, { store: new MemoryItemStore(b.items!) }).scoreAll({ user: run.users.get('u7')!, candidates });
  const [a, b] = [await scores(v2), await scores(v3)];
  assert.deepEqual(a.items, b.items);
  assert.deepEqual(a.unknown, ['not-an-item']);
  assert.equal(a.items.length, run.data.itemKeys.length);
});

test('a deferred check finds a changed id table or weights file; a load that verifies refuses them at once', { skip: canMap() ? false : 'nothing is mapped' }, async () => {
  for (const rel of [FILES.itemIds, FILES.weightsBin]) {
    const dir = join(root, `t-${rel.replace('/', '-')}`);
    cpSync(bundleDir, dir, { recursive: true });
    const bytes = readFileSync(join(dir, rel));
    bytes[bytes.length - 1] ^= 0x40;
    writeFileSync(join(dir, rel), bytes);
    const re = new RegExp(`${rel.replace(/[/.]/g, '\\$&')} does not match the manifest`);
    await assert.rejects(Bundle.load(dir), re);
    await assert.rejects(Bundle.load(dir, { map: false }), re);
    const b = await Bundle.load(dir, { verify: 'defer' });
    assert.equal(b.verifyPending, true);
    await assert.rejects(b.verifyDeferred(), re);
  }
});
