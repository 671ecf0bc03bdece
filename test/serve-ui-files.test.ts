// The explorer page's files behind /ui: content types, the bundle's listed files only, no way out of the three roots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import { UI_DIR } from '../src/serve/explorer.js';
import { tempDir, tinyRun } from './serve-fixture.js';

let root: string, bundle: string;
let srv: PrerankServer;

before(async () => {
  root = tempDir('ui-files');
  bundle = join(root, 'b');
  await exportBundle((await tinyRun(root, 'dssm')).runDir, bundle);
  symlinkSync('/etc/hostname', join(bundle, 'items', 'link.json'));
  srv = await createServer({ bundle, defaultMetrics: false });
});
after(async () => {
  await srv?.app.close();
  rmSync(root, { recursive: true, force: true });
});

const get = (url: string) => srv.app.inject({ method: 'GET', url });

test('the page, its modules, prerank/web and the bundle files are served with their content types', async () => {
  const cases: [string, RegExp][] = [
    ['/ui/', /^text\/html; charset=utf-8$/], ['/ui/index.html', /^text\/html/], ['/ui/app.js', /^text\/javascript/],
    ['/ui/style.css', /^text\/css/], ['/ui/web/src/web/index.js', /^text\/javascript/], ['/ui/vendor/zod/index.js', /^text\/javascript/],
    ['/ui/bundle/main/manifest.json', /^application\/json$/], ['/ui/bundle/main/items/reps.bin', /^application\/octet-stream$/],
  ];
  if (existsSync(join(process.cwd(), 'dist/wasm/prerank-scorer.wasm'))) cases.push(['/ui/web/wasm/prerank-scorer.wasm', /^application\/wasm$/]);
  for (const [url, type] of cases) {
    const r = await get(url);
    assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 100)}`);
    assert.match(String(r.headers['content-type']), type, url);
    assert.equal(Number(r.headers['content-length']), r.rawPayload.length, `${url}: content-length`);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  }
  assert.equal((await get('/ui/')).body, readFileSync(join(UI_DIR, 'index.html'), 'utf8'));
  assert.deepEqual((await get('/ui/bundle/main/items/reps.bin')).rawPayload, readFileSync(join(bundle, 'items/reps.bin')));
  const r = await get('/ui');
  assert.equal(r.statusCode, 302);
  assert.equal(r.headers.location, '/ui/');
});

test('paths out of the page, the web build or the bundle, and bundle files the manifest does not list, are 404s', async () => {
  for (const url of [
    '/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json', '/ui/web/src/../../package.json',
    '/ui/web/src/%2e%2e/%2e%2e/package.json', '/ui/web/src/serve/server.ts', '/ui/web/src/web/index.d.ts', '/ui/web/package.json',
    '/ui/bundle/main/../manifest.json', '/ui/bundle/main/%2e%2e/%2e%2e/package.json', '/ui/bundle/main/items/link.json',
    '/ui/bundle/main/encoders.json%00', '/ui/bundle/main/items', '/ui/bundle/compare/manifest.json', '/ui/bundle/other/manifest.json',
    '/ui/nope.html', '/ui/sub/app.js', '/ui/vendor/zod/package.json', '/ui/vendor/zod/../../fastify/package.json', '/ui/vendor/other/index.js', '/ui/%5c..%5cpackage.json', '/ui/web/',
  ]) {
    const r = await get(url);
    assert.equal(r.statusCode, 404, `${url}: ${r.statusCode} ${r.body.slice(0, 80)}`);
    assert.match(r.json().error, /^not found$/i, url); // ours, or the router's for a path it normalised out of /ui
  }
});
