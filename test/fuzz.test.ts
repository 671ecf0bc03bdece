// Property tests over what the outside world hands prerank: data files, HTTP request bodies and bundle files. Each
// target's harness lives in test/fuzz/ and is shared with `npm run bench -- faults`, which runs many more cases
// (PRERANK_FUZZ_RUNS multiplies the counts here, PRERANK_FUZZ_SEED picks other cases).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fuzzBundles, type BundleTarget } from './fuzz/bundles.js';
import { fuzzDataFiles } from './fuzz/data-files.js';
import { fuzzRoutes } from './fuzz/routes.js';
import { fuzzBundleTargets, fuzzRouteTargets } from './fuzz/targets.js';
import { tempDir } from './serve-fixture.js';

const RUNS = Number(process.env.PRERANK_FUZZ_RUNS ?? 1);
const SEED = Number(process.env.PRERANK_FUZZ_SEED ?? 20261205);
let root: string;
let bundles: BundleTarget[];

before(async () => {
  root = tempDir('fuzz');
  bundles = await fuzzBundleTargets(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('corrupted data files load with counted skips or fail with a DataError naming file and line', async () => {
  const r = await fuzzDataFiles(join(root, 'data-fuzz'), Math.round(300 * RUNS), SEED);
  assert.equal(r.failure, undefined, r.failure);
});

test('hostile request bodies on every route: never a 5xx but 501/503, and the server keeps answering', async () => {
  const { targets, close } = await fuzzRouteTargets(root, bundles);
  try {
    const r = await fuzzRoutes(targets, Math.round(1500 * RUNS), SEED);
    assert.equal(r.failure, undefined, r.failure);
    assert.equal(r.fiveXX, 0);
  } finally {
    await close();
  }
});

test('a damaged bundle file is refused naming the file, or serves the original scores', async () => {
  const work = join(root, 'bundle-fuzz');
  mkdirSync(work, { recursive: true });
  const r = await fuzzBundles(bundles, work, Math.round(200 * RUNS), SEED);
  assert.equal(r.failure, undefined, r.failure);
});
