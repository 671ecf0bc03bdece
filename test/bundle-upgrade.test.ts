// A copy of a bundle with its item ids in the current id-table layout (`prerank export --bundle <dir> --out <dir>`):
// the same ids in the same rows, the same scores, every other file hard-linked; old formats, damaged id files and
// a copy onto itself are refused by name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle, exportBundle } from '../src/export/index.js';
import { firstIds, readIdTable } from '../src/export/id-table.js';
import { writeIdTable } from '../src/export/id-table-write.js';
import { FILES, sha256, type BundleManifest } from '../src/export/manifest.js';
import { upgradeBundle } from '../src/export/upgrade-bundle.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { asJsonIds } from './helpers/json-ids.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
let layout1: string;

const layoutOf = (dir: string): number => readFileSync(join(dir, FILES.itemIds)).readUInt32LE(8);

/** The tiny bundle with items/ids.bin rewritten in layout 1 (as bundles were exported before layout 2). */
async function asLayout1(from: string, dir: string): Promise<void> {
  cpSync(from, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  const path = join(dir, FILES.itemIds);
  const ids = firstIds(readIdTable(new Uint8Array(readFileSync(path)), m.items.count, FILES.itemIds), Infinity);
  rmSync(path);
  await writeIdTable(path, ids, FILES.itemIds, 1);
  m.files[FILES.itemIds] = sha256(readFileSync(path));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

before(async () => {
  root = tempDir('upgrade');
  run = await tinyRun(root, 'dssm');
  await exportBundle(run.runDir, join(root, 'b'), { annIndex: false });
  layout1 = join(root, 'b1');
  await asLayout1(join(root, 'b'), layout1);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('export writes item ids in layout 2; a layout-1 bundle still loads and serves', async () => {
  assert.equal(layoutOf(join(root, 'b')), 2);
  assert.equal(layoutOf(layout1), 1);
  const b = await Bundle.load(layout1);
  assert.equal(b.items!.ids.keyAt(3), run.data.itemKeys[3]);
  b.dispose();
});

test('an upgraded copy holds the same ids in layout 2, serves the same scores and links the other files', async () => {
  const out = join(root, 'b2');
  const r = await upgradeBundle(layout1, out);
  assert.equal(r.fromLayout, 1);
  assert.equal(layoutOf(out), 2);
  assert.deepEqual(readFileSync(join(out, FILES.itemIds)), readFileSync(join(root, 'b', FILES.itemIds)), 'the bytes export writes');
  assert.equal(statSync(join(out, FILES.itemReps)).ino, statSync(join(layout1, FILES.itemReps)).ino, 'the item table is a hard link');
  assert.equal(r.linked + r.copied + 2, Object.keys(JSON.parse(readFileSync(join(layout1, 'manifest.json'), 'utf8')).files).length + 1);
  const [old, upgraded] = [await Bundle.load(layout1), await Bundle.load(out)];
  assert.equal(upgraded.manifest.modelVersion, old.manifest.modelVersion);
  const candidates = [...run.data.itemKeys, 'not-an-item'];
  const scores = async (b: Bundle) => createScorer(b, { store: new MemoryItemStore(b.items!) }).scoreAll({ user: run.users.get('u7')!, candidates });
  const [a, b] = [await scores(old), await scores(upgraded)];
  assert.deepEqual(b.items, a.items);
  assert.deepEqual(b.unknown, ['not-an-item']);
  // upgrading a current bundle gives the same bytes again
  assert.equal((await upgradeBundle(out, join(root, 'b3'))).fromLayout, 2);
  assert.deepEqual(readFileSync(join(root, 'b3', FILES.itemIds)), readFileSync(join(out, FILES.itemIds)));
});

test('upgrading refuses an old format, a damaged id file and a copy onto the bundle itself', async () => {
  const json = join(root, 'bj');
  cpSync(layout1, json, { recursive: true });
  asJsonIds(json);
  await assert.rejects(upgradeBundle(json, join(root, 'x1')), /format 'prerank-bundle\/2' keeps its ids as JSON; re-export the model/);
  const bad = join(root, 'bd');
  cpSync(layout1, bad, { recursive: true });
  const bytes = readFileSync(join(bad, FILES.itemIds));
  bytes[bytes.length - 9] ^= 1;
  writeFileSync(join(bad, FILES.itemIds), bytes);
  await assert.rejects(upgradeBundle(bad, join(root, 'x2')), /items\/ids\.bin does not match its sha256 in manifest\.json/);
  await assert.rejects(upgradeBundle(layout1, layout1), /needs another directory than the bundle itself/);
});

test('prerank export --bundle <dir> --out <dir> writes the upgraded copy', () => {
  const out = join(root, 'cli');
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'export', '--bundle', layout1, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /items\/ids\.bin layout 1 -> 2; \d+ files hard-linked, 0 copied/);
  assert.equal(layoutOf(out), 2);
});
