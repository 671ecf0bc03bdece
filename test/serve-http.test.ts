// The HTTP service in process (fastify inject) for every route, bad bodies, overload, reload; the Redis store behind
// it; and one real-socket run of `prerank serve` ended by SIGTERM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import type { ScoreResponse } from '../src/serve/scorer.js';
import { redisAvailable, REDIS_SKIP, startRedis, tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
let b1: string, b2: string, bDcn: string, bInt: string;
let srv: PrerankServer;

before(async () => {
  root = tempDir('http');
  run = await tinyRun(root, 'dssm');
  const run2 = await tinyRun(root, 'dssm', 'dssm-2', 7);
  b1 = join(root, 'b1');
  b2 = join(root, 'b2');
  bDcn = join(root, 'b-dcn');
  bInt = join(root, 'b-int');
  await exportBundle(run.runDir, b1);
  await exportBundle(run2.runDir, b2, { itemDtype: 'float16' });
  await exportBundle((await tinyRun(root, 'dcn')).runDir, bDcn);
  await exportBundle((await tinyRun(root, 'int-tower')).runDir, bInt);
  srv = await createServer({ bundle: b1, limits: { maxCandidates: 100, bodyLimit: 20_000 }, defaultMetrics: false });
});
after(async () => {
  await srv?.app.close();
  rmSync(root, { recursive: true, force: true });
});

const user = () => ({ ...run.users.get('u1')!, device: 'ios' });
const post = (s: PrerankServer, url: string, body: unknown, headers: Record<string, string> = {}) =>
  s.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

test('POST /v1/prerank: top-n sorted, unknown ids reported separately, model version', async () => {
  const candidates = ['i3', 'i10', 'zzz', 'i0', 42, 'i20', 'i33', 'i3'];
  const r = await post(srv, '/v1/prerank', { user: user(), candidates, n: 4 });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as ScoreResponse;
  assert.equal(body.items.length, 4);
  for (let i = 1; i < 4; i++) assert.ok(body.items[i - 1].score >= body.items[i].score);
  assert.deepEqual(body.unknown, ['zzz', 42]);
  assert.match(body.modelVersion, /^dssm-/);
  assert.deepEqual(body.oov, []);
  const all = (await post(srv, '/v1/score', { user: user(), candidates })).json() as ScoreResponse;
  assert.equal(all.items.length, 6, 'score: every known candidate, duplicates kept');
  assert.deepEqual(body.items, all.items.slice(0, 4));
  const unk = (await post(srv, '/v1/prerank', { user: { ...user(), gender: 'X', user_id: 'new-user' }, candidates: ['nope'] })).json() as ScoreResponse;
  assert.deepEqual(unk.items, []);
  assert.deepEqual(unk.unknown, ['nope']);
  assert.ok(unk.oov.includes('gender') && unk.oov.includes('user_id'), JSON.stringify(unk.oov));
});

test('POST /v1/retrieve: ANN top-k rescored exactly', async () => {
  const r = await post(srv, '/v1/retrieve', { user: user(), k: 5 });
  assert.equal(r.statusCode, 200, r.body);
  const got = r.json() as ScoreResponse;
  assert.equal(got.items.length, 5);
  const all = (await post(srv, '/v1/score', { user: user(), candidates: run.data.itemKeys.slice(0, 60) })).json() as ScoreResponse;
  assert.deepEqual(got.items.map((x) => x.id), all.items.slice(0, 5).map((x) => x.id));
  for (const [i, x] of got.items.entries()) assert.ok(Math.abs(x.score - all.items[i].score) < 1e-6);
});

test('GET /healthz, /readyz, /metrics', async () => {
  assert.deepEqual((await srv.app.inject('/healthz')).json(), { status: 'ok' });
  const ready = (await srv.app.inject('/readyz')).json();
  assert.equal(ready.status, 'ready');
  assert.equal(ready.store, 'memory');
  assert.equal(ready.ann, 'usearch');
  const m = (await srv.app.inject('/metrics')).body;
  assert.match(m, /prerank_request_duration_seconds_bucket\{le="0.005",route="\/v1\/prerank",status="200"\}/);
  // Seconds, not milliseconds: the requests above took more than nothing and far less than a second each.
  const sum = Number(/prerank_request_duration_seconds_sum\{route="\/v1\/prerank",status="200"\} ([\d.e-]+)/.exec(m)?.[1]);
  const count = Number(/prerank_request_duration_seconds_count\{route="\/v1\/prerank",status="200"\} (\d+)/.exec(m)?.[1]);
  assert.ok(count > 0 && sum > 0 && sum / count < 1, `latency sum ${sum} s over ${count} requests`);
  assert.match(m, /prerank_candidates_per_request_count\{route="prerank"\} \d+/);
  assert.match(m, /prerank_unknown_candidates_total\{route="prerank"\} [1-9]/);
  assert.match(m, /prerank_feature_oov_total\{feature="gender"\} [1-9]/);
  assert.match(m, /prerank_oov_rate 0\.\d+/);
  assert.match(m, new RegExp(`prerank_model_info\\{version="${ready.modelVersion}",kind="dssm"\\} 1`));

  const empty = await createServer({ defaultMetrics: false });
  try {
    const r = await empty.app.inject('/readyz');
    assert.equal(r.statusCode, 503);
    const p = await post(empty, '/v1/prerank', { user: {}, candidates: [] });
    assert.equal(p.statusCode, 503);
    assert.ok(p.headers['retry-after']);
  } finally {
    await empty.app.close();
  }
});

test('bad bodies are 400s naming the bad field; big bodies 413; wrong content type 415', async () => {
  const bad = async (body: unknown, path: string, status = 400) => {
    const r = await post(srv, '/v1/prerank', body);
    assert.equal(r.statusCode, status, `${JSON.stringify(body)}: ${r.body}`);
    if (status === 400) assert.equal(r.json().path, path, r.body);
    return r;
  };
  await bad('{"user": {', '');
  await bad('[1, 2]', '');
  await bad({ candidates: ['i1'] }, 'user');
  await bad({ user: [], candidates: ['i1'] }, 'user');
  await bad({ user: {}, candidates: 'i1' }, 'candidates');
  await bad({ user: {}, candidates: ['i1', 'i2', { id: 3 }] }, 'candidates.2');
  await bad({ user: {}, candidates: ['i1', ''] }, 'candidates.1');
  await bad({ user: {}, candidates: [1.5, 'i1'] }, 'candidates.0');
  await bad({ user: {}, candidates: ['x'.repeat(257)] }, 'candidates.0');
  await bad({ user: {}, candidates: ['i1'], n: 0 }, 'n');
  await bad({ user: {}, candidates: ['i1'], n: 2.5 }, 'n');
  await bad({ user: {}, candidates: ['i1'], extra: true }, 'extra');
  await bad({ user: { age: { nested: 1 } }, candidates: ['i1'] }, 'user.age');
  await bad({ user: { agee: 30 }, candidates: ['i1'] }, 'user.agee');
  await bad({ user: { item_id: 'i1' }, candidates: ['i1'] }, 'user.item_id');
  await bad({ user: {}, candidates: Array.from({ length: 101 }, (_, i) => `i${i}`) }, 'candidates');
  const big = await post(srv, '/v1/prerank', { user: {}, candidates: ['x'.repeat(200)], pad: 'y'.repeat(30_000) });
  assert.equal(big.statusCode, 413);
  const text = await srv.app.inject({ method: 'POST', url: '/v1/prerank', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
  assert.equal(text.statusCode, 415);
  const r = await post(srv, '/v1/retrieve', { user: {}, k: 0 });
  assert.equal(r.json().path, 'k');
  const typo = (await post(srv, '/admin/reload', { bundel: 'x' })).json();
  assert.deepEqual(typo.issues.map((i: { path: string }) => i.path).sort(), ['bundel', 'bundle']);
});

test('overload: 503 with Retry-After (in-flight limit and @fastify/under-pressure); liveness still answers', async () => {
  const capped = await createServer({ bundle: b1, maxInflight: 0, retryAfter: 3, defaultMetrics: false });
  try {
    const r = await post(capped, '/v1/prerank', { user: {}, candidates: ['i1'] });
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers['retry-after'], '3');
  } finally {
    await capped.app.close();
  }
  const pressured = await createServer({ bundle: b1, underPressure: { maxHeapUsedBytes: 1, sampleInterval: 10 }, retryAfter: 2, defaultMetrics: false });
  try {
    await new Promise((r) => setTimeout(r, 60));
    const r = await post(pressured, '/v1/prerank', { user: {}, candidates: ['i1'] });
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers['retry-after'], '2');
    assert.equal(r.json().error, 'overloaded');
    assert.equal((await pressured.app.inject('/healthz')).statusCode, 200);
    assert.equal((await pressured.app.inject('/metrics')).statusCode, 200);
  } finally {
    await pressured.app.close();
  }
});

test('POST /admin/reload swaps atomically; in-flight requests finish on the old bundle; failures keep the old one', async () => {
  const s = await createServer({ bundle: b1, adminToken: 'secret', defaultMetrics: false });
  try {
    const v1 = s.service.deployment!.modelVersion;
    assert.equal((await post(s, '/admin/reload', { bundle: b2 })).statusCode, 401);
    const failed = await post(s, '/admin/reload', { bundle: join(root, 'missing') }, { 'x-admin-token': 'secret' });
    assert.equal(failed.statusCode, 422);
    assert.match(failed.json().message, /no manifest\.json/);
    assert.equal(s.service.deployment!.modelVersion, v1);

    // a request pinned to the old deployment across the swap
    const old = s.service.deployment!;
    let pinned: ScoreResponse | null = null;
    const inflight = s.service.with(async (d) => {
      await new Promise((r) => setTimeout(r, 50));
      pinned = await d.scorer.prerank({ user: user(), candidates: ['i1', 'i2'], n: 1 });
    });
    // and a stream of HTTP requests while the reload runs
    const burst = Array.from({ length: 40 }, (_, i) => new Promise((r) => setTimeout(r, i)).then(() => post(s, '/v1/prerank', { user: user(), candidates: ['i1', 'i2', 'i3'], n: 2 })));
    const reload = await post(s, '/admin/reload', { bundle: b2 }, { 'x-admin-token': 'secret' });
    assert.equal(reload.statusCode, 200, reload.body);
    const v2 = reload.json().modelVersion;
    assert.notEqual(v2, v1);
    assert.equal(reload.json().previous, v1);
    await inflight;
    assert.equal(pinned!.modelVersion, v1, 'in-flight request finished on the old bundle');
    const results = await Promise.all(burst);
    assert.ok(results.every((r) => r.statusCode === 200), 'no request dropped during the reload');
    const versions = new Set(results.map((r) => r.json().modelVersion));
    assert.ok([...versions].every((v) => v === v1 || v === v2));
    const after1 = (await post(s, '/v1/prerank', { user: user(), candidates: ['i1'] })).json();
    assert.equal(after1.modelVersion, v2);
    await new Promise((r) => setTimeout(r, 10));
    await assert.rejects(old.store!.get(['i1']), /closed/, 'the old deployment is closed once drained');
    const m = (await s.app.inject('/metrics')).body;
    assert.match(m, new RegExp(`prerank_model_info\\{version="${v2}"`));
    assert.doesNotMatch(m, new RegExp(`prerank_model_info\\{version="${v1}"`));
    assert.match(m, /prerank_reloads_total\{result="ok"\} 1/);
  } finally {
    await s.app.close();
  }
});

test('single-tower bundles: prerank works, retrieve and recommend are 501; a max-sim bundle retrieves', async () => {
  for (const dir of [bDcn, bInt]) {
    const s = await createServer({ bundle: dir, defaultMetrics: false });
    try {
      const r = await post(s, '/v1/prerank', { user: user(), candidates: ['i1', 'i2', 'nope', 'i4'], n: 2 });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().items.length, 2);
      assert.deepEqual(r.json().unknown, ['nope']);
      const q = await post(s, '/v1/retrieve', { user: user(), k: 3 });
      const rec = await post(s, '/v1/recommend', { user: user(), n: 3 });
      assert.deepEqual([q.statusCode, rec.statusCode], dir === bDcn ? [501, 501] : [200, 200], q.body);
    } finally {
      await s.app.close();
    }
  }
});

