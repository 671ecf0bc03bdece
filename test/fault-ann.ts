// Fault scenario: a missing or truncated saved ANN index offered to `prerank serve` (test/fault-scenarios.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { publishVersion } from '../src/export/index.js';
import { CLI, sleep, type FaultResult } from './fault-common.js';

async function serveChild(args: string[]): Promise<{ child: ChildProcess; address: string | null; out: () => string; err: () => string; exit: Promise<{ code: number | null; signal: string | null }> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const t0 = Date.now();
  let address: string | null = null;
  while (!address && child.exitCode === null && child.signalCode === null && Date.now() - t0 < 60_000) {
    address = /on (http:\/\/[^\s]+) /.exec(out)?.[1] ?? null;
    if (!address) await sleep(25);
  }
  return { child, address, out: () => out, err: () => err, exit };
}

const DAMAGE: Record<string, (file: string) => void> = {
  missing: (f) => unlinkSync(f),
  'truncated to 10 bytes': (f) => truncateSync(f, 10),
  'truncated to half': (f) => truncateSync(f, Math.floor(statSync(f).size / 2)),
  empty: (f) => truncateSync(f, 0),
};

/**
 * Damages items/ann.usearch of a copy of `bundle` (each way in DAMAGE) and offers it to `prerank serve` three ways:
 * at start (must exit 1 naming the file, not crash), by POST /admin/reload (422 naming it; the old bundle keeps
 * answering /v1/retrieve) and as a newly published version under --watch (not served; the old version keeps
 * answering). `ways` limits the damages tried.
 */
export async function annDamageScenario(o: { bundle: string; user: Record<string, string>; work: string; ways?: number }): Promise<FaultResult> {
  const name = 'ANN index missing / truncated';
  const root = join(o.work, 'ann-bundles');
  const vroot = join(o.work, 'ann-versions');
  mkdirSync(root, { recursive: true });
  cpSync(o.bundle, join(root, 'good'), { recursive: true });
  const damages = Object.entries(DAMAGE).slice(0, o.ways ?? Object.keys(DAMAGE).length);
  for (const [i, [, hurt]] of damages.entries()) {
    cpSync(o.bundle, join(root, `bad${i}`), { recursive: true });
    hurt(join(root, `bad${i}`, 'items', 'ann.usearch'));
  }
  const failures: string[] = [];
  let faults = 0, survived = 0;
  const FILE = /items\/ann\.usearch/;
  const retrieve = (address: string) => fetch(`${address}/v1/retrieve`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: o.user, k: 5 }), signal: AbortSignal.timeout(10_000) }).then((r) => r.status, (e: Error) => e.message);
  const verdict = (what: string, bad: string[]) => {
    faults++;
    if (bad.length) failures.push(`${what}: ${bad.join('; ')}`);
    else survived++;
  };
  // at start
  for (const [i, [how]] of damages.entries()) {
    const s = await serveChild(['--bundle', join(root, `bad${i}`)]);
    if (s.address) s.child.kill('SIGKILL');
    const { code, signal } = await s.exit;
    const bad: string[] = [];
    if (s.address) bad.push('started serving it');
    else if (signal) bad.push(`crashed (${signal}): ${s.err().slice(-300)}`);
    else if (code !== 1 || !FILE.test(s.err())) bad.push(`exit ${code} without naming the file: ${s.err().slice(-300)}`);
    verdict(`start, ${how}`, bad);
  }
  // reload
  const r = await serveChild(['--bundle', join(root, 'good')]);
  try {
    if (!r.address) throw new Error(`serve did not start: ${r.err()}`);
    for (const [i, [how]] of damages.entries()) {
      const bad: string[] = [];
      const res = await fetch(`${r.address}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bundle: join(root, `bad${i}`) }), signal: AbortSignal.timeout(30_000) }).then(async (x) => ({ status: x.status, body: await x.text() }), (e: Error) => ({ status: 0, body: e.message }));
      if (res.status !== 422 || !FILE.test(res.body)) bad.push(`reload answered ${res.status}: ${res.body.slice(0, 200)}`);
      const after = await retrieve(r.address);
      if (after !== 200) bad.push(`/v1/retrieve afterwards: ${after}${r.child.signalCode ? ` (server died: ${r.child.signalCode})` : ''}`);
      verdict(`reload, ${how}`, bad);
    }
  } finally {
    r.child.kill('SIGTERM');
    await r.exit;
  }
  // watch
  await publishVersion(vroot, async (dir) => cpSync(join(root, 'good'), dir, { recursive: true }));
  const w = await serveChild(['--watch', vroot, '--watch-poll-ms', '50']);
  try {
    if (!w.address) throw new Error(`serve --watch did not start: ${w.err()}`);
    for (const [i, [how]] of damages.entries()) {
      const v = await publishVersion(vroot, async (dir) => cpSync(join(root, `bad${i}`), dir, { recursive: true }), { keep: 100 });
      const bad: string[] = [];
      const t0 = Date.now();
      while (!w.err().includes(`version ${v.name} not served`) && Date.now() - t0 < 10_000 && w.child.exitCode === null) await sleep(25);
      const line = w.err().split('\n').find((l) => l.includes(`version ${v.name} not served`));
      if (!line) bad.push(`no refusal logged for ${v.name}: ${w.err().slice(-300)}`);
      else if (!FILE.test(line)) bad.push(`refusal does not name the file: ${line}`);
      const ready = await fetch(`${w.address}/readyz`).then(async (x) => (await x.json()) as { version: string }, () => null);
      if (ready?.version !== 'v000001') bad.push(`serving ${ready?.version ?? '(no answer)'}, not v000001`);
      const after = await retrieve(w.address);
      if (after !== 200) bad.push(`/v1/retrieve afterwards: ${after}`);
      verdict(`watch, ${how}`, bad);
    }
  } finally {
    w.child.kill('SIGTERM');
    await w.exit;
  }
  return { name, faults, survived, failures, detail: `${damages.map(([h]) => h).join(', ')} x (start, reload, watch)` };
}

