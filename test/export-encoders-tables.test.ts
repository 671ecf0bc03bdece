// Bundles from an out-of-core dataset: encoders.bin and encoders.json written from the cache's arrays equal, byte for
// byte, those written from the JSON form of the same encoders, whatever the entity keys (array indices, which
// JavaScript objects list before other keys, and other text) and whichever derived feature comes first; a whole
// exported bundle is the same file by file. String tables: the native slot fill and the TypeScript one agree.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Rng } from '../src/core/index.js';
import { CachedDataset } from '../src/data/cached-dataset.js';
import { parseDataConfig, type DataConfig, type DataConfigInput } from '../src/data/spec.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';
import { exportBundle } from '../src/export/index.js';
import { writeEncodersBin } from '../src/export/encoders-bin.js';
import { writeEncodersBinFromTables } from '../src/export/encoders-bin-tables.js';
import { buildStringTable } from '../src/export/string-table.js';
import { TINY_CONFIGS } from '../src/models/registry.js';
import { buildModel } from '../src/train/build.js';
import { parseTrainConfig } from '../src/train/config.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-enc-tables-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Users keyed by array indices ('21'), by text ('u1') and by numbers that are not indices ('02'); items alike. */
const userKey = (u: number): string => (u % 3 === 0 ? String(u * 7) : u % 3 === 1 ? `u${u}` : `0${u}`);
const itemKey = (i: number): string => (i % 2 === 0 ? String(i * 3) : `i${i}`);

const base = writeSyntheticLog(join(dir, 'log'), { users: 150, items: 70, interactionsPerUser: 20 });
for (const f of ['users.csv', 'items.csv', 'events.csv']) {
  const path = join(dir, 'log', f);
  const text = readFileSync(path, 'utf8').replace(/\bu(\d+)\b/g, (_, u) => userKey(Number(u))).replace(/\bi(\d+)\b/g, (_, i) => itemKey(Number(i)));
  writeFileSync(path, text);
}

function config(name: string, edit: (c: DataConfigInput) => void = () => {}): DataConfig {
  const c = structuredClone(base);
  c.split = { method: 'temporal', val: 0.1, test: 0.2 };
  c.cache = { dir: join(dir, `cache-${name}`), chunkRows: 1024 };
  edit(c);
  return parseDataConfig(c);
}

/** History first (its users then come in property order), a mean statistic, rare items left out of the vocabulary. */
const historyFirst = (): DataConfig => config('history-first', (c) => {
  (c.features.find((f) => f.name === 'item_id') as { minFreq?: number }).minFreq = 30;
  c.derived = [{ kind: 'history', name: 'hist', shareWith: 'item_id', maxLen: 3 },
    { kind: 'stat', name: 'user_ctr', source: 'user', stat: 'meanLabel', prior: 1 },
    { kind: 'stat', name: 'item_rating', source: 'item', stat: 'mean', column: 'rating' }];
});

const isIndex = (k: string): boolean => /^(0|[1-9]\d*)$/.test(k);

for (const [name, cfg] of [['the synthetic config', () => config('base')], ['history first, a vocabulary with OOV items', historyFirst]] as const) {
  test(`binary encoders written from the cache's arrays are byte-identical to those written from the JSON form (${name})`, async () => {
    const ds = await CachedDataset.open(cfg());
    const fromJson = writeEncodersBin(ds.encoders, join(dir, `${name}-json.bin`), 'encoders.bin');
    const fromTables = writeEncodersBinFromTables(ds.encoderTables(), join(dir, `${name}-tables.bin`), 'encoders.bin');
    assert.equal(JSON.stringify(fromTables), JSON.stringify(fromJson));
    assert.ok(readFileSync(join(dir, `${name}-tables.bin`)).equals(readFileSync(join(dir, `${name}-json.bin`))), 'encoders.bin differs');
    assert.ok(fromJson.entities.user!.count > 100 && Object.keys(fromJson.histories).length === 1);
  });
}

test('a history listed first orders its users as the JSON form does: array-index keys first, by value', async () => {
  const ds = await CachedDataset.open(historyFirst());
  const listed = Object.keys(ds.encoders.toJSON().history.hist);
  const firstText = listed.findIndex((k) => !isIndex(k));
  assert.ok(firstText > 0 && listed.slice(firstText).every((k) => !isIndex(k)), 'index keys come first');
  assert.notDeepEqual(listed, ds.userKeys.filter((k) => listed.includes(k)), 'the property order differs from entity order');
});

/** Every file under a bundle directory, by relative path; the manifest without its creation time. */
function bundleFiles(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    let bytes = readFileSync(path);
    if (e.name === 'manifest.json' && e.parentPath === root) bytes = Buffer.from(bytes.toString('utf8').replace(/"createdAt": "[^"]*"/, ''));
    out.set(relative(root, path), bytes);
  }
  return out;
}

test('a bundle exported from a cached dataset equals, file by file, the one written through the JSON form of its encoders', async () => {
  const ds = await CachedDataset.open(historyFirst());
  const train = parseTrainConfig({ model: { kind: 'dssm', config: TINY_CONFIGS.dssm }, data: { config: 'unused.json' }, seed: 3 });
  const model = buildModel(train, ds, new Rng(3));
  const viaJson = new Proxy(ds, { get: (t, k) => (k === 'encoderTables' ? undefined : Reflect.get(t, k, t)) });
  await exportBundle({ model, dataset: ds, config: train.model }, join(dir, 'b-tables'), { annIndex: false });
  await exportBundle({ model, dataset: viaJson, config: train.model }, join(dir, 'b-json'), { annIndex: false });
  const a = bundleFiles(join(dir, 'b-tables')), b = bundleFiles(join(dir, 'b-json'));
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  assert.ok(a.has('encoders.bin') && a.has('items/reps.bin'));
  for (const [f, bytes] of a) assert.ok(bytes.equals(b.get(f)!), `${f} differs`);
});

test('the native slot fill and the TypeScript one build the same table and refuse a repeated key by its two positions', () => {
  const keys = ['a', '', 'é', '日本', '\ud83d\ude00', ...Array.from({ length: 70_000 }, (_, i) => String(i * 7919 % 1_000_003)), 'x'.repeat(300)];
  const native = buildStringTable(keys, 'keys');
  const plain = buildStringTable(keys, 'keys', { native: false });
  assert.deepEqual(native.desc, plain.desc);
  assert.ok(Buffer.from(native.bytes).equals(Buffer.from(plain.bytes)));
  const twice = [...keys.slice(0, 40_000), keys[123], ...keys.slice(40_000)];
  for (const o of [{ native: true }, { native: false }]) {
    assert.throws(() => buildStringTable(twice, 'keys', o), /keys: key "\d+" occurs twice \(positions 123 and 40000\)/);
  }
  assert.throws(() => buildStringTable(['a', 'b\ud800'], 'lone'), /lone: key 1 .* not well-formed/);
  assert.throws(() => buildStringTable(['a', 7 as unknown as string], 'typed'), /typed: key 1 is a number, not a string/);
});
