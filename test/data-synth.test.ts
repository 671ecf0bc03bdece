// `prerank data synth`: the same bytes for a seed whatever the thread count, independent draws, long tails, a daily
// cycle, a sane click rate, features the data pipeline reads, and a signal two-tower models learn.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Dataset } from '../src/data/dataset.js';
import { REPO_ROOT } from '../src/data/recipes.js';
import { writeSynthLog } from '../src/data/synth-log.js';
import { DEFAULT_SYNTH_PARAMS, SynthSql } from '../src/data/synth-sql.js';
import { TINY_CONFIGS } from '../src/models/registry.js';
import { parseTrainConfig } from '../src/train/config.js';
import { runTraining } from '../src/train/run.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-synth-'));
after(() => rmSync(root, { recursive: true, force: true }));

const SMALL = { events: 20_000, users: 4_000, items: 2_000, seed: 7 };
const FILES = ['events.parquet', 'users.parquet', 'items.parquet', 'config.json', 'synth.json'];
const one = await writeSynthLog(join(root, 'one-thread'), { ...SMALL, threads: 1 });
const two = await writeSynthLog(join(root, 'two-threads'), { ...SMALL, threads: 2 });

const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await db.connect();
after(() => {
  con.closeSync();
  db.closeSync();
});
const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRows().map((r) => r.map((v) => (typeof v === 'bigint' ? Number(v) : v)));
const file = (name: string) => `'${join(one.dir, name)}'`;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('a seed gives the same bytes whatever the DuckDB thread count; another seed another log', async () => {
  for (const f of FILES) assert.equal(sha(join(two.dir, f)), sha(join(one.dir, f)), f);
  const other = await writeSynthLog(join(root, 'seed-8'), { ...SMALL, seed: 8, threads: 2 });
  assert.notEqual(sha(join(other.dir, 'events.parquet')), sha(join(one.dir, 'events.parquet')));
  assert.deepEqual(one.files.map((f) => [f.file, f.rows]), [['users.parquet', 4000], ['items.parquet', 2000], ['events.parquet', 20_000]]);
});

test('draws of different streams are independent (no stream is another one XOR a constant)', async () => {
  const sql = new SynthSql(7, DEFAULT_SYNTH_PARAMS);
  const [[distinct, mean]] = await rows(`SELECT count(DISTINCT xor(${sql.hash('k', 1)}, ${sql.hash('k', 2)})),
    avg((${sql.hash('k', 1)} >> 11)::DOUBLE / 9007199254740992.0) FROM range(10000) t(k)`);
  assert.equal(distinct, 10_000);
  assert.ok(Math.abs(Number(mean) - 0.5) < 0.01, `mean ${mean}`);
  // a user's clicks are not decided by who the user is: heavy users' click rates spread over the middle
  const [[extreme, heavy]] = await rows(`SELECT count(*) FILTER (WHERE r = 0 OR r = 1), count(*) FROM
    (SELECT avg(click) r FROM ${file('events.parquet')} GROUP BY user_id HAVING count(*) >= 20)`);
  assert.ok(Number(heavy) >= 50 && Number(extreme) / Number(heavy) < 0.1, `${extreme} of ${heavy} heavy users click always or never`);
});

/** Share of events on the top 1% of ids and the slope of log(count) against log(rank) over ranks lo..hi. */
async function tail(col: string, ids: number, lo: number, hi: number): Promise<{ top: number; slope: number }> {
  const [[top, slope]] = await rows(`WITH c AS (SELECT count(*) n FROM ${file('events.parquet')} GROUP BY ${col}),
    r AS (SELECT n, row_number() OVER (ORDER BY n DESC) k FROM c)
    SELECT sum(n) FILTER (WHERE k <= ${Math.ceil(ids / 100)}) / sum(n), regr_slope(ln(n), ln(k)) FILTER (WHERE k BETWEEN ${lo} AND ${hi}) FROM r`);
  return { top: Number(top), slope: Number(slope) };
}

test('item popularity and user activity have long tails (power laws)', async () => {
  const items = await tail('item_id', SMALL.items, 3, 300);
  assert.ok(items.top > 0.15, `top 1% of items hold ${items.top}`);
  assert.ok(items.slope < -0.7 && items.slope > -1.3, `item count-rank slope ${items.slope}`);
  const users = await tail('user_id', SMALL.users, 3, 300);
  assert.ok(users.top > 0.05, `top 1% of users hold ${users.top}`);
  assert.ok(users.slope < -0.35 && users.slope > -0.9, `user count-rank slope ${users.slope}`);
});

