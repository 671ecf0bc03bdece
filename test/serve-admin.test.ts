// The admin routes: who may reach them (loopback rule, token, --no-admin), the token check, and the bundle root a
// reload may load from (`..` and symlink escapes refused). In process (fastify inject) and the CLI in a child process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { checkAdminExposure, isLoopback, resolveUnderRoot, tokenMatches } from '../src/serve/admin.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import { tempDir, tinyRun } from './serve-fixture.js';

let root: string;
let bundles: string;
let outside: string;
let b1: string, b2: string, b3: string;

before(async () => {
  root = tempDir('admin');
  const run = await tinyRun(root, 'dssm');
  bundles = join(root, 'bundles');
  outside = join(root, 'outside');
  b1 = join(bundles, 'b1');
  b2 = join(bundles, 'b2');
  b3 = join(outside, 'b3');
  await exportBundle(run.runDir, b1, { annIndex: false });
  mkdirSync(outside, { recursive: true });
  cpSync(b1, b2, { recursive: true });
  cpSync(b1, b3, { recursive: true });
  symlinkSync(b3, join(bundles, 'link-to-b3')); // a bundle-shaped symlink leading out of the root
  symlinkSync(outside, join(bundles, 'link-to-outside')); // a directory symlink: link-to-outside/b3
});
after(() => rmSync(root, { recursive: true, force: true }));

const reload = (s: PrerankServer, bundle: string, token?: string) => s.app.inject({ method: 'POST', url: '/admin/reload',
  headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { 'x-admin-token': token }) }, payload: JSON.stringify({ bundle }) });

test('loopback is 127.0.0.0/8, ::1 and localhost; 0.0.0.0, ::, LAN addresses and other names are not', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ['0.0.0.0', '::', '[::]', '10.0.0.1', '128.0.0.1', '126.0.0.1', '::2', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', '']) {
    assert.equal(isLoopback(h), false, h);
  }
});

test('a non-loopback host with the admin routes on and no token is refused; a token or admin off allows it', async () => {
  assert.throws(() => checkAdminExposure({ host: '0.0.0.0' }), /non-loopback.*--admin-token or PRERANK_ADMIN_TOKEN.*--no-admin/);
  assert.throws(() => checkAdminExposure({ host: '::' }), /non-loopback/);
  assert.throws(() => checkAdminExposure({ host: '127.0.0.1', adminToken: '' }), /empty/);
  checkAdminExposure({ host: '127.0.0.1' });
  checkAdminExposure({ host: '0.0.0.0', adminToken: 't' });
  checkAdminExposure({ host: '0.0.0.0', admin: false });
  await assert.rejects(createServer({ bundle: b1, host: '0.0.0.0', defaultMetrics: false }), /non-loopback/);
  for (const o of [{ adminToken: 't' }, { admin: false }]) {
    const s = await createServer({ bundle: b1, host: '0.0.0.0', defaultMetrics: false, ...o });
    await s.app.close();
  }
});

test('tokens: equal strings match; other values, lengths and types do not', () => {
  assert.equal(tokenMatches('s3cret', 's3cret'), true);
  for (const g of ['s3creT', 's3cre', 's3cret ', '', undefined, ['s3cret'], 42]) assert.equal(tokenMatches(g, 's3cret'), false, JSON.stringify(g));
});

test('POST /admin/reload: a missing or wrong token is 401; the right one reloads (200)', async () => {
  const s = await createServer({ bundle: b1, adminToken: 'k1', defaultMetrics: false });
  try {
    for (const t of [undefined, '', 'k2', 'k1k1', 'K1']) {
      const r = await reload(s, b2, t);
      assert.equal(r.statusCode, 401, `token ${t}: ${r.body}`);
      assert.equal(r.json().error, 'unauthorized');
    }
    const ok = await reload(s, b2, 'k1');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(s.service.deployment!.bundle.dir, b2);
  } finally {
    await s.app.close();
  }
});

