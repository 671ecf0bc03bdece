// A whole bundle in prerank/web: loadBundle fetches a bundle exported by `prerank export` from a static HTTP server
// through the global fetch, and WebBundle answers the server's /v1/prerank and /v1/score bodies as the server's
// native scorer does for DSSM, IntTower and RankTower bundles (float32 and int8 tables; formats /1 and /2 too):
// the same items in the same order, scores within 1e-5 (relative to the largest), the same unknown ids and OOV
// features, the same refusal of an unknown user feature. Bad bundles (missing file, HTTP 404, other format, edited
// manifest, changed file, unknown or single-tower model) are refused naming the file and what was expected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle, exportBundle } from '../src/export/index.js';
import { FILES, modelHash, modelVersionOf, type BundleManifest } from '../src/export/manifest.js';
import type { ModelName } from '../src/models/registry.js';
import type { ScoreResponse, UserFeatures } from '../src/serve/scorer.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { loadBundle, RequestError, WasmScorer, WebBundleError, type WebBundle } from '../src/web/index.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';
import { skipWasm, wasmBytes } from './helpers/wasm-scorer.js';
import { staticServer, type StaticServer } from './helpers/static-server.js';
import { asJsonIds } from './helpers/json-ids.js';
import { sha256 } from '../src/export/manifest.js';

const skip = skipWasm;
const CASES: [string, ModelName, { itemDtype?: 'int8' }][] = [
  ['dssm', 'dssm', {}],
  ['dssm-int8', 'dssm', { itemDtype: 'int8' }],
  ['int-tower', 'int-tower', {}],
  ['rank-tower', 'rank-tower', {}],
];

let root: string;
let http: StaticServer;
let scorer: WasmScorer;
const runs = new Map<string, TinyRun>();