test('clicks are 10-40%; timestamps rise with the row over 90 days with a daily cycle', async () => {
  const [[rate, ordered, span]] = await rows(`SELECT avg(click), bool_and(ts >= prev), (max(ts) - min(ts)) / 86400.0
    FROM (SELECT click, ts, lag(ts, 1, 0) OVER (ORDER BY file_row_number) prev FROM read_parquet(${file('events.parquet')}, file_row_number=true))`);
  assert.ok(Number(rate) > 0.1 && Number(rate) < 0.4, `click rate ${rate}`);
  assert.equal(ordered, true);
  assert.ok(Number(span) > 89 && Number(span) <= 90, `span ${span} days`);
  const [[evening, night, hourOk]] = await rows(`SELECT count(*) FILTER (WHERE hour BETWEEN 18 AND 22),
    count(*) FILTER (WHERE hour BETWEEN 2 AND 6), bool_and(hour = (ts % 86400) // 3600) FROM ${file('events.parquet')}`);
  assert.ok(Number(evening) > 2 * Number(night), `evening ${evening}, night ${night}`);
  assert.equal(hourOk, true);
  const [[devices]] = await rows(`SELECT count(DISTINCT device) FROM ${file('events.parquet')}`);
  assert.equal(devices, 3);
});

test('users and items carry categorical, list and dense features; categories nest subcategories', async () => {
  const [[genders, ages, regions, noInterests, maxInterests, acctMin, acctMax]] = await rows(`SELECT count(DISTINCT gender),
    count(DISTINCT age), count(DISTINCT region), avg((len(interests) = 0)::INT), max(len(interests)), min(account_age_days),
    max(account_age_days) FROM ${file('users.parquet')}`);
  assert.deepEqual([genders, ages], [3, 7]);
  assert.ok(Number(regions) > 300, `${regions} regions`);
  assert.ok(Number(noInterests) < 0.05 && Number(maxInterests) <= 4);
  assert.ok(Number(acctMin) >= 1 && Number(acctMax) <= 5000);
  const [[nested, brands, minTags, maxTags, medianPrice, minPrice]] = await rows(`SELECT bool_and(starts_with(subcategory, category || '-')),
    count(DISTINCT brand), min(len(tags)), max(len(tags)), median(price), min(price) FROM ${file('items.parquet')}`);
  assert.equal(nested, true);
  assert.ok(Number(brands) > 100, `${brands} brands`);
  assert.deepEqual([minTags, maxTags], [1, 4]);
  assert.ok(Number(minPrice) > 0 && Number(medianPrice) > 5 && Number(medianPrice) < 100, `median price ${medianPrice}`);
});

test('exposure by interest: an event shows the best of several popularity draws for its user; one draw is the default', async () => {
  /** Share of events whose item's subcategory is among its user's interests, and the top 1% of items' share of events. */
  const interest = async (dir: string) => {
    const [[inInterests, top]] = await rows(`WITH e AS (SELECT * FROM '${join(dir, 'events.parquet')}'
        JOIN '${join(dir, 'users.parquet')}' USING (user_id) JOIN '${join(dir, 'items.parquet')}' USING (item_id)),
      r AS (SELECT count(*) n, row_number() OVER (ORDER BY count(*) DESC) k FROM e GROUP BY item_id)
      SELECT (SELECT avg(list_contains(interests, subcategory)::INT) FROM e), sum(n) FILTER (WHERE k <= ${SMALL.items / 100}) / sum(n) FROM r`);
    return { inInterests: Number(inInterests), top: Number(top) };
  };
  const personal = await writeSynthLog(join(root, 'interest'), { ...SMALL, threads: 2, params: { exposureCandidates: 16 } });
  const [base, chosen] = [await interest(one.dir), await interest(personal.dir)];
  assert.ok(base.inInterests < 0.08, `popularity exposure: ${base.inInterests} of events on an interest topic`);
  assert.ok(chosen.inInterests > 2.5 * base.inInterests, `interest exposure: ${chosen.inInterests} vs ${base.inInterests}`);
  assert.ok(chosen.top > 0.15, `popularity still matters: the top 1% of items hold ${chosen.top}`);
  // users and items do not depend on exposure; one candidate is the default log whatever the weight
  for (const f of ['users.parquet', 'items.parquet']) assert.equal(sha(join(personal.dir, f)), sha(join(one.dir, f)), f);
  const single = await writeSynthLog(join(root, 'one-candidate'), { ...SMALL, threads: 2, params: { exposureCandidates: 1, exposureWeight: 99 } });
  assert.equal(sha(join(single.dir, 'events.parquet')), sha(join(one.dir, 'events.parquet')));
  await assert.rejects(writeSynthLog(join(root, 'bad'), { ...SMALL, params: { exposureCandidates: 0 } }), /exposureCandidates must be an integer in 1\.\.64, got 0/);
});

