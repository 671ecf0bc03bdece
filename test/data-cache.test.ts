// The out-of-core path: encoders fitted in DuckDB equal the JavaScript fit, the on-disk cache returns the in-memory
// encoding row for row, is reused or rebuilt as its key says, detects damage by checksum, and shuffles epochs that a
// resumed run reproduces.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CachedDataset } from '../src/data/cached-dataset.js';
import { Dataset } from '../src/data/dataset.js';
import { ingest } from '../src/data/ingest.js';
import { parseDataConfig, type DataConfig, type DataConfigInput } from '../src/data/spec.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';
import type { Batch } from '../src/data/batch.js';
import { buildStrategy, inMemory, loadData } from '../src/train/run.js';
import { parseExperiment } from '../src/train/experiment.js';
import { parseTrainConfig } from '../src/train/config.js';
import type { EpochStream, TrainingData } from '../src/data/training-data.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base = writeSyntheticLog(join(dir, 'log'), { users: 250, items: 90, interactionsPerUser: 25 });
// Events at the same second as another event of their user: a causal history leaves both out.
const firstEvents = readFileSync(base.sources.interactions.path, 'utf8').split('\n').slice(1, 200).filter((_, k) => k % 10 === 3);
appendFileSync(base.sources.interactions.path, firstEvents.map((l) => l.replace(/,i\d+,\d,/, ',i7,5,')).join('\n') + '\n');

function config(edit: (c: DataConfigInput) => void = () => {}): DataConfig {
  const c = structuredClone(base);
  c.split = { method: 'temporal', val: 0.1, test: 0.2 };
  c.cache = { dir: join(dir, 'cache'), chunkRows: 1024 };
  edit(c);
  return parseDataConfig(c);
}

/** A second config that reaches the other branches: leave-last-out, non-causal history, mean stat with a prior,
 * context dense, minFreq, maxSize, a shared vocabulary, numeric values used as categories, an item filter. */
const wide = (): DataConfig => config((c) => {
  c.split = { method: 'leave-last-out', val: 0, test: 0 };
  c.filter = { minItemInteractions: 62 };
  c.features.push({ kind: 'dense', name: 'ts_scaled', column: 'ts', source: 'context', scaler: 'standard' },
    { kind: 'sparse', name: 'rating_cat', column: 'rating', source: 'context', maxSize: 3 },
    { kind: 'sequence', name: 'genres2', column: 'genres', source: 'item', shareWith: 'genres', maxLen: 2 },
    { kind: 'dense', name: 'age_std', column: 'age', source: 'user', fillNaN: 'zero' });
  (c.features.find((f) => f.name === 'item_id') as { minFreq?: number }).minFreq = 3;
  c.derived = [{ kind: 'stat', name: 'item_rating', source: 'item', stat: 'mean', column: 'rating', prior: 2 },
    { kind: 'stat', name: 'user_ctr', source: 'user', stat: 'meanLabel', prior: 1 },
    { kind: 'history', name: 'hist', shareWith: 'item_id', maxLen: 4, causal: false }];
});

/** Every feature of every row of a split, keyed by row. */
function rowsOf(ds: TrainingData, stream: EpochStream): Map<number, string> {
  const out = new Map<number, string>();
  for (const b of stream.epoch(0)) {
    for (let i = 0; i < b.size; i++) out.set(b.rows[i], slot(b, i));
  }
  assert.equal(out.size, stream.rowCount, `${ds.name}: every row once`);
  return out;
}

function slot(b: Batch, i: number): string {
  const parts: unknown[] = [b.user[i], b.item[i], b.label[i]];
  for (const [k, v] of Object.entries(b.sparse)) parts.push(k, v[i]);
  for (const [k, v] of Object.entries(b.dense)) parts.push(k, v[i]);
  for (const [k, s] of Object.entries(b.sequence)) parts.push(k, [...s.ids.subarray(i * s.maxLen, (i + 1) * s.maxLen)], s.lengths[i]);
  return JSON.stringify(parts);
}

