// `npm run bench -- publish` (issue 10, "Online training and hot model updates"): `prerank serve --watch` under load
// while new versions are published. Two bundles of the same architecture with different weights (untrained, seeds
// 2022 and 2023, on the embedded ml-latest-small data) are exported once; version 1 is published, the server
// (createServer with `watch`, in this process, 127.0.0.1, random port, under-pressure on as in production) follows
// the root, and the open-loop paced generator of bench/serve.ts drives it at --rate req/s with 1,000 candidates per
// request (a child process). Meanwhile --publishes new versions (alternating the two bundles) are published, one
// every --interval seconds, each by a separate child process (as a trainer would: publishVersion from
// src/export/versions.ts, copying the bundle into the temp dir); after each, the server's current deployment is
// polled until it is the new version. Reports: failed requests (non-2xx + socket errors + timeouts; must be 0), for each publish the
// version served afterwards, its model version and the seconds from the end of the publish to the swap (must change
// each time), the latency of the load, the server's event-loop delay, and reload failures from /metrics. A baseline
// run of the same load with no publish comes first (--baseline-seconds, 0 = none), so failures caused by the swaps
// can be told apart from plain overload of the machine. The last line is one JSON object.
// Options: --rate=500, --publishes=5, --interval=2 (s), --model=int-tower|dssm, --poll-ms=1000, --baseline-seconds=5.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { engineInfo, Rng } from '../src/core/index.js';
import { Dataset, recipeConfig } from '../src/data/index.js';
import { exportBundle, publishVersion } from '../src/export/index.js';
import { MODELS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { createServer } from '../src/serve/index.js';
import { pacedLine, pacedLoad } from './serve.js';

const CANDIDATES = 1000;
const TOP_N = 100;

const f2 = (x: number | null | undefined, d = 2): string => (x === null || x === undefined ? 'n/a' : x.toFixed(d));

/** One publish by a child process (the trainer's side): publishVersion copying `bundle` into the new version. */
const PUBLISHER = `
import { cpSync } from 'node:fs';
const [versionsJs, root, bundle] = process.argv.slice(1);
const { publishVersion } = await import(versionsJs);
const t0 = performance.now();
const v = await publishVersion(root, async (dir) => cpSync(bundle, dir, { recursive: true }));
process.stdout.write(JSON.stringify({ ...v, seconds: (performance.now() - t0) / 1000 }));
`;

async function publishInChild(root: string, bundle: string): Promise<{ version: number; name: string; seconds: number }> {
  const versionsJs = pathToFileURL(join(process.cwd(), 'dist/src/export/versions.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', PUBLISHER, versionsJs, root, bundle], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`publisher exited with ${code}: ${err}`);
  return JSON.parse(out) as { version: number; name: string; seconds: number };
}

interface PublishRow {
  name: string;
  publishSeconds: number;
  /** The version served once it changed (or the old one on timeout). */
  served: string | null;
  modelVersion: string | null;
  /** From the end of the publish to the server first serving it. */
  swapSeconds: number | null;
}

export async function benchPublish(args: string[]): Promise<void> {
  const opt = (name: string, dflt: string): string => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
  const rate = Number(opt('rate', '500'));
  const publishes = Number(opt('publishes', '5'));
  const interval = Number(opt('interval', '2'));
  const pollMs = Number(opt('poll-ms', '1000'));
  const baselineSeconds = Number(opt('baseline-seconds', '5'));
  const kind = opt('model', 'int-tower') as 'int-tower' | 'dssm';
  if (!['int-tower', 'dssm'].includes(kind)) throw new Error(`--model must be int-tower or dssm, got '${kind}'`);
  const info = engineInfo();
  console.log(`CPU: ${info.cpu}; ISA path: ${info.isa}; pool threads: ${info.threads}`);
  const data = await Dataset.load(recipeConfig('ml-latest-small'));
  console.log(`data: ${data.name}, ${data.userCount} users, ${data.itemCount} items; model ${kind}, weights untrained (seeds 2022 / 2023)`);
  const work = mkdtempSync(join(tmpdir(), 'prerank-bench-publish-'));
  const rows: PublishRow[] = [];
  let result: Record<string, unknown> = {};
  try {
    const bundles: string[] = [];
    for (const seed of [2022, 2023]) {
      const model = MODELS[kind]({ features: data.features, rng: new Rng(seed) }, {} as never) as RecModel;
      const dir = join(work, `bundle-${seed}`);
      await exportBundle({ model, dataset: data, config: { kind, config: {} } }, dir);
      bundles.push(dir);
    }
    const root = join(work, 'versions');
    await publishVersion(root, async (dir) => {
      const { cpSync } = await import('node:fs');
      cpSync(bundles[0], dir, { recursive: true });
    });
    const srv = await createServer({ watch: root, watchPollMs: pollMs, defaultMetrics: false, logger: false, ann: 'off',
      log: (m) => console.log(`  server: ${m}`) });
    try {
      const address = await srv.app.listen({ port: 0, host: '127.0.0.1' });
      const enc = data.encoders.toJSON();
      const body = { user: { [enc.keys.user]: data.userKeys[0] }, candidates: data.itemKeys.slice(0, CANDIDATES), n: TOP_N };
      const bodyFile = join(work, 'body.json');
      writeFileSync(bodyFile, JSON.stringify(body));
      const post = () => fetch(`${address}/v1/prerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const first = await post();
      const fj = (await first.json()) as { items?: unknown[]; unknown?: unknown[] };
      if (first.status !== 200 || fj.items?.length !== TOP_N || fj.unknown?.length) throw new Error(`warm-up request failed: ${first.status} ${JSON.stringify(fj).slice(0, 300)}`);
      for (let i = 0; i < 50; i++) await post();
      // The deployment new requests get, read in process (GET /readyz says the same but is itself shed with 503
      // when the server is under pressure).
      const served = () => {
        const d = srv.service.deployment;
        return d ? { version: basename(d.bundle.dir), modelVersion: d.modelVersion } : {};
      };
      const v0 = served();
      console.log(`serving ${v0.version} (${v0.modelVersion}) on ${address}; paced load ${rate} req/s with ${CANDIDATES} candidates per request; ` +
        `${publishes} publishes, one every ${interval} s (watch poll ${pollMs} ms + fs.watch)`);

      let baseline: Awaited<ReturnType<typeof pacedLoad>> | null = null;
      if (baselineSeconds > 0) {
        baseline = await pacedLoad(`${address}/v1/prerank`, bodyFile, rate, baselineSeconds);
        console.log(`baseline (no publish, ${baselineSeconds} s): ${pacedLine(baseline)}; failed ${baseline.non2xx + baseline.errors + baseline.timeouts}`);
      }
      const seconds = Math.ceil(1 + publishes * interval + 3);
      const eld = monitorEventLoopDelay({ resolution: 5 });
      eld.enable();
      const load = pacedLoad(`${address}/v1/prerank`, bodyFile, rate, seconds);
      let last = v0.version ?? null;
      for (let i = 0; i < publishes; i++) {
        await new Promise((r) => setTimeout(r, i === 0 ? 1000 : interval * 1000));
        const p = await publishInChild(root, bundles[(i + 1) % 2]);
        const t0 = performance.now();
        let now: { version?: string; modelVersion?: string } = {};
        let swap: number | null = null;
        while (performance.now() - t0 < 15_000) {
          now = served();
          if (now.version === p.name) {
            swap = (performance.now() - t0) / 1000;
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        rows.push({ name: p.name, publishSeconds: p.seconds, served: now.version ?? null, modelVersion: now.modelVersion ?? null, swapSeconds: swap });
        console.log(`  publish ${p.name} (${f2(p.seconds, 3)} s to publish): served ${now.version ?? '?'} (${now.modelVersion ?? '?'}) ` +
          `${swap === null ? 'NOT within 15 s' : `${f2(swap, 3)} s after the publish`}${now.version === last ? '  <- DID NOT CHANGE' : ''}`);
        last = now.version ?? last;
      }
      const l = await load;
      eld.disable();
      const eldMax = eld.max / 1e6, eldP99 = eld.percentile(99) / 1e6;
      const failed = l.non2xx + l.errors + l.timeouts;
      const m = (await (await fetch(`${address}/metrics`)).text()).split('\n');
      const failures = m.filter((x) => x.startsWith('prerank_reload_failures_total{')).reduce((s, x) => s + Number(x.split(' ').pop()), 0);
      const changedEach = rows.every((r, i) => r.served === r.name && r.modelVersion !== (i === 0 ? v0.modelVersion : rows[i - 1].modelVersion));
      console.log(`load while publishing (${seconds} s): ${pacedLine(l)}; failed ${failed}; reload failures ${failures}; ` +
        `server event-loop delay p99 ${f2(eldP99, 1)} ms, max ${f2(eldMax, 1)} ms`);
      console.log(`served version changed after every publish: ${changedEach ? 'yes' : 'NO'}; failed requests: ${failed} (must be 0)`);
      result = { cpu: info.cpu, isa: info.isa, threads: info.threads, model: kind, rate, candidates: CANDIDATES, seconds, publishes,
        interval_s: interval, poll_ms: pollMs, requests: l.requests, rps: l.rps, p50_ms: l.p50, p99_ms: l.p99, max_ms: l.max,
        due_p50_ms: l.dueP50, due_p99_ms: l.dueP99, generator_late_p99_ms: l.lateP99,
        failed_requests: failed, non2xx: l.non2xx, socket_errors: l.errors, timeouts: l.timeouts, reload_failures: failures,
        event_loop_delay_p99_ms: eldP99, event_loop_delay_max_ms: eldMax, baseline_seconds: baselineSeconds,
        baseline_failed_requests: baseline ? baseline.non2xx + baseline.errors + baseline.timeouts : null, baseline_p99_ms: baseline?.p99 ?? null, baseline_due_p99_ms: baseline?.dueP99 ?? null,
        baseline_rps: baseline?.rps ?? null,
        version_changed_each_time: changedEach, served: rows.map((r) => r.served), model_versions: rows.map((r) => r.modelVersion),
        swap_s: rows.map((r) => r.swapSeconds), publish_s: rows.map((r) => r.publishSeconds) };
    } finally {
      await srv.app.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
}