test('Dataset.load reads the written config: entity files, list features, temporal split, history', async () => {
  const ds = await Dataset.load(one.config);
  assert.equal(ds.report.rowsRead, SMALL.events);
  assert.equal(ds.report.rowsSkipped, 0);
  assert.equal(ds.userCount, SMALL.users);
  assert.equal(ds.itemCount, SMALL.items);
  const names = ds.features.map((f) => f.name);
  for (const n of ['user_id', 'region', 'interests', 'account_age_days', 'item_id', 'subcategory', 'brand', 'tags', 'price',
    'device', 'hour', 'clicked_items']) assert.ok(names.includes(n), n);
  assert.ok(ds.encoders.vocabulary('interests').tokens.length > 100);
  assert.ok(ds.encoders.vocabulary('tags').tokens.length > 300);
  const split = ds.splits;
  assert.ok(split.test.length > 500 && split.val.length > 500 && split.train.length > 15_000);
  assert.ok(ds.labelRate('train') > 0.1 && ds.labelRate('train') < 0.4);
});

test('prerank data synth writes the log and reports rows/s and peak RSS', () => {
  const out = join(root, 'cli');
  const text = execFileSync(process.execPath, [join(REPO_ROOT, 'dist/src/cli/main.js'), 'data', 'synth', '--events', '3000',
    '--users', '500', '--items', '300', '--seed', '3', '--threads', '1', '--exposure-candidates', '4', '--param', 'featureWeight=0,userBias=0.5',
    '--out', out], { encoding: 'utf8' });
  assert.match(text, /seed 3, exposure by interest \(4 candidates, weight 8\), featureWeight 0, userBias 0.5,/);
  const params = JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8')).params;
  assert.deepEqual([params.exposureCandidates, params.featureWeight, params.userBias, params.facetWeight], [4, 0, 0.5, DEFAULT_SYNTH_PARAMS.facetWeight]);
  for (const [bad, why] of [['colour=2', /unknown parameter 'colour' \(one of facetWeight, /], ['noise=abc', /--param noise: expected noise=<number>, got 'noise=abc'/],
    ['exposureWeight=2', /unknown parameter 'exposureWeight'/]] as const) {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/src/cli/main.js'), 'data', 'synth', '--param', bad, '--out', join(root, 'bad')], { encoding: 'utf8' });
    assert.equal(r.status, 2, bad);
    assert.match(r.stderr, why);
  }
  assert.match(text, /events 3,000 \/ 3,000 rows, [\d.]+ s, [\d.]+[kM] rows\/s/);
  assert.match(text, /peak RSS \d+ MiB/);
  assert.equal(JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8')).events, 3000);
});

test('DSSM and IntTower learn the generated log (short training)', async () => {
  const log = await writeSynthLog(join(root, 'train'), { events: 40_000, users: 4_000, items: 2_000, seed: 11 });
  const data = await Dataset.load(log.config);
  for (const kind of ['dssm', 'int-tower'] as const) {
    // the CIR weight of the tests' tiny IntTower (0.1): this checks that the models learn the log, not the defaults
    const config = kind === 'int-tower' ? { ...TINY_CONFIGS[kind], cirWeight: 0.1 } : TINY_CONFIGS[kind];
    const cfg = parseTrainConfig({ model: { kind, config }, data: { config: log.config }, batchSize: 512,
      epochs: 3, seed: 1, optimizer: { kind: 'adam', lr: 0.005 }, outDir: join(root, 'runs', kind) });
    const r = await runTraining(cfg, { data, quiet: true });
    assert.ok(r.test.auc > 0.6, `${kind} test AUC ${r.test.auc}`);
  }
});
