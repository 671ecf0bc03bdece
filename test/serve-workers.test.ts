// `prerank serve --workers N` on a real socket: one port answered by several processes, a reload made by every worker,
// a killed worker replaced (serving what the others serve), --watch followed by every worker, SIGTERM draining all,
// a worker that cannot start stopping the whole command, /metrics summed over the workers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { publishVersion } from '../src/export/versions.js';
import { tempDir, tinyRun } from './serve-fixture.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
let root: string;
let b1: string, b2: string;
let m1: string, m2: string;

before(async () => {
  root = tempDir('workers');
  const r1 = await tinyRun(root, 'dssm');
  const r2 = await tinyRun(root, 'dssm', 'dssm-2', 7);
  b1 = join(root, 'bundles', 'b1');
  b2 = join(root, 'bundles', 'b2');
  m1 = (await exportBundle(r1.runDir, b1)).manifest.modelVersion;
  m2 = (await exportBundle(r2.runDir, b2)).manifest.modelVersion;
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Served {
  child: ChildProcess;
  address: string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: string | null }>;
}

async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await until('the serve line', async () => /on http:\/\/\S+ /.test(out) || child.exitCode !== null, 60_000);
  const address = /on (http:\/\/\S+) /.exec(out)?.[1];
  if (!address) throw new Error(`serve did not start: ${err}`);
  assert.match(out, /, 2 workers\)/, 'the primary prints one line when every worker serves');
  return { child, address, err: () => err, exit };
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Ready {
  pid: number;
  modelVersion: string;
  version: string | null;
}

/**
 * /readyz over `n` fresh connections: which process answered, with what. A connection a dying worker drops is
 * skipped, and so is one the primary handed to a worker just killed, which nobody ever answers: 5 s each at most.
 */
async function readyz(address: string, n = 12): Promise<Ready[]> {
  const out: Ready[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${address}/readyz`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5_000) })
      .then(async (res) => (res.status === 200 ? ((await res.json()) as Ready) : null)).catch(() => null);
    if (r) out.push(r);
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('two workers answer on one port; a reload is made by both; a killed worker is replaced and serves the reloaded bundle; SIGTERM drains all', async () => {
  const s = await serve(['--bundle', b1, '--workers', '2']);
  try {
    const first = await readyz(s.address);
    const pids = new Set(first.map((r) => r.pid));
    assert.equal(pids.size, 2, `answered by ${[...pids].join(', ')}`);
    assert.ok(!pids.has(s.child.pid!), 'the primary serves nothing itself');
    assert.ok(first.every((r) => r.modelVersion === m1));

    const res = await fetch(`${s.address}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bundle: b2 }), signal: AbortSignal.timeout(60_000) });
    const body = (await res.json()) as { modelVersion: string; workers: { pid: number; status: number }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.modelVersion, m2);
    assert.deepEqual(new Set(body.workers.map((w) => w.pid)), pids);
    assert.ok(body.workers.every((w) => w.status === 200));
    assert.ok((await readyz(s.address)).every((r) => r.modelVersion === m2), 'every worker serves the reloaded bundle');
    const metrics = await (await fetch(`${s.address}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
    assert.match(metrics, /prerank_reloads_total\{result="ok"\} 2\b/, 'the reload counted once per worker, summed');

    const [victim] = pids;
    process.kill(victim, 'SIGKILL');
    await until('a replacement worker', async () => {
      const now = new Set((await readyz(s.address, 8)).map((r) => r.pid));
      return now.size === 2 && !now.has(victim);
    });
    assert.ok((await readyz(s.address)).every((r) => r.modelVersion === m2), 'the replacement serves what the others serve');
    assert.match(s.err(), new RegExp(`worker ${victim} exited \\(signal SIGKILL\\): starting another`));

    const workers = new Set((await readyz(s.address)).map((r) => r.pid));
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exit, { code: 0, signal: null });
    for (const pid of workers) assert.equal(alive(pid), false, `worker ${pid} exited with the primary`);
    assert.match(s.err(), /SIGTERM: stopping 2 workers/);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('with --watch every worker switches to a newly published version', async () => {
  const vroot = join(root, 'versions');
  await publishVersion(vroot, async (dir) => cpSync(b1, dir, { recursive: true }));
  const s = await serve(['--watch', vroot, '--watch-poll-ms', '50', '--workers', '2']);
  try {
    assert.ok((await readyz(s.address)).every((r) => r.version === 'v000001'));
    await publishVersion(vroot, async (dir) => cpSync(b2, dir, { recursive: true }));
    await until('both workers on v000002', async () => {
      const r = await readyz(s.address, 8);
      return new Set(r.map((x) => x.pid)).size === 2 && r.every((x) => x.version === 'v000002' && x.modelVersion === m2);
    });
  } finally {
    s.child.kill('SIGTERM');
    await s.exit;
  }
});

test('a worker that cannot start stops the command with exit 1, naming the problem', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '2', '--bundle', join(root, 'no-such-bundle')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 1);
  assert.match(err, /no manifest\.json/);
  assert.match(err, /exited \(code 1\) before it served/);
});

test('a table found corrupt by the background check stops every worker and the command exits 1, naming the file', async () => {
  const bad = join(root, 'bundles', 'corrupt');
  cpSync(b1, bad, { recursive: true });
  const reps = readFileSync(join(bad, 'items', 'reps.bin'));
  reps[16] ^= 0x40;
  writeFileSync(join(bad, 'items', 'reps.bin'), reps);
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '2', '--bundle', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 1, err);
  assert.match(err, /items\/reps\.bin does not match the manifest .*: not served/);
  assert.match(err, /found its bundle corrupt/);
});