test('POST /admin/reload loads only from under the bundle root: outside, ../ traversal and symlink escapes are 403 naming the root', async () => {
  const s = await createServer({ bundle: b1, defaultMetrics: false }); // root: the parent of --bundle
  try {
    const escapes = [b3, join(bundles, '..', 'outside', 'b3'), '../outside/b3', join(bundles, 'link-to-b3'), join(bundles, 'link-to-outside', 'b3'), '/', root,
      join(bundles, 'link-to-outside', 'no-such-bundle')];
    for (const p of escapes) {
      const r = await reload(s, p);
      assert.equal(r.statusCode, 403, `${p}: ${r.body}`);
      assert.equal(r.json().error, 'forbidden');
      assert.match(r.json().message, new RegExp(`outside the bundle root ${bundles.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), r.body);
    }
    assert.equal(s.service.deployment!.bundle.dir, b1, 'still serving the first bundle');
    const missing = await reload(s, join(bundles, 'nope'));
    assert.equal(missing.statusCode, 422, missing.body);
    const rel = await reload(s, 'b2'); // relative to the root
    assert.equal(rel.statusCode, 200, rel.body);
    assert.equal(s.service.deployment!.bundle.dir, b2);
  } finally {
    await s.app.close();
  }
  const wide = await createServer({ bundle: b1, bundleRoot: root, defaultMetrics: false });
  try {
    assert.equal((await reload(wide, b3)).statusCode, 200, 'an explicit root that holds the path');
    assert.equal((await reload(wide, join(root, '..'))).statusCode, 403);
  } finally {
    await wide.app.close();
  }
});

test('admin: false leaves the admin routes out (404)', async () => {
  const s = await createServer({ bundle: b1, admin: false, defaultMetrics: false });
  try {
    assert.equal((await reload(s, b2)).statusCode, 404);
  } finally {
    await s.app.close();
  }
});

test('resolveUnderRoot: the resolved path is what loads; no root configured refuses', async () => {
  assert.deepEqual(await resolveUnderRoot(bundles, 'b2'), { ok: true, path: b2 });
  const none = await resolveUnderRoot(undefined, b2);
  assert.equal(none.ok, false);
  // a name the file system cannot hold (ENAMETOOLONG) is a refusal, not an error
  const long = await resolveUnderRoot(bundles, 'a'.repeat(300));
  assert.equal(long.ok, false);
  assert.match((long as { message: string }).message, /cannot be resolved under the bundle root/);
});

/** Runs `prerank serve` until its start line (or exit); returns the output and a stop function. */
async function serveCli(args: string[], env: Record<string, string> = {}): Promise<{ out: string; err: string; code: number | null; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'serve', '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PRERANK_ADMIN_TOKEN: '', ...env } });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const t0 = Date.now();
  while (child.exitCode === null && !/ on http/.test(out) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
  return { out, err, code: child.exitCode, stop: async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  } };
}

test('`prerank serve --host 0.0.0.0` refuses to start without a token; --no-admin says admin off; PRERANK_ADMIN_TOKEN is a token', async () => {
  const refused = await serveCli(['--bundle', b1, '--host', '0.0.0.0']);
  await refused.stop();
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.err, /refusing to serve the admin routes on 0\.0\.0\.0.*--no-admin/);
  const off = await serveCli(['--bundle', b1, '--host', '0.0.0.0', '--no-admin']);
  try {
    assert.match(off.out, / on http:\/\/\S+ \(.*admin off\)/, off.out + off.err);
  } finally {
    await off.stop();
  }
  const env = await serveCli(['--bundle', b1, '--host', '0.0.0.0'], { PRERANK_ADMIN_TOKEN: 'from-env' });
  try {
    assert.match(env.out, / on http:\/\/\S+ \(.*admin token, bundle root /, env.out + env.err);
    const address = /on (http:\/\/[^\s]+) /.exec(env.out)![1];
    const post = (token: string) => fetch(`${address}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-token': token },
      body: JSON.stringify({ bundle: b2 }) });
    assert.equal((await post('wrong')).status, 401);
    assert.equal((await post('from-env')).status, 200);
  } finally {
    await env.stop();
  }
  const help = await serveCli(['--help']);
  await help.stop();
  assert.equal(help.code, 0);
  assert.match(help.out, /PRERANK_ADMIN_TOKEN/);
  assert.match(help.out, /--no-admin/);
  assert.match(help.out, /--bundle-root/);
});