before(async () => {
  if (skip) return;
  root = tempDir('web-bundle');
  for (const [name, kind, opts] of CASES) {
    const run = runs.get(kind) ?? await tinyRun(root, kind);
    runs.set(kind, run);
    runs.set(name, run);
    await exportBundle(run.runDir, join(root, name), { annIndex: false, ...opts });
  }
  http = await staticServer(root);
  scorer = await WasmScorer.load(wasmBytes!);
});
after(async () => {
  await http?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Known users (raw CSV rows with a context value), an unknown user, a user with unseen values and one without features. */
function users(run: TinyRun): UserFeatures[] {
  const known = ['u0', 'u7', 'u42', 'u99'].map((u) => ({ ...run.users.get(u)!, device: 'ios' }) as UserFeatures);
  return [...known, { user_id: 'nobody', device: 'tv' }, { ...known[1], device: 'fridge' }, {}];
}

/** Every item shuffled, with repeats, unknown ids (one a number) and a number id of a known item. */
function candidates(run: TinyRun): (string | number)[] {
  const keys = [...run.data.itemKeys];
  const out: (string | number)[] = keys.map((_, i) => keys[(i * 17 + 5) % keys.length]);
  out.splice(3, 0, 'no-such-item', keys[0], 404404);
  return out;
}

/** The same answer: ids in order, scores within 1e-5 of the largest, unknown, oov and modelVersion equal. */
function assertSame(got: ScoreResponse, want: ScoreResponse, what: string): void {
  assert.deepEqual(got.items.map((x) => x.id), want.items.map((x) => x.id), `${what}: order`);
  const top = Math.max(1, ...want.items.map((x) => Math.abs(x.score)));
  got.items.forEach((x, i) => assert.ok(Math.abs(x.score - want.items[i].score) <= 1e-5 * top, `${what}: ${x.id} ${x.score} vs ${want.items[i].score}`));
  assert.deepEqual(got.unknown, want.unknown, `${what}: unknown`);
  assert.deepEqual(got.oov, want.oov, `${what}: oov`);
  assert.equal(got.modelVersion, want.modelVersion);
}

for (const [name] of CASES) {
  test(`a ${name} bundle fetched into a page scores /v1/prerank and /v1/score bodies as the native server scorer does`, { skip }, async () => {
    const run = runs.get(name)!;
    const bundle = await Bundle.load(join(root, name));
    const server = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    assert.equal(server.path, 'native-plan');
    const web = await loadBundle(`${http.base}/${name}/`, { wasm: scorer });
    assert.equal(web.itemIds.size, bundle.items!.ids.size);
    const cands = candidates(run);
    for (const [u, user] of users(run).entries()) {
      assertSame(web.prerank({ user, candidates: cands, n: 10 }), await server.prerank({ user, candidates: cands, n: 10 }), `${name} user ${u} prerank`);
      assertSame(web.score({ user, candidates: cands }), await server.scoreAll({ user, candidates: cands }), `${name} user ${u} score`);
    }
    const none = web.prerank({ user: {}, candidates: ['x', 'y'] });
    assert.deepEqual(none, { items: [], unknown: ['x', 'y'], oov: (await server.prerank({ user: {}, candidates: ['x'] })).oov, modelVersion: bundle.modelVersion });
    const bad = { user: { no_such_feature: 1 }, candidates: cands };
    const serverError = await server.prerank(bad).then(() => null, (e: Error) => e);
    assert.throws(() => web.prerank(bad), (e: Error) => e instanceof RequestError && e.message === serverError?.message && e.path === 'user.no_such_feature');
    assert.throws(() => web.prerank({ user: {}, candidates: cands, n: 0 }), /n must be a positive integer/);
    web.dispose();
    bundle.dispose();
  });
}

test('a bundle explains its user side: user columns, and the user vectors the score reads', { skip }, async () => {
  const check = async (name: string, kind: string, parts: (b: WebBundle) => string[]) => {
    const web = await loadBundle(`${http.base}/${name}/manifest.json`, { wasm: scorer });
    const bundle = await Bundle.load(join(root, name));
    const user = users(runs.get(name)!)[0];
    const v = web.userVectors(user);
    assert.equal(v.kind, kind);
    assert.equal(v.from, 'tower');
    assert.deepEqual(v.parts.map((p) => p.name), parts(web));
    assert.equal(v.parts.reduce((a, p) => a + p.vectors.reduce((b, x) => b + x.length, 0), 0), v.rep.length);
    // the server's user rep (the native plan's encode of the same tower input)
    const server = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) }) as unknown as { encodeUser(u: UserFeatures): { rep: Float32Array } };
    const want = server.encodeUser(user).rep;
    assert.equal(v.rep.length, want.length);
    v.rep.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-5, `${name} rep[${i}] ${x} vs ${want[i]}`));
    assert.ok(web.userColumns.some((c) => c.kind === 'key' && c.column === 'user_id'));
    assert.ok(web.userColumns.some((c) => c.column === 'device' && c.source === 'context'));
    assert.ok(!web.userColumns.some((c) => c.feature === 'item_id'));
    web.dispose();
    bundle.dispose();
  };
  await check('dssm', 'dot', () => ['user']);
  // taps 'output' (the default): one part of H head vectors per user tower layer
  await check('int-tower', 'maxsim', (b) => (b.manifest.model.config as { tower: number[] }).tower.map((_, l) => `layer ${l + 1}`));
  await check('rank-tower', 'rankTower', () => ['E', 'Q', 'U', "K'", "V'"]);
});

