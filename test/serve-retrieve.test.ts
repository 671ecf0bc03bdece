// Retrieval over the whole catalogue for DSSM (inner-product index), IntTower and RankTower (multi-vector index over
// item heads): exact mode against a brute force with the training-time model, the index path against exact mode,
// recommendations, the manifest's retrieval entry (and bundles written without it), and the HTTP API's bad fields.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope } from '../src/core/index.js';
import { exportBundle } from '../src/export/index.js';
import type { BundleManifest } from '../src/export/manifest.js';
import { f32FromBase64, headVectors, retrievalIndexOf } from '../src/export/retrieval-index.js';
import { decodeAll } from '../src/export/item-table.js';
import { Deployment } from '../src/serve/service.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import type { ScoreResponse, UserFeatures } from '../src/serve/scorer.js';
import { createScorer, type NativePlanScorer } from '../src/serve/scorers/index.js';
import { pairBatch, tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

const KINDS = ['dssm', 'int-tower', 'rank-tower'] as const;
type Kind = (typeof KINDS)[number];
const root = tempDir('retrieve');
const runs = new Map<Kind, TinyRun>();
const bundles = new Map<Kind, string>();
const deployments = new Map<Kind, Deployment>();

before(async () => {
  for (const kind of KINDS) {
    const r = await tinyRun(root, kind);
    runs.set(kind, r);
    const dir = join(root, `b-${kind}`);
    await exportBundle(r.runDir, dir);
    bundles.set(kind, dir);
    deployments.set(kind, await Deployment.open(dir));
  }
});
after(async () => {
  for (const d of deployments.values()) await d.close();
  rmSync(root, { recursive: true, force: true });
});

const userOf = (r: TinyRun, id: string): UserFeatures => ({ ...r.users.get(id)!, device: 'ios' });

/** The training-time model over every item: encodeUser, encodeItem and score on the (user, item) pairs, best first. */
function bruteForce(r: TinyRun, user: UserFeatures): { id: string; score: number }[] {
  const n = r.data.itemKeys.length;
  const b = pairBatch(r.data, user, Array.from({ length: n }, (_, i) => i));
  const scores = noGrad(() => scope(() => {
    r.model.eval();
    const s = r.model.score!(r.model.encodeUser!(b), r.model.encodeItem!(b));
    return Float64Array.from((s.data as Float32Array).subarray(0, n));
  }));
  return Array.from(scores, (score, i) => ({ id: r.data.itemKeys[i], score })).sort((a, b) => b.score - a.score);
}

const USERS = ['u3', 'u17', 'u42', 'u77'];

for (const kind of KINDS) {
  test(`${kind}: exact mode gives the training-time model's top-k over every item`, async () => {
    const r = runs.get(kind)!;
    const scorer = deployments.get(kind)!.scorer;
    for (const u of USERS) {
      const ref = bruteForce(r, userOf(r, u)).slice(0, 10);
      const got = (await scorer.retrieve({ user: userOf(r, u), k: 10, mode: 'exact' })).items;
      assert.deepEqual(got.map((x) => x.id), ref.map((x) => x.id), `${kind} ${u}`);
      got.forEach((x, i) => assert.ok(Math.abs(x.score - ref[i].score) <= 1e-4, `${kind} ${u} #${i}: ${x.score} vs ${ref[i].score}`));
    }
  });

  test(`${kind}: the index searched to cover the corpus returns exactly the exact top-k`, async () => {
    const d = deployments.get(kind)!;
    assert.equal(d.ann?.kind, 'usearch');
    const n = runs.get(kind)!.data.itemKeys.length;
    for (const u of USERS) {
      const user = userOf(runs.get(kind)!, u);
      const exact = await d.scorer.retrieve({ user, k: 20, mode: 'exact' });
      const ann = await d.scorer.retrieve({ user, k: 20, mode: 'ann', perHead: 10 * n, ef: 10 * n, maxCandidates: n });
      assert.deepEqual(ann.items, exact.items, `${kind} ${u}`);
    }
  });
}

test('the manifest says which retrieval index a bundle has; bundles written without the entry keep their meaning', () => {
  const manifest = (k: Kind) => JSON.parse(readFileSync(join(bundles.get(k)!, 'manifest.json'), 'utf8')) as BundleManifest;
  const kinds = KINDS.map((k) => manifest(k).items);
  assert.deepEqual(kinds.map((i) => i.cached && i.retrievalIndex?.kind), ['inner-product', 'multi-vector', 'multi-vector']);
  const [, int, rank] = kinds.map((i) => (i.cached && i.retrievalIndex?.kind === 'multi-vector' ? i.retrievalIndex : null));
  assert.deepEqual([int!.layout.heads, int!.layout.size, int!.layout.queries, int!.layout.fidelity], [2, 8, 4, 'exact']); // tiny: 2 layers x 2 heads
  assert.deepEqual([rank!.layout.normalize, rank!.layout.fidelity, int!.file, rank!.file], [true, 'proxy', 'items/heads.usearch', 'items/heads.usearch']);
  assert.ok(manifest('int-tower').files['items/heads.usearch'] && !manifest('int-tower').files['items/ann.usearch']);
  // RankTower's proxy: anchored on the mean user and mean item reps (one rep of each side), IntTower's heads are not
  const anchors = rank!.layout.anchors!;
  const repWidths = (k: Kind) => { const t = deployments.get(k)!.bundle; return [t.manifest.items.cached ? t.manifest.items.userDim : 0, t.items!.dim]; };
  assert.deepEqual([f32FromBase64(anchors.user, 'user').length, f32FromBase64(anchors.item, 'item').length], repWidths('rank-tower'));
  assert.equal(int!.layout.anchors, undefined);
  const older = kinds.map((i) => retrievalIndexOf({ ...i, retrievalIndex: undefined } as typeof i, true).kind);
  assert.deepEqual(older, ['inner-product', 'none', 'none']);
});

test('RankTower index vectors are the items anchored on the mean user; bundles written before anchors index the normalised sub-spaces', () => {
  const b = deployments.get('rank-tower')!.bundle;
  const info = retrievalIndexOf(b.manifest.items, false);
  assert.ok(info.kind === 'multi-vector' && info.layout.anchors);
  const reps = decodeAll(b.items!), dim = b.items!.dim, l = info.layout;
  const anchored = headVectors(reps, dim, l, b.model);
  assert.deepEqual(anchored, b.model!.anchoredVectors!('item', reps, f32FromBase64(l.anchors!.user, 'user')));
  assert.throws(() => headVectors(reps, dim, l), /anchored vectors: computing them needs the model's anchoredVectors \('no model'/);
  const { anchors: _, ...older } = l;
  const sub = headVectors(reps, dim, older);
  assert.equal(sub.length, anchored.length);
  const row0 = Array.from(reps.subarray(0, l.size)), n0 = Math.hypot(...row0);
  row0.forEach((x, j) => assert.ok(Math.abs(sub[j] - x / n0) < 1e-6, `E_i head 0 component ${j}`));
  assert.notDeepEqual(sub, anchored);
});

test('a max-sim bundle written without a retrieval entry retrieves in exact mode; mode ann is refused', async () => {
  const d = deployments.get('int-tower')!;
  const m = structuredClone(d.bundle.manifest);
  if (m.items.cached) delete m.items.retrievalIndex;
  assert.equal(retrievalIndexOf(m.items, false).kind, 'none');
  const off = await Deployment.open(bundles.get('int-tower')!, { ann: 'off' });
  try {
    const r = runs.get('int-tower')!;
    const got = await off.scorer.retrieve({ user: userOf(r, 'u3'), k: 5 });
    assert.deepEqual(got.items.map((x) => x.id), bruteForce(r, userOf(r, 'u3')).slice(0, 5).map((x) => x.id));
    await assert.rejects(off.scorer.retrieve({ user: userOf(r, 'u3'), k: 5, mode: 'ann' }), /no retrieval index.*mode 'exact'/);
  } finally {
    await off.close();
  }
});

let srv: PrerankServer;
const post = (url: string, body: unknown) => srv.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

test('POST /v1/recommend drops the excluded ids and returns the best n of what retrieval scored', async () => {
  srv = await createServer({ bundle: bundles.get('int-tower')!, defaultMetrics: false, limits: { maxCandidates: 100, maxK: 50, bodyLimit: 1 << 20 } });
  const r = runs.get('int-tower')!;
  const user = userOf(r, 'u17');
  const top = (await post('/v1/retrieve', { user, k: 8, mode: 'exact' })).json() as ScoreResponse;
  const res = await post('/v1/recommend', { user, n: 4, k: 8, exclude: [top.items[1].id, top.items[3].id, 'unknown-id'], mode: 'exact' });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual((res.json() as ScoreResponse).items, [top.items[0], top.items[2], top.items[4], top.items[5]]);
  const dflt = (await post('/v1/recommend', { user, n: 3 })).json() as ScoreResponse;
  assert.deepEqual(dflt.items.map((x) => x.id), top.items.slice(0, 3).map((x) => x.id));
  const metrics = await srv.app.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /route="\/v1\/recommend"/);
});

test('bad retrieval and recommendation fields are 400s naming the field', async () => {
  const user = {};
  const cases: [string, unknown, string][] = [
    ['/v1/retrieve', { user, k: 5, mode: 'fast' }, 'mode'],
    ['/v1/retrieve', { user, k: 5, perHead: -1 }, 'perHead'],
    ['/v1/retrieve', { user, k: 5, sumDepth: 10_001 }, 'sumDepth'],
    ['/v1/retrieve', { user, k: 5, sumGroups: 0 }, 'sumGroups'],
    ['/v1/retrieve', { user, k: 5, ef: 1.5 }, 'ef'],
    ['/v1/retrieve', { user, k: 5, maxCandidates: 101 }, 'maxCandidates'],
    ['/v1/retrieve', { user, k: 5, kPrime: 3 }, 'kPrime'],
    ['/v1/recommend', { user }, 'n'],
    ['/v1/recommend', { user, n: 51 }, 'n'],
    ['/v1/recommend', { user, n: 3, k: 0 }, 'k'],
    ['/v1/recommend', { user, n: 3, exclude: ['i1', ''] }, 'exclude.1'],
    ['/v1/recommend', { user, n: 3, exclude: 'i1' }, 'exclude'],
    ['/v1/recommend', { user: { nope: 1 }, n: 3 }, 'user.nope'],
  ];
  for (const [url, body, path] of cases) {
    const res = await post(url, body);
    assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(body)}: ${res.body}`);
    const paths = [res.json().path, ...(res.json().issues ?? []).map((i: { path: string }) => i.path)];
    assert.ok(paths.includes(path), `${url} ${JSON.stringify(body)}: ${res.body}`);
  }
  await srv.app.close();
});

test('exact mode cut into slices (worker threads, or blocks on this thread) gives the top-k of one scan', async () => {
  const d = deployments.get('int-tower')!;
  const r = runs.get('int-tower')!;
  const bundle = d.bundle;
  const sliced = createScorer(bundle, { store: d.store, ann: null, asyncAboveMacs: 0 }) as NativePlanScorer;
  const blocks = createScorer(bundle, { store: d.store, ann: null }) as NativePlanScorer;
  sliced.exactShards = 3;
  blocks.storedBlock = 7;
  for (const u of USERS) {
    const one = await d.scorer.retrieve({ user: userOf(r, u), k: 12, mode: 'exact' });
    for (const s of [sliced, blocks]) assert.deepEqual((await s.retrieve({ user: userOf(r, u), k: 12 })).items, one.items, u);
  }
});
