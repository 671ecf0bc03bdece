import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { dataConfigJsonSchema, loadDataConfig, parseDataConfig, type DataConfigInput } from '../src/data/spec.js';
import { ML_1M_PARTIAL_NAME, recipeConfig, REPO_ROOT, embeddedDataDir } from '../src/data/recipes.js';
import { SYNTH_SIZES, synthDataConfig, synthName } from '../src/data/synth-log.js';

const base = (): DataConfigInput => ({
  name: 't',
  sources: { interactions: { path: '/x/events.csv' } },
  keys: { user: 'u', item: 'i' },
  features: [{ kind: 'sparse', name: 'u', source: 'user' }, { kind: 'sparse', name: 'i', source: 'item' }],
});

test('defaults fill in and relative paths resolve against the config folder', () => {
  const cfg = parseDataConfig({ ...base(), sources: { interactions: { path: 'e.csv' } } }, '/data/cfg');
  assert.equal(cfg.sources.interactions.path, '/data/cfg/e.csv');
  assert.equal(cfg.onBadRow, 'error');
  assert.deepEqual(cfg.split, { method: 'random', val: 0.1, test: 0.2 });
  assert.deepEqual(cfg.label.drop, []);
  const f = cfg.features[0];
  assert.ok(f.kind === 'sparse' && f.minFreq === 1);
});

test('invalid configs fail with the path of the problem', () => {
  const bad = (patch: Partial<DataConfigInput>, re: RegExp) =>
    assert.throws(() => parseDataConfig({ ...base(), ...patch }), re);
  bad({ onBadRow: 'ignore' as 'skip' }, /onBadRow/);
  bad({ features: [{ kind: 'sparse', name: 'u', source: 'user' }, { kind: 'sparse', name: 'u', source: 'item' }] }, /used twice/);
  bad({ features: [{ kind: 'dense', name: 'd', source: 'user' }, { kind: 'sparse', name: 'x', source: 'user', shareWith: 'd' }] },
    /not a sparse or sequence/);
  bad({ split: { method: 'temporal' } }, /needs keys.time/);
  bad({ split: { method: 'random', val: 0.5, test: 0.5 } }, /below 1/);
  bad({ label: { rule: { op: '>', value: 3 } } }, /label.rule needs label.column/);
  bad({ label: { column: 'r', rule: { op: 'gt' as '>', value: 3 } } }, /label.rule.op/);
  bad({ derived: [{ kind: 'stat', name: 's', source: 'user', stat: 'mean' }] }, /needs a column/);
  bad({ derived: [{ kind: 'history', name: 'h', shareWith: 'u' }] }, /item feature/);
});

test('the JSON schema documents the config', () => {
  const s = dataConfigJsonSchema() as { properties: Record<string, { description?: string }> };
  for (const k of ['name', 'sources', 'keys', 'label', 'features', 'derived', 'split', 'onBadRow']) assert.ok(s.properties[k], k);
  assert.match(JSON.stringify(s), /values seen fewer times in train map to OOV/);
});

test('configs/data/*.json equal the built-in recipes and the synthetic log S', () => {
  const dir = join(REPO_ROOT, 'configs/data');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(files, ['ml-100k.json', 'ml-1m-partial.json', 'ml-latest-small.json', 'synth-facets-no-ids.json', 'synth-ids-min-freq-10.json', 'synth-no-ids.json', 'synth.json']);
  const synth = parseDataConfig(synthDataConfig(join(REPO_ROOT, '.synth/S'), synthName({ ...SYNTH_SIZES.S, seed: 1 })));
  assert.deepEqual(loadDataConfig(join(dir, 'synth.json')), synth, 'synth.json: prerank data synth --size S --out .synth/S');
  // the one-epoch experiments' variants of it: the id features left out, or with minFreq 10
  const ids = new Set(['user_id', 'item_id', 'clicked_items']);
  assert.deepEqual(loadDataConfig(join(dir, 'synth-no-ids.json')), { ...synth, name: `${synth.name}, without user_id, item_id and clicked_items`,
    features: synth.features.filter((f) => !ids.has(f.name)), derived: synth.derived.filter((d) => !ids.has(d.name)) }, 'synth-no-ids.json');
  // the same features read from the log generated with the facet term alone (--param factorWeight=0,featureWeight=0,userBias=0,itemBias=0)
  const facets = parseDataConfig(synthDataConfig(join(REPO_ROOT, '.synth/S-facets'), synthName({ ...SYNTH_SIZES.S, seed: 1 })));
  assert.deepEqual(loadDataConfig(join(dir, 'synth-facets-no-ids.json')), { ...facets,
    name: `${synth.name}, the facet term alone (factorWeight, featureWeight, userBias, itemBias 0), without user_id, item_id and clicked_items`,
    features: facets.features.filter((f) => !ids.has(f.name)), derived: facets.derived.filter((d) => !ids.has(d.name)) }, 'synth-facets-no-ids.json');
  assert.deepEqual(loadDataConfig(join(dir, 'synth-ids-min-freq-10.json')), { ...synth, name: `${synth.name}, user_id and item_id with minFreq 10`,
    features: synth.features.map((f) => (f.name === 'user_id' || f.name === 'item_id' ? { ...f, minFreq: 10 } : f)) }, 'synth-ids-min-freq-10.json');
  const pairs = [['ml-100k.json', recipeConfig('ml-100k', join(REPO_ROOT, '../shared/data/ml-100k'))],
    ['ml-1m-partial.json', recipeConfig('ml-1m', join(REPO_ROOT, '../shared/data/ml-1m'))],
    ['ml-latest-small.json', recipeConfig('ml-latest-small', embeddedDataDir())]] as const;
  for (const [file, recipe] of pairs) {
    const fromFile = loadDataConfig(join(dir, file));
    assert.deepEqual(fromFile, recipe, file);
  }
  assert.equal(loadDataConfig(join(dir, 'ml-1m-partial.json')).name, ML_1M_PARTIAL_NAME);
  assert.equal(ML_1M_PARTIAL_NAME, 'ML-1M partial (users 1-2999)');
});

test('IntTower MovieLens setup: drop 3, label rating > 3, random split, mean-rating stats', () => {
  const cfg = loadDataConfig(join(REPO_ROOT, 'configs/data/ml-1m-partial.json'));
  assert.deepEqual(cfg.label, { column: 'rating', rule: { op: '>', value: 3 }, drop: [3] });
  assert.equal(cfg.split.method, 'random');
  assert.deepEqual(cfg.features.map((f) => `${f.source}:${f.name}`),
    ['user:user_id', 'user:gender', 'user:age', 'user:occupation', 'item:movie_id', 'item:genres']);
  const g = cfg.features[5];
  assert.ok(g.kind === 'sequence' && g.pooling === 'mean');
  assert.deepEqual(cfg.derived.map((d) => d.name), ['user_mean_rating', 'item_mean_rating']);
});
