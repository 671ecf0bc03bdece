// POST /v1/explain against the served scores (DSSM, IntTower and RankTower bundles), GET /v1/model and /v1/users,
// a compare bundle behind ?model=compare, and item attributes written at export from the items file. A bfloat16 item
// table is explained with the user rep rounded to bf16, as its kernels score it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import type { ExplainResponse } from '../src/serve/explorer.js';
import type { ScoreResponse } from '../src/serve/scorer.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
const servers: Record<string, PrerankServer> = {};
const KINDS = ['dssm', 'int-tower', 'rank-tower'] as const;

before(async () => {
  root = tempDir('explain');
  for (const kind of KINDS) {
    const r = await tinyRun(root, kind);
    if (kind === 'dssm') run = r;
    await exportBundle(r.runDir, join(root, `b-${kind}`));
    if (kind === 'int-tower') await exportBundle(r.runDir, join(root, 'b-int-bf16'), { itemDtype: 'bfloat16' });
  }
  await exportBundle((await tinyRun(root, 'dcn')).runDir, join(root, 'b-dcn'));
  for (const kind of KINDS) servers[kind] = await createServer({ bundle: join(root, `b-${kind}`), defaultMetrics: false });
  servers.compare = await createServer({ bundle: join(root, 'b-int-tower'), compare: join(root, 'b-dssm'), defaultMetrics: false });
  servers.dcn = await createServer({ bundle: join(root, 'b-dcn'), defaultMetrics: false });
  servers['int-tower-bf16'] = await createServer({ bundle: join(root, 'b-int-bf16'), defaultMetrics: false });
});
after(async () => {
  for (const s of Object.values(servers)) await s.app.close();
  rmSync(root, { recursive: true, force: true });
});

const user = () => ({ ...run.users.get('u1')!, device: 'ios' });
const CANDIDATES = ['i3', 'i10', 'zzz', 'i0', 'i20', 'i33', 'i41', 'i7'];
const post = (s: PrerankServer, url: string, body: unknown) =>
  s.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