for (const [what, make] of [['temporal split, causal history', () => config()], ['leave-last-out, non-causal history, context dense', wide]] as const) {
  test(`encoders fitted in DuckDB equal the JavaScript fit (${what})`, async () => {
    const cfg = make();
    const cached = await CachedDataset.open(cfg);
    const mem = Dataset.fromRaw(cfg, await ingest(cfg));
    const a = cached.encoders.toJSON(), b = mem.encoders.toJSON();
    for (const [k, s] of Object.entries(b.scalers)) {
      for (const p of ['fill', 'shift', 'scale'] as const) assert.ok(Math.abs(a.scalers[k][p] - s[p]) <= 1e-12 * Math.max(1, Math.abs(s[p])), `scaler ${k}.${p}`);
    }
    assert.deepEqual({ ...a, scalers: {} }, { ...b, scalers: {} });
    assert.deepEqual(cached.features, mem.features);
    assert.deepEqual([...cached.itemKeys], mem.itemKeys);
    assert.deepEqual(cached.trainItemCounts(), mem.trainItemCounts());
  });

  test(`batches from the cache equal the in-memory encoding, row for row (${what})`, async () => {
    const cfg = make();
    const cached = await CachedDataset.open(cfg);
    const mem = Dataset.fromRaw(cfg, await ingest(cfg));
    for (const split of ['train', 'val', 'test'] as const) {
      assert.equal(cached.splitSize(split), mem.splitSize(split), split);
      const opts = { batchSize: 100, shuffle: false };
      assert.deepEqual(rowsOf(cached, cached.batches(split, opts)), rowsOf(mem, mem.batches(split, opts)), split);
      assert.ok(Math.abs(cached.labelRate(split) - mem.labelRate(split)) < 1e-6 || mem.splitSize(split) === 0);
    }
  });
}

test('the cache is reused when config and sources are unchanged and rebuilt when either changes', async () => {
  const first = await CachedDataset.open(config());
  const again = await CachedDataset.open(config());
  assert.equal(again.cache.reused, true);
  assert.equal(again.cache.dir, first.cache.dir);
  const edited = await CachedDataset.open(config((c) => void (c.seed = 8)));
  assert.equal(edited.cache.reused, false);
  assert.notEqual(edited.cache.key, first.cache.key);
  const events = base.sources.interactions.path;
  appendFileSync(events, 'u1,i1,5,9999999,web\n');
  try {
    const touched = await CachedDataset.open(config());
    assert.equal(touched.cache.reused, false);
    assert.equal(touched.size, first.size + 1);
  } finally {
    writeFileSync(events, readFileSync(events, 'utf8').replace('u1,i1,5,9999999,web\n', ''));
  }
});

test('a damaged cache file is caught by its checksum and the cache rebuilt', async () => {
  const cfg = config((c) => void (c.name = 'damaged'));
  const good = await CachedDataset.open(cfg);
  const want = rowsOf(good, good.batches('val', { batchSize: 64, shuffle: false }));
  const file = join(good.dir, 'rows', 'val.label.bin');
  const bytes = readFileSync(file);
  bytes[5] ^= 0x40;
  writeFileSync(file, bytes);
  const lines: string[] = [];
  const again = await CachedDataset.open(cfg, { log: (l) => lines.push(l) });
  assert.equal(again.cache.reused, false);
  assert.match(again.cache.rebuiltBecause ?? '', /val\.label\.bin: checksum/);
  assert.match(lines.join('\n'), /rebuilding/);
  assert.deepEqual(rowsOf(again, again.batches('val', { batchSize: 64, shuffle: false })), want);
});

