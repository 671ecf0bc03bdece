import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { ingest } from '../src/data/ingest.js';
import { DataError } from '../src/data/data-error.js';
import { parseDataConfig, type DataConfigInput } from '../src/data/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-ingest-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const users = file('users.csv', 'uid,gender,age\nu1,F,30\nu2,M,40\nu3,F,\n');
const items = file('items.csv', 'iid,genres,price\na,x|y,1.5\nb,y,2\nc,,3\n');

function config(events: string, patch: Partial<DataConfigInput> = {}): DataConfigInput {
  return {
    name: 'test',
    sources: { interactions: { path: events }, users: { path: users, key: 'uid' }, items: { path: items, key: 'iid' } },
    keys: { user: 'user', item: 'item', time: 'ts' },
    label: { column: 'rating', rule: { op: '>=', value: 4 }, drop: [3] },
    features: [
      { kind: 'sparse', name: 'user', source: 'user' },
      { kind: 'sparse', name: 'gender', source: 'user' },
      { kind: 'dense', name: 'age', source: 'user' },
      { kind: 'sparse', name: 'item', source: 'item' },
      { kind: 'sequence', name: 'genres', source: 'item' },
      { kind: 'sparse', name: 'device', source: 'context' },
    ],
    ...patch,
  };
}

const good = 'user,item,rating,ts,device\nu1,a,5,10,ios\nu2,b,3,11,web\nu1,b,1,12,web\nu4,a,4,13,ios\n';

test('CSV with header: joins users and items, applies the label rule and drop', async () => {
  const raw = await ingest(parseDataConfig(config(file('events.csv', good))));
  assert.equal(raw.rows, 3);
  assert.deepEqual(raw.report, { ...raw.report, rowsRead: 4, rowsSkipped: 0, rowsDropped: 1 });
  assert.deepEqual(raw.users.keys, ['u1', 'u2', 'u3', 'u4']);
  assert.deepEqual(raw.items.keys, ['a', 'b', 'c']);
  assert.deepEqual([...raw.user], [0, 0, 3]);
  assert.deepEqual([...raw.item], [0, 1, 0]);
  assert.deepEqual([...raw.label], [1, 0, 1]);
  assert.deepEqual([...raw.time!], [10, 12, 13]);
  const g = raw.users.columns.get('gender')!;
  assert.deepEqual(g.values, ['F', 'M', 'F', null]);
  const age = raw.users.columns.get('age')!;
  assert.ok(age.kind === 'num' && age.values[1] === 40 && Number.isNaN(age.values[2]));
  assert.deepEqual(raw.items.columns.get('genres')!.values, ['x|y', 'y', null]);
  assert.deepEqual(raw.rowColumns.get('device')!.values, ['ios', 'web', 'ios']);
});

test('headerless gzip TSV, "::" files, latin-1 text', async () => {
  const ev = file('ev.tsv.gz', gzipSync('u1\ta\t5\t10\nu2\tb\t2\t11\n'));
  const it = file('items.dat', Buffer.from('a::Caf\xe9 au lait::x|y\nb::Na\xefve::y\n', 'latin1'));
  const cfg = config(ev, {
    sources: { interactions: { path: ev, header: false, columns: ['user', 'item', 'rating', 'ts'] },
      items: { path: it, header: false, delimiter: '::', quote: '', encoding: 'latin-1', columns: ['iid', 'title', 'genres'], key: 'iid' } },
    features: [{ kind: 'sparse', name: 'user', source: 'user' }, { kind: 'sparse', name: 'title', source: 'item' },
      { kind: 'sequence', name: 'genres', source: 'item' }],
  });
  const raw = await ingest(parseDataConfig(cfg));
  assert.equal(raw.rows, 2);
  assert.deepEqual(raw.items.columns.get('title')!.values, ['Café au lait', 'Naïve']);
});