test('the Redis store behind the service: same scores as in process; a lost store is 503', { skip: redisAvailable() ? undefined : REDIS_SKIP }, async () => {
  const redis = await startRedis();
  let s: PrerankServer | null = null;
  try {
    s = await createServer({ bundle: b1, store: `${redis.url}?lru=16`, defaultMetrics: false });
    assert.equal(s.service.deployment!.store!.kind, 'redis');
    const body = { user: user(), candidates: ['i1', 'i9', 'gone', 'i30', 'i31'], n: 3 };
    const viaRedis = (await post(s, '/v1/prerank', body)).json();
    const inProc = (await post(srv, '/v1/prerank', body)).json();
    assert.deepEqual(viaRedis, inProc);
    await redis.stop();
    const r = await post(s, '/v1/prerank', { ...body, candidates: ['i50', 'i51'] });
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(r.json().error, 'item store unavailable');
  } finally {
    await s?.app.close();
    await redis.stop();
  }
});

test('`prerank serve` on a real socket answers, then exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'serve', '--bundle', b1, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => {
        // The ready line and the hint lines after it are separate writes and may arrive in separate chunks:
        // wait for the last one.
        const m = /on (http:\/\/[^\s]+) /.exec(out);
        if (m && /model explorer: /.test(out)) return resolve(m[1]);
        if (child.exitCode !== null || Date.now() - t0 > 30_000) return reject(new Error(`serve did not start: ${out}\n${err}`));
        setTimeout(poll, 50);
      };
      poll();
    });
    assert.match(out, /try: curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/prerank/);
    // A freshly started process on a busy machine may shed load (503 + Retry-After from under-pressure): ask again.
    const answered = async (path: string, init?: RequestInit): Promise<Response> => {
      for (let i = 0; ; i++) {
        const r = await fetch(`${address}${path}`, init);
        if (r.status !== 503 || i === 20) return r;
        await new Promise((w) => setTimeout(w, 250));
      }
    };
    const r = await answered('/v1/prerank', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: user(), candidates: ['i1', 'i2', 'i3'], n: 2 }) });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(((await r.json()) as ScoreResponse).items.length, 2);
    for (let i = 0; i < 20; i++) assert.equal((await answered('/healthz')).status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    assert.match(err, /SIGTERM: closing/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