async function explained(kind: string): Promise<{ ex: ExplainResponse; served: ScoreResponse }> {
  const r = await post(servers[kind], '/v1/explain', { user: user(), candidates: CANDIDATES });
  assert.equal(r.statusCode, 200, r.body);
  const served = (await post(servers[kind], '/v1/score', { user: user(), candidates: CANDIDATES })).json() as ScoreResponse;
  return { ex: r.json() as ExplainResponse, served };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

for (const kind of [...KINDS, 'int-tower-bf16']) {
  test(`${kind}: each explanation's terms plus bias sum to the served score, items in the served order`, async () => {
    const { ex, served } = await explained(kind);
    assert.deepEqual(ex.items.map((x) => x.id), served.items.map((x) => x.id));
    assert.deepEqual(ex.unknown, ['zzz']);
    for (const [i, it] of ex.items.entries()) {
      assert.equal(it.score, served.items[i].score);
      const e = it.explanation;
      const terms = e.kind === 'dot' ? e.contribution : e.heads.reduce((a, h) => a + h.contribution, 0);
      close(terms + e.bias, it.score, `${kind} ${it.id}: terms + bias`);
      close(e.total, it.score, `${kind} ${it.id}: total`);
    }
  });
}

test('dssm: the explanation is the dot product, scaled, plus the bias', async () => {
  const { ex } = await explained('dssm');
  const e = ex.items[0].explanation;
  assert.equal(e.kind, 'dot');
  if (e.kind === 'dot') close(e.scale * e.dot, e.contribution, 'scale * dot');
});

test('int-tower: one term per user head (layer, head), each naming the item head that won its max', async () => {
  const { ex } = await explained('int-tower');
  const e = ex.items[0].explanation;
  assert.equal(e.kind, 'maxsim');
  if (e.kind !== 'maxsim') return;
  assert.ok(e.heads.length >= 2);
  const H = Math.max(...e.heads.map((h) => h.head!)) + 1;
  for (const h of e.heads) {
    assert.equal(h.layer! * H + h.head!, h.user);
    assert.ok(Number.isInteger(h.item) && h.item >= 0 && h.item < H, `item head ${h.item}`);
    close(h.contribution, e.scale * h.sim, 'contribution = scale * sim');
  }
});

test('rank-tower: GAU gate values of both sides lie in [0, 1]; cosines in [-1, 1]', async () => {
  const { ex } = await explained('rank-tower');
  for (const it of ex.items) {
    const e = it.explanation;
    assert.equal(e.kind, 'rankTower');
    if (e.kind !== 'rankTower') continue;
    assert.equal(e.userGates!.length, 3); // the tiny config's user heads
    assert.equal(e.itemGates!.length, 2);
    for (const g of [...e.userGates!, ...e.itemGates!]) assert.ok(g >= 0 && g <= 1, `gate ${g}`);
    for (const h of e.heads) assert.ok(h.sim >= -1 - 1e-6 && h.sim <= 1 + 1e-6, `cosine ${h.sim}`);
  }
});

test('explained items carry the attributes the bundle took from the items file', async () => {
  const { ex } = await explained('dssm');
  const items = new Map(readFileSync(join(root, 'data', 'items.csv'), 'utf8').trim().split('\n').slice(1).map((l) => [l.split(',')[0], l.split(',')]));
  for (const it of ex.items) {
    const row = items.get(String(it.id))!;
    assert.deepEqual(it.attributes, { category: row[1], genres: row[2], price: row[3] });
  }
  const m = JSON.parse(readFileSync(join(root, 'b-dssm', 'manifest.json'), 'utf8'));
  assert.deepEqual(m.attributes, { columns: ['category', 'genres', 'price'], count: 60 });
});

test('POST /v1/explain refuses bad bodies with 400s naming the field, and models it cannot explain with 501', async () => {
  const s = servers.dssm;
  const cases: [unknown, string][] = [
    [{ user: user() }, 'candidates'],
    [{ user: user(), candidates: ['i1', {}] }, 'candidates.1'],
    [{ user: user(), candidates: Array(201).fill('i1') }, 'candidates'],
    [{ user: { ...user(), shoe: 1 }, candidates: ['i1'] }, 'user.shoe'],
    [{ user: user(), candidates: ['i1'], n: 3 }, 'n'],
    ['[1,', ''],
  ];
  for (const [body, path] of cases) {
    const r = typeof body === 'string' ? await s.app.inject({ method: 'POST', url: '/v1/explain', headers: { 'content-type': 'application/json' }, payload: body }) : await post(s, '/v1/explain', body);
    assert.equal(r.statusCode, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.body}`);
    assert.equal(r.json().path, path, r.body);
  }
  const r = await post(servers.dcn, '/v1/explain', { user: user(), candidates: ['i1'] });
  assert.equal(r.statusCode, 501, r.body);
  assert.match(r.json().message, /cannot be explained/);
});

test('?model=compare asks the second bundle; a server without one answers 404, an unknown model 400', async () => {
  const s = servers.compare;
  const main = (await s.app.inject({ url: '/v1/model' })).json();
  const other = (await s.app.inject({ url: '/v1/model?model=compare' })).json();
  assert.equal(main.kind, 'int-tower');
  assert.equal(other.kind, 'dssm');
  assert.equal(other.compare, true);
  assert.equal(other.bundleUrl, '/ui/bundle/compare/');
  const a = (await post(s, '/v1/prerank?model=compare', { user: user(), candidates: CANDIDATES, n: 3 })).json() as ScoreResponse;
  const b = (await post(servers.dssm, '/v1/prerank', { user: user(), candidates: CANDIDATES, n: 3 })).json() as ScoreResponse;
  assert.deepEqual(a.items, b.items);
  assert.equal((await post(servers.dssm, '/v1/prerank?model=compare', { user: user(), candidates: CANDIDATES })).statusCode, 404);
  const bad = await post(s, '/v1/prerank?model=other', { user: user(), candidates: CANDIDATES });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().path, 'model');
});

test('GET /v1/model names the user features a request takes; GET /v1/users finds known ids by prefix', async () => {
  const s = servers.dssm;
  const m = (await s.app.inject({ url: '/v1/model' })).json();
  assert.equal(m.userKey, 'user_id');
  assert.deepEqual(m.userFeatures.map((f: { columns: string[] }) => f.columns[0]).sort(), ['age', 'device', 'gender', 'user_id']);
  assert.deepEqual(m.attributes, ['category', 'genres', 'price']);
  const u = (await s.app.inject({ url: '/v1/users?prefix=u11&limit=5' })).json();
  assert.ok(u.users.length >= 1 && u.users.length <= 5);
  for (const id of u.users) assert.ok(id.startsWith('u11'), id);
  assert.equal(u.users[0], 'u11', 'an exact id comes first');
  assert.ok(u.known > 100);
  for (const q of ['limit=0', 'limit=x', `prefix=${'a'.repeat(300)}`]) assert.equal((await s.app.inject({ url: `/v1/users?${q}` })).statusCode, 400, q);
});

test('GET /v1/user-profile gives what the bundle holds about a user: its statistic and its history of liked items, with attributes', async () => {
  const s = servers.dssm;
  const u = (await s.app.inject({ url: '/v1/user-profile?id=u1' })).json();
  assert.equal(u.known, true);
  const fitted = run.data.encoders.entityFeatures('user', 'u1'); // the training encoders, not the bundle's binary tables
  assert.deepEqual(u.stats, fitted.stats);
  assert.ok(u.stats.user_ctr >= 0 && u.stats.user_ctr <= 1);
  assert.deepEqual(u.history.user_hist.map((x: { id: string }) => x.id), fitted.history.user_hist);
  assert.ok(u.history.user_hist.length > 0);
  const liked = new Set(readFileSync(join(root, 'data', 'events.csv'), 'utf8').trim().split('\n').slice(1)
    .map((l) => l.split(',')).filter((v) => v[0] === 'u1' && Number(v[2]) > 3).map((v) => v[1]));
  for (const x of u.history.user_hist) {
    assert.ok(liked.has(x.id), `${x.id} is an item u1 liked`);
    assert.equal(typeof x.attributes.category, 'string');
  }
  assert.deepEqual((await s.app.inject({ url: '/v1/user-profile?id=nobody' })).json(), { id: 'nobody', known: false, stats: { user_ctr: null }, history: { user_hist: [] } });
  assert.equal((await s.app.inject({ url: '/v1/user-profile' })).statusCode, 400);
});
