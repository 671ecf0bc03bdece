// Real data: the embedded ml-latest-small always; ML-100K and the ML-1M partial ratings when ../shared/data has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { inspectDataset } from '../src/data/inspect.js';
import { ML_1M_PARTIAL_NAME, recipeConfig, recipeMissing, REPO_ROOT, type RecipeName } from '../src/data/recipes.js';

function skipReason(name: RecipeName): string | false {
  const m = recipeMissing(name);
  return m ? `${m}: skipped (MovieLens 100K/1M may not be redistributed; they are read from ../shared/data)` : false;
}

const distinct = (a: Int32Array) => new Set(a).size;

test('ml-latest-small (embedded): counts, genres and tags, IntTower label', async () => {
  const ds = await Dataset.load(recipeConfig('ml-latest-small'));
  assert.equal(ds.report.rowsRead, 100_836);
  assert.equal(ds.report.rowsSkipped, 0);
  assert.equal(ds.userCount, 610);
  assert.equal(ds.itemCount, 9742);
  assert.equal(ds.size + ds.report.rowsDropped, 100_836);
  const genres = ds.encoders.vocabulary('genres').tokens;
  assert.ok(genres.includes('Comedy') && genres.includes('(no genres listed)') === genres.includes('(no genres listed)'));
  const tags = ds.tables.item.sequence.get('tags')!;
  assert.ok(tags.offsets[ds.itemCount] > 1000, 'tags joined from tags.csv');
  const toy = ds.itemKeys.indexOf('1');
  const toyGenres = [...ds.tables.item.sequence.get('genres')!.ids.subarray(
    ds.tables.item.sequence.get('genres')!.offsets[toy], ds.tables.item.sequence.get('genres')!.offsets[toy + 1])];
  assert.deepEqual(toyGenres.map((id) => ds.encoders.vocabulary('genres').token(id)),
    ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy']);
  const rep = inspectDataset(ds);
  assert.ok(rep.labelRate.train > 0.7 && rep.labelRate.train < 0.85);
});

test('ML-100K: 100,000 ratings, 943 users, 1,682 items, genres from the 19 flags', { skip: skipReason('ml-100k') }, async () => {
  const ds = await Dataset.load(recipeConfig('ml-100k'));
  assert.equal(ds.name, 'ML-100K');
  assert.equal(ds.report.rowsRead, 100_000);
  assert.equal(ds.userCount, 943);
  assert.equal(ds.itemCount, 1682);
  const g = ds.tables.item.sequence.get('genres')!;
  const toy = ds.itemKeys.indexOf('1');
  assert.deepEqual([...g.ids.subarray(g.offsets[toy], g.offsets[toy + 1])].map((id) => ds.encoders.vocabulary('genres').token(id)),
    ['Animation', "Children's", 'Comedy']);
  const rep = inspectDataset(ds);
  const drop3 = 27_145;
  assert.equal(rep.rowsDropped, drop3);
  assert.equal(rep.split.train + rep.split.val + rep.split.test, 100_000 - drop3);
});

test('ML-1M partial ratings are always named "ML-1M partial (users 1-2999)"', { skip: skipReason('ml-1m') }, async () => {
  const cfg = recipeConfig('ml-1m');
  assert.equal(cfg.name, ML_1M_PARTIAL_NAME);
  const ds = await Dataset.load(cfg);
  assert.equal(ds.name, 'ML-1M partial (users 1-2999)');
  assert.equal(inspectDataset(ds).name, 'ML-1M partial (users 1-2999)');
  assert.equal(ds.report.rowsRead, 487_650);
  assert.equal(distinct(ds.rowUser), 2999);
  assert.ok(distinct(ds.rowItem) <= 3615);
  assert.equal(ds.userCount, 6040, 'users.dat lists every user; only 2,999 have ratings');
  assert.equal(ds.encoders.vocabulary('user_id').tokens.length, 2999);
});

test('prerank data inspect --config prints cardinality, OOV and label rates, rows read/skipped', () => {
  const out = execFileSync(process.execPath, [join(REPO_ROOT, 'dist/src/cli/main.js'), 'data', 'inspect', '--config',
    join(REPO_ROOT, 'configs/data/ml-latest-small.json')], { encoding: 'utf8' });
  assert.match(out, /dataset\s+ml-latest-small/);
  assert.match(out, /read 100836, skipped \(bad\) 0, dropped by label rule 20047/);
  assert.match(out, /label rate\s+train \d+\.\d+%/);
  assert.match(out, /movie_id\s+sparse\s+item\s+movie_id\s+\d+\s+\d+\s+\d+\.\d+%\s+\d+\.\d+%/);
  assert.match(out, /liked_movies\s+sequence \(history\)\s+user\s+movie_id/);
});
