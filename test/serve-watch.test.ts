// `serve --watch`: newly published versions are swapped in under load with no failed request; corrupt, truncated,
// incomplete versions and a dangling CURRENT are never served (the old version stays, the failure is logged once and
// counted by reason) and the watch keeps going; --watch alone starts on the current version, or not ready until the
// first publish; the CLI on a real socket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { publishVersion } from '../src/export/versions.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import { classifyReloadError } from '../src/serve/watch.js';
import { BundleError } from '../src/export/bundle.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run1: TinyRun;
let b1: string, b2: string;
let m1: string, m2: string;

before(async () => {
  root = tempDir('watch');
  run1 = await tinyRun(root, 'dssm');
  const run2 = await tinyRun(root, 'dssm', 'dssm-2', 7);
  b1 = join(root, 'b1');
  b2 = join(root, 'b2');
  m1 = (await exportBundle(run1.runDir, b1)).manifest.modelVersion;
  m2 = (await exportBundle(run2.runDir, b2)).manifest.modelVersion;
  assert.notEqual(m1, m2);
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A publish writer copying a ready bundle, then optionally damaging the copy (before the fsync and the rename). */
const copyOf = (src: string, damage?: (dir: string) => void) => async (dir: string): Promise<void> => {
  cpSync(src, dir, { recursive: true });
  damage?.(dir);
};

const user = () => ({ ...run1.users.get('u1')!, device: 'ios' });
const prerank = (s: PrerankServer) => s.app.inject({ method: 'POST', url: '/v1/prerank', headers: { 'content-type': 'application/json' },
  payload: JSON.stringify({ user: user(), candidates: ['i1', 'i2', 'i3', 'i9', 'i30'], n: 3 }) });
const ready = async (s: PrerankServer) => (await s.app.inject('/readyz')).json() as { status: string; version: string | null; modelVersion: string };
const metrics = async (s: PrerankServer) => (await s.app.inject('/metrics')).body;

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('published versions are swapped in under load; corrupt, truncated and incomplete ones are never served', async () => {
  const vroot = join(root, 'versions-main');
  await publishVersion(vroot, copyOf(b1));
  const logs: string[] = [];
  // The load runs in this process, so the event loop is the clients' too: load shedding (under-pressure) is off here;
  // bench/publish.ts runs the same scenario over a socket with it on.
  const s = await createServer({ watch: vroot, watchPollMs: 50, defaultMetrics: false, underPressure: false, log: (m) => logs.push(m) });
  // steady load: 4 concurrent clients until stopped
  let stop = false;
  const statuses: number[] = [];
  const served = new Set<string>();
  const client = async () => {
    while (!stop) {
      const r = await prerank(s);
      statuses.push(r.statusCode);
      if (r.statusCode === 200) served.add(r.json().modelVersion);
      await new Promise((res) => setTimeout(res, 1));
    }
  };
  const clients = Array.from({ length: 4 }, client);
  try {
    const r1 = await ready(s);
    assert.deepEqual([r1.status, r1.version, r1.modelVersion], ['ready', 'v000001', m1]);
    assert.match(await metrics(s), /prerank_bundle_version 1\n/);

    // v2: the trainer's path, exportBundle straight into the publish directory
    await publishVersion(vroot, async (dir) => {
      await exportBundle(join(root, 'runs', 'dssm-2'), dir);
    });
    await until('v000002 served', async () => (await ready(s)).version === 'v000002');
    assert.equal((await ready(s)).modelVersion, m2);
    assert.match(await metrics(s), /prerank_bundle_version 2\n/);
    assert.match(await metrics(s), new RegExp(`prerank_model_info\\{version="${m2}",kind="dssm"\\} 1`));

    // v3: bytes flipped in the weights after they were written -> hash mismatch, never served
    await publishVersion(vroot, copyOf(b1, (dir) => {
      const p = join(dir, 'weights', 'tensors.bin');
      const buf = readFileSync(p);
      for (let i = 0; i < 16; i++) buf[100 + i] ^= 0xff;
      writeFileSync(p, buf);
    }));
    await until('the corrupt v000003 counted', async () => /prerank_reload_failures_total\{reason="corrupt"\} 1\n/.test(await metrics(s)));
    assert.equal((await ready(s)).version, 'v000002');
    assert.equal((await ready(s)).modelVersion, m2);
    const line = logs.filter((l) => l.includes('v000003'));
    assert.equal(line.length, 1, logs.join('\n'));
    assert.match(line[0], /version v000003 not served \(corrupt\): .*weights\/tensors\.bin does not match the manifest.*still serving v000002/);
    // the bad version is not retried on every poll
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(logs.filter((l) => l.includes('v000003')).length, 1);

    // v4: a truncated item table; v5: no manifest (half a bundle); the watch keeps going after each
    await publishVersion(vroot, copyOf(b1, (dir) => truncateSync(join(dir, 'items', 'reps.bin'), 64)));
    await until('the truncated v000004 counted', async () => /prerank_reload_failures_total\{reason="corrupt"\} 2\n/.test(await metrics(s)));
    await publishVersion(vroot, copyOf(b1, (dir) => unlinkSync(join(dir, 'manifest.json'))));
    await until('the incomplete v000005 counted', async () => /prerank_reload_failures_total\{reason="missing"\} 1\n/.test(await metrics(s)));
    assert.equal((await ready(s)).version, 'v000002');
    assert.match(logs.find((l) => l.includes('v000005'))!, /not served \(missing\): .*no manifest\.json/);

    // a dangling pointer: logged once, counted as 'pointer'
    writeFileSync(join(vroot, 'CURRENT'), 'v000099\n');
    await until('the dangling pointer counted', async () => /prerank_reload_failures_total\{reason="pointer"\} 1\n/.test(await metrics(s)));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(logs.filter((l) => l.includes('v000099')).length, 1);
    assert.equal((await ready(s)).version, 'v000002');

    // a good version after all that is served
    const v6 = await publishVersion(vroot, copyOf(b1));
    assert.equal(v6.name, 'v000006');
    await until('v000006 served', async () => (await ready(s)).version === 'v000006');
    assert.equal((await ready(s)).modelVersion, m1);
    const m = await metrics(s);
    assert.match(m, /prerank_reloads_total\{result="ok"\} 2\n/);
    assert.match(m, /prerank_reloads_total\{result="error"\} 3\n/);
  } finally {
    stop = true;
    await Promise.all(clients);
    await s.app.close();
  }
  assert.ok(statuses.length > 20, `only ${statuses.length} requests`);
  assert.deepEqual(statuses.filter((c) => c !== 200), [], 'no request failed across the swaps');
  assert.deepEqual([...served].sort(), [m1, m2].sort(), 'only good versions were ever served');
});

test('--watch alone: not ready until the first publish; with --bundle too, the current version replaces it', async () => {
  const vroot = join(root, 'versions-empty');
  const s = await createServer({ watch: vroot, watchPollMs: 50, defaultMetrics: false, underPressure: false });
  try {
    assert.equal((await s.app.inject('/readyz')).statusCode, 503, 'no root yet');
    assert.equal((await prerank(s)).statusCode, 503);
    await publishVersion(vroot, copyOf(b2));
    await until('v000001 served', async () => (await s.app.inject('/readyz')).statusCode === 200);
    assert.equal((await ready(s)).version, 'v000001');
    assert.equal((await prerank(s)).json().modelVersion, m2);
  } finally {
    await s.app.close();
  }
  const s2 = await createServer({ bundle: b1, watch: vroot, watchPollMs: 50, defaultMetrics: false, underPressure: false });
  try {
    const r = await ready(s2);
    assert.equal(r.version, 'v000001', 'the watched current version is loaded at start');
    assert.equal(r.modelVersion, m2);
  } finally {
    await s2.app.close();
  }
  // a broken pointer at start with nothing to fall back to is an error
  writeFileSync(join(vroot, 'CURRENT'), 'v000007\n');
  await assert.rejects(createServer({ watch: vroot, defaultMetrics: false, underPressure: false }), /CURRENT names version v000007 but .* does not exist/);
});

test('fs.watch alone notices a publish (poll interval far longer than the wait)', async () => {
  const vroot = join(root, 'versions-fswatch');
  await publishVersion(vroot, copyOf(b1));
  const s = await createServer({ watch: vroot, watchPollMs: 600_000, defaultMetrics: false, underPressure: false });
  try {
    assert.equal((await ready(s)).version, 'v000001');
    await publishVersion(vroot, copyOf(b2));
    await until('v000002 served', async () => (await ready(s)).version === 'v000002', 10_000);
  } finally {
    await s.app.close();
  }
});

test('failures are classified by reason', () => {
  assert.equal(classifyReloadError(new BundleError('d', 'weights/tensors.bin does not match the manifest (sha256 …)')), 'corrupt');
  assert.equal(classifyReloadError(new BundleError('d', 'items/reps.bin has 64 bytes, expected 960 (60 items x 4 float32)')), 'corrupt');
  assert.equal(classifyReloadError(new BundleError('d', 'no manifest.json (is this a bundle directory written by `prerank export`?)')), 'missing');
  assert.equal(classifyReloadError(new BundleError('d', "model kind 'x' is not registered here (known: dssm)")), 'invalid');
  assert.equal(classifyReloadError(new Error('connect ECONNREFUSED 127.0.0.1:6379')), 'error');
});

test('`prerank serve --watch` on a real socket follows a publish', async () => {
  const vroot = join(root, 'versions-cli');
  await publishVersion(vroot, copyOf(b1));
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'serve', '--watch', vroot, '--watch-poll-ms', '50', '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    let address = '';
    await until('serve to start', async () => {
      if (child.exitCode !== null) throw new Error(`serve exited: ${out}\n${err}`);
      address = /v000001 on (http:\/\/[^\s]+) /.exec(out)?.[1] ?? '';
      return address !== '';
    }, 30_000);
    // /readyz is shed (503) when the process is starved of CPU for 200 ms (under-pressure): ask again
    const readyz = async () => {
      for (let i = 0; ; i++) {
        const r = await fetch(`${address}/readyz`);
        if (r.status === 200 || i === 100) return (await r.json()) as { version: string; modelVersion: string };
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    assert.equal((await readyz()).modelVersion, m1);
    await publishVersion(vroot, copyOf(b2));
    await until('v000002 served', async () => (await readyz()).version === 'v000002');
    assert.equal((await readyz()).modelVersion, m2);
    assert.match(err, /serving v000002 \(dssm-[0-9a-f]+\), loaded in/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
