// Property tests over what the outside world hands prerank: data files, HTTP request bodies and bundle files. Each
// target's harness lives in test/fuzz/ and is shared with `npm run bench -- faults`, which runs many more cases
// (PRERANK_FUZZ_RUNS multiplies the counts here).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import { fuzzBundles, type BundleTarget } from './fuzz/bundles.js';
import { fuzzDataFiles } from './fuzz/data-files.js';
import { fuzzRoutes, type RouteTarget } from './fuzz/routes.js';
import { tempDir, tinyRun } from './serve-fixture.js';

const RUNS = Number(process.env.PRERANK_FUZZ_RUNS ?? 1);
const SEED = Number(process.env.PRERANK_FUZZ_SEED ?? 20261205);
const ADMIN_TOKEN = 'fuzz-token';
let root: string;
const bundles: BundleTarget[] = [];
const servers: PrerankServer[] = [];

before(async () => {
  root = tempDir('fuzz');
  for (const kind of ['dssm', 'int-tower', 'dcn'] as const) {
    const run = await tinyRun(root, kind);
    const dir = join(root, 'bundles', kind);
    await exportBundle(run.runDir, dir);
    bundles.push({ dir, user: run.users.get('u1')!, items: run.data.encoders.vocabulary('item_id').tokens.slice(0, 20) as string[] });
  }
});
after(async () => {
  for (const s of servers) await s.app.close();
  rmSync(root, { recursive: true, force: true });
});

test('corrupted data files load with counted skips or fail with a DataError naming file and line', async () => {
  const r = await fuzzDataFiles(join(root, 'data-fuzz'), Math.round(300 * RUNS), SEED);
  assert.equal(r.failure, undefined, r.failure);
});

test('hostile request bodies on every route: never a 5xx but 501/503, and the server keeps answering', async () => {
  const targets: RouteTarget[] = [];
  for (const b of bundles) {
    const server = await createServer({ bundle: b.dir, adminToken: ADMIN_TOKEN, limits: { maxCandidates: 50, maxK: 20, bodyLimit: 50_000 },
      defaultMetrics: false, underPressure: false });
    servers.push(server);
    targets.push({ name: b.dir.split('/').pop()!, server, user: b.user, items: b.items, adminToken: ADMIN_TOKEN,
      reloadPaths: [b.dir, ...bundles.map((x) => x.dir), join(root, 'bundles'), join(root, 'nothing-here'), join(root, 'data-fuzz')] });
  }
  const r = await fuzzRoutes(targets, Math.round(1500 * RUNS), SEED);
  assert.equal(r.failure, undefined, r.failure);
  assert.equal(r.fiveXX, 0);
});

test('a damaged bundle file is refused naming the file, or serves the original scores', async () => {
  const work = join(root, 'bundle-fuzz');
  mkdirSync(work, { recursive: true });
  const r = await fuzzBundles(bundles, work, Math.round(200 * RUNS), SEED);
  assert.equal(r.failure, undefined, r.failure);
});