test('JSON Lines with list values and Parquet read like CSV', async () => {
  const jl = file('ev.jsonl', '{"user":"u1","item":"a","rating":5,"ts":10,"device":"ios"}\n' +
    '{"user":"u2","item":"b","rating":1,"ts":11,"device":"web"}\n');
  const it = file('items.jsonl', '{"iid":"a","genres":["x","y"],"price":1}\n{"iid":"b","genres":["y"],"price":2}\n');
  const cfg = config(jl, { sources: { interactions: { path: jl }, items: { path: it, key: 'iid' } } });
  cfg.features = cfg.features.filter((f) => f.source !== 'user' || f.name === 'user');
  const raw = await ingest(parseDataConfig(cfg));
  assert.equal(raw.rows, 2);
  assert.deepEqual(raw.items.columns.get('genres')!.values, ['x\x1fy', 'y']);
  const pq = join(dir, 'ev.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  await con.run(`COPY (SELECT * FROM read_csv('${join(dir, 'events.csv')}')) TO '${pq}' (FORMAT parquet)`);
  con.closeSync();
  const fromPq = await ingest(parseDataConfig({ ...cfg, sources: { interactions: { path: pq }, items: { path: it, key: 'iid' } } }));
  assert.equal(fromPq.rows, 3);
  assert.deepEqual([...fromPq.label], [1, 0, 1]);
});

test('a malformed row stops the run with file:line:column and the value', async () => {
  const cases: [string, RegExp][] = [
    ['user,item,rating,ts,device\nu1,a,5,10,ios\nu2,b,x,11,web\n', /bad1\.csv:3:3: expected a number; column "rating" value "x"/],
    ['user,item,rating,ts,device\nu1,a,5,10,ios\nu2,b,4,11\n', /bad2\.csv:3:5: 4 fields, expected 5; value "u2,b,4,11"/],
    ['user,item,rating,ts,device\nu1,a,5,10,ios,extra\n', /bad3\.csv:2:6: 6 fields, expected 5; value "extra"/],
    ['user,item,rating,ts,device\nu1,a,5,10,i\xffos\n', /bad4\.csv:2:5: invalid text encoding/],
    ['user,item,rating,ts,device\nu1,a,5,10,ios\n,b,4,11,web\n', /bad5\.csv:3:1: empty value in a required column; column "user"/],
  ];
  for (const [i, [text, re]] of cases.entries()) {
    const p = file(`bad${i + 1}.csv`, Buffer.from(text, 'latin1'));
    await assert.rejects(ingest(parseDataConfig(config(p))), (err: Error) => {
      assert.ok(err instanceof DataError, String(err));
      assert.match(err.message, re);
      return true;
    });
  }
  const jl = file('bad.jsonl', '{"user":"u1","item":"a","rating":5,"ts":1,"device":"x"}\n{"user":"u2",\n' +
    '{"user":"u2","item":"a","rating":"five","ts":2,"device":"x"}\n');
  await assert.rejects(ingest(parseDataConfig(config(jl))), /bad\.jsonl:2:1: malformed JSON/);
  const jl2 = file('bad2.jsonl', '{"user":"u1","item":"a","rating":5,"ts":1,"device":"x"}\n' +
    '{"user":"u2","item":"a","rating":"five","ts":2,"device":"x"}\n');
  await assert.rejects(ingest(parseDataConfig(config(jl2))), /bad2\.jsonl:2:3: expected a number; column "rating" value "five"/);
});

test('onBadRow "skip" drops, counts and reports bad rows', async () => {
  const p = file('skip.csv', 'user,item,rating,ts,device\nu1,a,5,10,ios\nu2,b,x,11,web\nu1,b,4,12\n,a,5,13,ios\nu2,a,5,14,ios\n');
  const raw = await ingest(parseDataConfig(config(p, { onBadRow: 'skip' })));
  assert.equal(raw.rows, 2);
  assert.equal(raw.report.rowsRead, 5);
  assert.equal(raw.report.rowsSkipped, 3);
  assert.deepEqual(raw.report.badRows.map((b) => b.line), [3, 4, 5]);
  assert.deepEqual([...raw.time!], [10, 14]);
});

test('a config naming a missing column fails before reading, listing the columns', async () => {
  const p = file('cols.csv', 'user,item,rating,ts,device\nu1,a,not-a-number,10,ios\n');
  const cfg = config(p);
  cfg.features.push({ kind: 'dense', name: 'salary', source: 'user' }, { kind: 'sparse', name: 'os', source: 'context' });
  await assert.rejects(ingest(parseDataConfig(cfg)), (err: Error) => {
    assert.match(err.message, /feature "salary" names column "salary" \(user side\)/);
    assert.match(err.message, /feature "os" names column "os"/);
    assert.match(err.message, /interactions \(\S*cols\.csv:1\): user, item, rating, ts, device/);
    assert.match(err.message, /users \(\S*users\.csv:1\): uid, gender, age/);
    return true;
  });
  const hl = file('hl.tsv', 'u1\ta\t5\n');
  await assert.rejects(ingest(parseDataConfig(config(hl, { sources: { interactions: { path: hl, header: false,
    columns: ['user', 'item', 'rating', 'ts'] } } }))), /names 4 columns .* first line has 3 fields/);
});

test('generic config: entity features from the interaction file, context lists, weights, into batches', async () => {
  const { Dataset } = await import('../src/data/dataset.js');
  const p = file('generic.csv', 'user,item,click,ts,cat,kw,dwell,w\n' +
    'a,x,1,1,c1,k1;k2,3.5,2\nb,x,0,2,c1,k2,,1\na,y,1,3,c2,,1.5,1\nb,z,1,4,c3,k1;k3;k4,2,0.5\n');
  const ds = await Dataset.load(parseDataConfig({
    name: 'generic',
    sources: { interactions: { path: p } },
    keys: { user: 'user', item: 'item', time: 'ts' },
    label: { column: 'click' },
    weight: { column: 'w' },
    features: [
      { kind: 'sparse', name: 'user', source: 'user' },
      { kind: 'sparse', name: 'item', source: 'item' },
      { kind: 'sparse', name: 'cat', source: 'item' },
      { kind: 'sequence', name: 'kw', source: 'context', separator: ';', maxLen: 2, pooling: 'sum' },
      { kind: 'dense', name: 'dwell', source: 'context', scaler: 'none', fillNaN: 'zero' },
    ],
    split: { method: 'random', val: 0, test: 0 },
  }));
  assert.deepEqual(ds.itemKeys, ['x', 'y', 'z']);
  const cat = ds.encoders.vocabulary('cat');
  assert.deepEqual([...ds.tables.item.sparse.get('cat')!].map((id) => cat.token(id)), ['c1', 'c2', 'c3']);
  const b = ds.batches('train', { batchSize: 8, shuffle: false }).epoch(0).next().value!;
  assert.deepEqual([...b.label], [1, 0, 1, 1]);
  assert.deepEqual([...b.weight!], [2, 1, 1, 0.5]);
  assert.deepEqual([...b.dense.dwell], [3.5, 0, 1.5, 2]);
  assert.deepEqual([...b.sequence.kw.lengths], [2, 1, 0, 2]);
  const kw = ds.encoders.vocabulary('kw');
  assert.deepEqual([...b.sequence.kw.ids.subarray(6, 8)].map((id) => kw.token(id)), ['k1', 'k3']);
  assert.deepEqual(ds.features.find((f) => f.name === 'kw'), { name: 'kw', kind: 'sequence', source: 'context',
    table: 'kw', vocabSize: 2 + 4, maxLen: 2, pooling: 'sum' });
});

test('filter: minimum interactions per user and item, counted after label.drop, once or until both hold', async () => {
  // Label-kept rows: u1 a b c, u2 a b, u3 a, u4 c (u3's c and u5's only row are rating 3, dropped).
  // Item counts: a 3, b 2, c 2.
  const events = file('filter.csv', 'user,item,rating,ts,device\nu1,a,5,1,x\nu1,b,4,2,x\nu1,c,1,3,x\nu2,a,5,4,x\n' +
    'u2,b,2,5,x\nu3,a,4,6,x\nu3,c,3,7,x\nu4,c,5,8,x\nu5,a,3,9,x\n');
  const run = async (filter: DataConfigInput['filter']) => ingest(parseDataConfig(config(events, { filter })));
  const rowsOf = (raw: Awaited<ReturnType<typeof run>>) =>
    Array.from(raw.user, (u, r) => `${raw.users.keys[u]}${raw.items.keys[raw.item[r]]}`).join(' ');

  const once = await run({ minUserInteractions: 2, minItemInteractions: 2 });
  assert.equal(rowsOf(once), 'u1a u1b u1c u2a u2b');
  assert.deepEqual(once.report, { ...once.report, rowsRead: 9, rowsDropped: 2, rowsFiltered: 2 });
  assert.deepEqual(once.users.keys, ['u1', 'u2'], 'no entities from the users file, none whose rows were all dropped');
  assert.deepEqual(once.users.columns.get('gender')!.values, ['F', 'M']);

  // Removing u4 leaves c with one row; repeating removes it too.
  const core = await run({ minUserInteractions: 2, minItemInteractions: 2, repeat: true });
  assert.equal(rowsOf(core), 'u1a u1b u2a u2b');
  assert.deepEqual(core.report, { ...core.report, rowsDropped: 2, rowsFiltered: 3 });
  assert.deepEqual(core.items.keys, ['a', 'b']);

  // c has 3 rows only if the dropped rating-3 row counted.
  const items = await run({ minItemInteractions: 3 });
  assert.equal(rowsOf(items), 'u1a u2a u3a');
  assert.deepEqual(items.users.keys, ['u1', 'u2', 'u3', 'u5'], "u4's only row went; no user minimum keeps u5");
  assert.deepEqual(items.report, { ...items.report, rowsDropped: 2, rowsFiltered: 4 });
});