test("opened with verify 'entities', a damaged row file is not read at open but refused at the first row read", async () => {
  const cfg = config((c) => void (c.name = 'damaged-rows'));
  const good = await CachedDataset.open(cfg);
  const file = join(good.dir, 'rows', 'train.label.bin');
  const bytes = readFileSync(file);
  bytes[9] ^= 0x40;
  writeFileSync(file, bytes);
  const ds = await CachedDataset.open(cfg, { verify: 'entities' });
  assert.equal(ds.cache.reused, true, 'the entity files are sound: reused, not rebuilt');
  assert.equal(ds.tables.item.size, good.tables.item.size);
  assert.throws(() => ds.batches('train', { batchSize: 64 }), /train\.label\.bin: checksum .* delete the folder/);
  assert.throws(() => ds.labelRate('train'), /train\.label\.bin: checksum/, 'still refused: the check runs until it passes');
  assert.equal(ds.labelRate('val'), good.labelRate('val'), 'another split is checked on its own and read');
  const entity = join(good.dir, readdirSync(good.dir).find((f) => f.startsWith('item.') && f.endsWith('.bin'))!);
  const e = readFileSync(entity);
  e[0] ^= 0x01;
  writeFileSync(entity, e);
  const rebuilt = await CachedDataset.open(cfg, { verify: 'entities' });
  assert.equal(rebuilt.cache.reused, false, 'a damaged entity file is caught at open');
  assert.equal(rebuilt.labelRate('train'), good.labelRate('train'));
});

test("a shuffled epoch visits every train row once, differs by epoch, and a resumed run reproduces epoch e's batches", async () => {
  const cfg = config();
  const ds = await CachedDataset.open(cfg);
  assert.ok(ds.splitSize('train') > 3 * 1024, 'several chunks');
  const collect = (s: EpochStream, e: number): number[] => {
    const rows: number[] = [];
    for (const b of s.epoch(e)) rows.push(...b.rows);
    return rows;
  };
  const opts = { batchSize: 300, seed: 5 };
  const full = ds.batches('train', opts);
  const e0 = collect(full, 0), e1 = collect(full, 1), e2 = collect(full, 2);
  assert.deepEqual([...e0].sort((x, y) => x - y), [...e1].sort((x, y) => x - y));
  assert.equal(new Set(e0).size, ds.splitSize('train'));
  assert.notDeepEqual(e0, e1);
  const resumed = await CachedDataset.open(cfg);
  assert.deepEqual(collect(resumed.batches('train', opts), 2), e2);
  assert.notDeepEqual(collect(ds.batches('train', { ...opts, seed: 6 }), 2), e2);
  const sizes = [...full.epoch(0)].map((b) => b.size);
  assert.equal(sizes.length, full.batchesPerEpoch);
  assert.ok(sizes.slice(0, -1).every((n) => n === 300));
});

test('building the cache leaves no DuckDB work files behind', async () => {
  const ds = await CachedDataset.open(config());
  assert.deepEqual(readdirSync(ds.dir).filter((f) => f.startsWith('work')), []);
});

test('what needs per-row arrays refuses a cached dataset and names the remedy', async () => {
  const ds = await CachedDataset.open(config());
  assert.throws(() => inMemory(ds, 'online training'), /online training needs the in-memory dataset .*"cache": false.*remove "cache" from the data config/);
  const cfg = parseTrainConfig({ model: { kind: 'dssm' }, data: { config: 'unused' }, strategy: { kind: 'onebp' } });
  await assert.rejects(buildStrategy(cfg, {} as never, ds), /strategy 'onebp' needs the in-memory dataset/);
});

test('a data reference with cache: false loads a cached data config in memory, the same rows', async () => {
  const path = join(dir, 'cached-config.json');
  writeFileSync(path, JSON.stringify(config((c) => void (c.name = 'by reference'))));
  const cached = await loadData({ data: { config: path } });
  const mem = await loadData({ data: { config: path, cache: false } });
  assert.ok(cached instanceof CachedDataset);
  assert.ok(mem instanceof Dataset);
  assert.equal(mem.size, cached.size);
  assert.deepEqual(rowsOf(mem, mem.batches('val', { batchSize: 100, shuffle: false })), rowsOf(cached, cached.batches('val', { batchSize: 100, shuffle: false })));
  // the option survives the path resolution of train configs and experiments
  assert.deepEqual(parseExperiment({ name: 'x', data: { config: 'cached-config.json', cache: false }, models: [{ kind: 'dssm' }], outDir: 'o' }, dir).data,
    { config: path, cache: false });
  assert.throws(() => parseTrainConfig({ model: { kind: 'dssm' }, data: { config: path, cache: true } }), /cache/);
});
