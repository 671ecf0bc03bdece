// GET /openapi.json states the running server's contract: every route it serves, and bodies that the live answers
// (and the requests the server accepts or refuses) match, checked with an independent JSON Schema validator (Ajv,
// draft 2020-12). Request ids and the JSON access log of `prerank serve`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { exportBundle } from '../src/export/index.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
let bundle: string;
let srv: PrerankServer;
let doc: { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>; components: { schemas: Record<string, object> } };
const ajv = new Ajv2020({ strict: false, allErrors: true });

before(async () => {
  root = tempDir('openapi');
  run = await tinyRun(root, 'dssm');
  bundle = join(root, 'b');
  await exportBundle(run.runDir, bundle);
  srv = await createServer({ bundle, limits: { maxCandidates: 50 }, defaultMetrics: false });
  doc = (await srv.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  ajv.addSchema({ $id: 'doc', components: doc.components });
});
after(async () => {
  await srv?.app.close();
  rmSync(root, { recursive: true, force: true });
});

const user = () => ({ ...run.users.get('u1')!, device: 'ios' });
const post = (url: string, body: unknown) =>
  srv.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

/** Checks a value against a component of the served document; returns Ajv's complaints ('' when it fits). */
function check(component: string, value: unknown): string {
  const validate = ajv.getSchema(`doc#/components/schemas/${component}`);
  assert.ok(validate, `no component ${component}`);
  return validate(value) ? '' : ajv.errorsText(validate.errors);
}

/** The documented response component of a path, method and status. */
const responseComponent = (path: string, method: string, status: number): string =>
  doc.paths[path][method].responses[status].content!['application/json'].schema.$ref!.split('/').pop()!;

test('the document is OpenAPI 3.1 and lists exactly the routes the server serves', () => {
  assert.equal(doc.openapi, '3.1.0');
  // the route tree prints a wildcard route ('/ui/*') as a '*' line under its parent's ('/ui')
  let parent = '';
  const served = [...srv.app.printRoutes({ commonPrefix: false }).matchAll(/(\/[^\s(]*|\*) \(([A-Z, ]+)\)/g)]
    .flatMap(([, path, methods]) => {
      const url = path === '*' ? `${parent}/*` : (parent = path);
      return methods.split(', ').filter((m) => m !== 'HEAD').map((m) => `${m.toLowerCase()} ${url}`);
    });
  const documented = Object.entries(doc.paths).flatMap(([url, ops]) => Object.keys(ops).map((m) => `${m} ${url}`));
  assert.deepEqual(documented.sort(), served.sort());
});

test("the request schemas take this server's limits: a body it accepts fits, one it refuses does not", async () => {
  const ids = ['i0', 'i3', 'i10'];
  const good = { user: user(), candidates: ids, n: 2 };
  assert.equal(check('PrerankRequest', good), '');
  assert.equal((await post('/v1/prerank', good)).statusCode, 200);
  for (const bad of [{ ...good, extra: 1 }, { ...good, candidates: Array(51).fill(ids[0]) }, { ...good, n: 0 }, { user: user() }]) {
    assert.notEqual(check('PrerankRequest', bad), '', JSON.stringify(bad).slice(0, 80));
    assert.equal((await post('/v1/prerank', bad)).statusCode, 400);
  }
  assert.notEqual(check('RetrieveRequest', { user: user(), k: 1001 }), '');
});

test('live answers of every route fit their documented response schemas', async () => {
  const ids = ['i0', 'i3', 'i10', 'i20', 'i33'];
  const answers: [string, string, number, unknown][] = [];
  const record = async (path: string, method: 'get' | 'post', r: { statusCode: number; json: () => unknown }) => {
    answers.push([path, method, r.statusCode, r.json()]);
  };
  await record('/v1/prerank', 'post', await post('/v1/prerank', { user: user(), candidates: [...ids, 'nope'], n: 3 }));
  await record('/v1/score', 'post', await post('/v1/score', { user: user(), candidates: ids }));
  await record('/v1/retrieve', 'post', await post('/v1/retrieve', { user: user(), k: 4 }));
  await record('/v1/prerank', 'post', await post('/v1/prerank', { user: user(), candidates: 'x' }));
  await record('/healthz', 'get', await srv.app.inject({ method: 'GET', url: '/healthz' }));
  await record('/readyz', 'get', await srv.app.inject({ method: 'GET', url: '/readyz' }));
  await record('/admin/reload', 'post', await post('/admin/reload', { bundle }));
  await record('/admin/reload', 'post', await post('/admin/reload', {}));
  assert.deepEqual(answers.map(([p, , s]) => `${p} ${s}`), ['/v1/prerank 200', '/v1/score 200', '/v1/retrieve 200', '/v1/prerank 400',
    '/healthz 200', '/readyz 200', '/admin/reload 200', '/admin/reload 400']);
  for (const [path, method, status, body] of answers) assert.equal(check(responseComponent(path, method, status), body), '', `${path} ${status}`);
  // the schemas are not vacuous: a score answer missing a field or with a string score does not fit
  const [, , , scored] = answers[0] as [string, string, number, { items: { id: string; score: number }[] }];
  assert.notEqual(check('ScoreResponse', { ...scored, modelVersion: undefined }), '');
  assert.notEqual(check('ScoreResponse', { ...scored, items: [{ id: 'a', score: '1' }] }), '');
});

test('a request id comes back in x-request-id: the caller\'s when it sends one, else a new one per request', async () => {
  const sent = await srv.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-7' } });
  assert.equal(sent.headers['x-request-id'], 'trace-7');
  const a = (await srv.app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id'];
  const b = (await srv.app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id'];
  assert.match(String(a), /^[0-9a-f-]{36}$/);
  assert.notEqual(a, b);
  const long = await srv.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'x'.repeat(500) } });
  assert.match(String(long.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'an over-long id is replaced');
});

/** `prerank serve` on a real socket with these flags: one request, then its stdout after SIGTERM. */
async function serveOnce(flags: string[], headers: Record<string, string>): Promise<{ out: string; status: number }> {
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'serve', '--bundle', bundle, '--port', '0', '--ann', 'off', ...flags],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  const t0 = Date.now();
  while (!/ on (http:\/\/\S+) /.test(out) && child.exitCode === null && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
  const address = / on (http:\/\/\S+) /.exec(out)?.[1];
  assert.ok(address, out);
  const r = await fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ user: user(), candidates: ['i0', 'i3'] }) });
  await r.arrayBuffer();
  await new Promise((w) => setTimeout(w, 100));
  child.kill('SIGTERM');
  await exited;
  return { out, status: r.status };
}

test('`prerank serve` writes one JSON access line per request at --log-level info (the default), none at warn', async () => {
  const info = await serveOnce([], { 'x-request-id': 'req-42' });
  assert.equal(info.status, 200);
  const lines = info.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const access = lines.filter((l) => l.msg === 'request');
  assert.equal(access.length, 1, info.out);
  assert.equal(access[0].reqId, 'req-42');
  assert.equal(access[0].url, '/v1/score');
  assert.equal(access[0].status, 200);
  assert.equal(typeof access[0].ms, 'number');
  const warn = await serveOnce(['--log-level', 'warn'], {});
  assert.equal(warn.out.split('\n').filter((l) => l.includes('"msg":"request"')).length, 0, warn.out);
});