test('format /1 and /2 bundles (encoders as JSON, ids as JSON arrays) load in a page and score as the server does', { skip }, async () => {
  const run = runs.get('dssm')!;
  const v2 = copyBundle('dssm-v2', (d) => asJsonIds(d, 'prerank-bundle/2'));
  const v1 = copyBundle('dssm-v1', (d) => {
    asJsonIds(d, 'prerank-bundle/1');
    writeFileSync(join(d, FILES.encoders), JSON.stringify(run.data.encoders.toJSON()));
    rmSync(join(d, FILES.encodersBin));
    rewriteManifest(d, (m) => {
      delete m.files[FILES.encodersBin];
      m.files[FILES.encoders] = sha256(readFileSync(join(d, FILES.encoders)));
    });
  });
  const bundle = await Bundle.load(join(root, 'dssm'));
  const server = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
  const cands = candidates(run);
  for (const url of [v1, v2]) {
    const web = await loadBundle(url, { wasm: scorer });
    assert.equal(web.manifest.format, url === v1 ? 'prerank-bundle/1' : 'prerank-bundle/2');
    assert.ok(web.sizes[FILES.itemIdsJson] > 0, 'ids.json fetched');
    if (url === v1) assert.equal(web.sizes[FILES.encodersBin], undefined, 'format /1 fetches no encoders.bin');
    for (const user of users(run).slice(0, 3)) {
      const want = await server.prerank({ user, candidates: cands, n: 10 });
      assertSame(web.prerank({ user, candidates: cands, n: 10 }), { ...want, modelVersion: web.modelVersion }, `${web.manifest.format}`);
    }
    web.dispose();
  }
  bundle.dispose();
});

/** A copy of the dssm bundle under `name`, edited by `edit`. */
function copyBundle(name: string, edit: (dir: string) => void): string {
  const dir = join(root, name);
  cpSync(join(root, 'dssm'), dir, { recursive: true });
  edit(dir);
  return `${http.base}/${name}/`;
}

/** Rewrites manifest.json with a consistent hash after `edit`. */
function rewriteManifest(dir: string, edit: (m: BundleManifest) => void): void {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  edit(m);
  m.hash = modelHash(m);
  m.modelVersion = modelVersionOf(m.model.kind, m.hash);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

test('bad bundles are refused naming the file or URL and what was expected', { skip }, async () => {
  const refused = async (url: string, message: RegExp) =>
    assert.rejects(loadBundle(url, { wasm: scorer }), (e: Error) => e instanceof WebBundleError && message.test(e.message), String(message));
  await refused(`${http.base}/nothing-here/`, /bundle http:\/\/127\.0\.0\.1:\d+\/nothing-here\/: cannot fetch manifest\.json \(http:\/\/.*\/nothing-here\/manifest\.json\): HTTP 404/);
  await refused(copyBundle('no-weights', (d) => rmSync(join(d, FILES.weightsBin))), /cannot fetch weights\/tensors\.bin \(http:.*\/no-weights\/weights\/tensors\.bin\): HTTP 404/);
  await refused(copyBundle('no-ids', (d) => rmSync(join(d, FILES.itemIds))), /cannot fetch items\/ids\.bin .*HTTP 404/);
  await refused(copyBundle('format-9', (d) => rewriteManifest(d, (m) => (m.format = 'prerank-bundle/9'))),
    /manifest\.json has format 'prerank-bundle\/9'; this prerank reads 'prerank-bundle\/1', 'prerank-bundle\/2', 'prerank-bundle\/3'/);
  await refused(copyBundle('edited', (d) => {
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as BundleManifest;
    (m.model.config as Record<string, unknown>).temperature = 0.5;
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
  }), /manifest\.json was edited/);
  await refused(copyBundle('changed-reps', (d) => {
    const b = readFileSync(join(d, FILES.itemReps));
    b[5] ^= 0xff;
    writeFileSync(join(d, FILES.itemReps), b);
  }), /items\/reps\.bin does not match the manifest/);
  await refused(copyBundle('short-reps', (d) => writeFileSync(join(d, FILES.itemReps), readFileSync(join(d, FILES.itemReps)).subarray(0, 64))),
    /items\/reps\.bin has 64 bytes, expected \d+ \(\d+ items x \d+ float32\)|items\/reps\.bin: .*not a whole number of rows/);
  await refused(copyBundle('kind-nope', (d) => rewriteManifest(d, (m) => (m.model.kind = 'nope'))), /model kind 'nope' is not registered here/);
  await refused(copyBundle('single-tower', (d) => rewriteManifest(d, (m) => (m.model.twoTower = false))),
    /model 'dssm' is a single-tower model: the web scorer scores two-tower bundles/);
});
