// `npm run bench -- publish` (online training and hot model updates): `prerank serve --watch` under a
// paced 500 req/s load while the real online trainer publishes new versions. Both run as child processes, as in a
// deployment: `prerank train --online --config <file>` (src/online) and `prerank serve --watch <root>` (serveChild of
// bench/load.ts: its own heap and event loop, 127.0.0.1, random port, under-pressure on).
//
// The stream: ml-latest-small (configs/online/data-ml-latest-small-hashed.json) is ingested here and split by time
// exactly as the trainer does (`initial.train` with --fraction, default 0.9): the trainer trains the initial model
// offline on the prefix (--offline-epochs, default 1, a few seconds), and this process writes the events that follow
// the prefix as 1 + --publishes JSONL chunk files of --every-updates x --batch-size events each (writeReplay of
// src/data/replay.ts, in a staging directory). A chunk is released by renaming it into the trainer's source
// directory (atomic), so the trainer makes exactly --every-updates updates on it and then publishes one version
// (`publish.everyUpdates`); `maxUpdates` stops it right after the last publish. Chunk 0 gives version 1, which the
// server starts on; then, under load, chunk i is released --interval seconds after chunk i-1 (or once version i is
// served, when that takes longer). Per version: seconds from the chunk to the publish (the trainer's updates,
// checkpoint and bundle export) from the trainer's "published bundle version N" line, and seconds from that line to
// the server serving it, polled on GET /readyz (its `version` field; a 503 while the server sheds load is retried).
//
// Reports: failed requests (non-2xx + socket errors + timeouts; must be 0), for each publish the version served
// afterwards and its model version (must change each time), publish-to-swap seconds, the load's latency p50/p99, the
// server's event-loop delay over the load (prom-client's gauges in /metrics, reset at each scrape) and reload
// failures. A baseline of the same load with no publish comes first (--baseline-seconds, 0 = none), so failures caused
// by the swaps can be told apart from plain overload. The load lasts --load-seconds (default 2 + publishes x interval +
// 8); a version served after the load ended is flagged. The last line is one JSON object.
//
// --publisher=copy keeps the earlier stand-in: two untrained bundles (seeds 2022 / 2023) exported here, alternately
// copied into a new version by a child process running publishVersion (src/export/versions.ts) — it isolates the swap
// from the trainer's CPU use.
// Options: --rate=500, --publishes=5, --interval=4 (s), --model=int-tower|dssm, --poll-ms=1000 (server's watch poll),
// --baseline-seconds=5, --publisher=trainer|copy, --batch-size=256, --every-updates=5, --offline-epochs=1,
// --fraction=0.9, --load-seconds.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { engineInfo, Rng } from '../src/core/index.js';
import { Dataset, ingest, loadDataConfig, recipeConfig, timeSplit, writeReplay } from '../src/data/index.js';
import { exportBundle, publishVersion } from '../src/export/index.js';
import { versionName } from '../src/export/versions.js';
import { MODELS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { pacedLine, pacedLoad, serveChild } from './load.js';

const CANDIDATES = 1000;
const TOP_N = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f2 = (x: number | null | undefined, d = 2): string => (x === null || x === undefined ? 'n/a' : x.toFixed(d));

/** One publish by a child process (the stand-in publisher): publishVersion copying `bundle` into the new version. */
const COPIER = `
import { cpSync } from 'node:fs';
const [versionsJs, root, bundle] = process.argv.slice(1);
const { publishVersion } = await import(versionsJs);
const t0 = performance.now();
const v = await publishVersion(root, async (dir) => cpSync(bundle, dir, { recursive: true }));
process.stdout.write(JSON.stringify({ ...v, seconds: (performance.now() - t0) / 1000 }));
`;

/** A source of new versions under `root`: `first` makes version 1 exist; `next` makes one more and returns when it is published. */
interface Publisher {
  label: string;
  body: { user: Record<string, unknown>; candidates: string[]; n: number };
  first(): Promise<void>;
  /** Publishes version `version`; returns when it is complete, with the seconds it took (trainer: from the chunk's release). */
  next(version: number): Promise<{ publishSeconds: number; publishedAt: number }>;
  /** Waits for the trainer's exit (kills it at once with `abort`, after 60 s otherwise); fields for the report. */
  stop(abort?: boolean): Promise<Record<string, unknown>>;
}

interface Opts {
  kind: 'int-tower' | 'dssm';
  publishes: number;
  batchSize: number;
  everyUpdates: number;
  offlineEpochs: number;
  fraction: number;
}

async function copyPublisher(work: string, root: string, kind: Opts['kind']): Promise<Publisher> {
  const data = await Dataset.load(recipeConfig('ml-latest-small'));
  console.log(`stand-in publisher: ${data.name}, ${data.userCount} users, ${data.itemCount} items; model ${kind}, weights untrained (seeds 2022 / 2023)`);
  const bundles: string[] = [];
  for (const seed of [2022, 2023]) {
    const model = MODELS[kind]({ features: data.features, rng: new Rng(seed) }, {} as never) as RecModel;
    const dir = join(work, `bundle-${seed}`);
    await exportBundle({ model, dataset: data, config: { kind, config: {} } }, dir);
    bundles.push(dir);
  }
  const enc = data.encoders.toJSON();
  const versionsJs = pathToFileURL(join(process.cwd(), 'dist/src/export/versions.js')).href;
  return {
    label: 'copy (stand-in: two pre-exported bundles, alternately)',
    body: { user: { [enc.keys.user]: data.userKeys[0] }, candidates: data.itemKeys.slice(0, CANDIDATES), n: TOP_N },
    first: async () => void (await publishVersion(root, async (dir) => cpSync(bundles[0], dir, { recursive: true }))),
    async next(version) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', COPIER, versionsJs, root, bundles[(version - 1) % 2]], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      const publishedAt = performance.now();
      if (code !== 0) throw new Error(`publisher exited with ${code}: ${err}`);
      const v = JSON.parse(out) as { version: number; seconds: number };
      if (v.version !== version) throw new Error(`stand-in publisher made version ${v.version}, expected ${version}`);
      return { publishSeconds: v.seconds, publishedAt };
    },
    stop: async () => ({}),
  };
}

/**
 * The online trainer as a child process on the tail of ml-latest-small (see the header). Its stdout/stderr go to
 * <work>/trainer.log; each "online: published bundle version N" line is timestamped as it arrives.
 */
async function trainerPublisher(work: string, root: string, o: Opts): Promise<Publisher> {
  const dataCfgPath = join(process.cwd(), 'configs', 'online', 'data-ml-latest-small-hashed.json');
  const dataCfg = loadDataConfig(dataCfgPath);
  const t0 = performance.now();
  const raw = await ingest(dataCfg);
  // The same time split as the trainer's `initial.train` (src/train/bootstrap.ts).
  const { cut, prefix, rest } = timeSplit(raw, o.fraction, dataCfgPath);
  const chunk = o.everyUpdates * o.batchSize;
  const need = (1 + o.publishes) * chunk;
  if (rest.length < need) {
    throw new Error(`--fraction=${o.fraction} leaves ${rest.length} events after the prefix, fewer than the ${need} needed ` +
      `((1 + ${o.publishes} publishes) x ${o.everyUpdates} updates x ${o.batchSize} events): lower --fraction`);
  }
  const staging = join(work, 'staging');
  const stream = join(work, 'stream');
  mkdirSync(stream, { recursive: true });
  await writeReplay(raw, dataCfg, rest.slice(0, need), staging, chunk);
  const chunkFile = (i: number) => `events-${String(i).padStart(5, '0')}.jsonl`;
  const release = (i: number) => renameSync(join(staging, chunkFile(i)), join(stream, chunkFile(i)));
  // The request: a user of the prefix and 1,000 distinct items of the prefix (all in the trainer's dataset).
  const k = dataCfg.keys;
  const items = new Set<string>();
  for (const r of prefix) {
    if (items.size === CANDIDATES) break;
    items.add(String(raw.items.keys[raw.item[r]]));
  }
  const body = { user: { [k.user]: raw.users.keys[raw.user[prefix[0]]] }, candidates: [...items], n: TOP_N };
  console.log(`trainer stream: ${raw.name}, ${raw.rows} rows; offline prefix ${prefix.length} rows before ${new Date(cut * 1000).toISOString()}, ` +
    `then ${1 + o.publishes} chunks of ${chunk} events (${o.everyUpdates} updates x ${o.batchSize}) of the ${rest.length} that follow ` +
    `(${f2((performance.now() - t0) / 1000, 1)} s to ingest and write)`);

  const trainCfgPath = join(work, 'train.json');
  writeFileSync(trainCfgPath, JSON.stringify({ model: { kind: o.kind }, data: { config: dataCfgPath }, optimizer: { kind: 'adam', lr: 0.001 },
    batchSize: 1024, epochs: o.offlineEpochs, seed: 2022, outDir: join(work, 'offline') }, null, 1));
  const onlineCfgPath = join(work, 'online.json');
  writeFileSync(onlineCfgPath, JSON.stringify({ label: 'bench publish', initial: { train: trainCfgPath, fraction: o.fraction, offlineDir: join(work, 'offline') },
    source: { kind: 'dir', path: stream }, outDir: join(work, 'online'), batchSize: o.batchSize, stepsPerBatch: 1, timeTolerance: 0, onBadEvent: 'stop',
    checkpoint: { everyUpdates: o.everyUpdates }, publish: { dir: root, everyUpdates: o.everyUpdates }, maxUpdates: (1 + o.publishes) * o.everyUpdates,
    pollMs: 50 }, null, 1));

  const logPath = join(work, 'trainer.log');
  const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const tSpawn = performance.now();
  const child: ChildProcess = spawn(process.execPath, [cli, 'train', '--online', '--config', onlineCfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '', partial = '';
  const published = new Map<number, number>();
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    const at = performance.now();
    log += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = /online: published bundle version (\d+)/.exec(line);
      if (m) published.set(Number(m[1]), at);
    }
    waiters.splice(0).forEach((w) => w());
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => {
    exitCode = c;
    writeFileSync(logPath, log);
    waiters.splice(0).forEach((w) => w());
    r(c);
  }));
  const tail = () => log.split('\n').slice(-15).join('\n');
  const waitPublished = async (v: number, timeoutMs: number): Promise<number> => {
    const until = performance.now() + timeoutMs;
    while (!published.has(v)) {
      if (exitCode !== undefined) throw new Error(`the trainer exited (code ${exitCode}) before publishing version ${v}:\n${tail()}`);
      if (performance.now() > until) throw new Error(`the trainer did not publish version ${v} within ${timeoutMs / 1000} s:\n${tail()}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 500);
      });
    }
    return published.get(v)!;
  };
  const released: number[] = [];
  let startup = 0;
  return {
    label: `online trainer (prerank train --online, ${o.kind}, offline ${o.offlineEpochs} epoch(s) on the prefix, then ${o.everyUpdates} updates of ${o.batchSize} events per version)`,
    body,
    async first() {
      release(0);
      released[0] = performance.now();
      const at = await waitPublished(1, 600_000);
      startup = (at - tSpawn) / 1000;
      console.log(`trainer: version 1 published ${f2(startup, 1)} s after start (ingest + offline training + ${o.everyUpdates} updates + export)`);
    },
    async next(version) {
      release(version - 1);
      const t = (released[version - 1] = performance.now());
      const at = await waitPublished(version, 120_000);
      return { publishSeconds: (at - t) / 1000, publishedAt: at };
    },
    async stop(abort = false) {
      if (abort && exitCode === undefined) child.kill('SIGKILL');
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(killer);
      const summaryPath = join(work, 'online', 'summary.json');
      const s = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as { updates?: number; applied?: number; trained?: number; dropped?: number; bad?: number; auc?: number | null; logloss?: number | null }) : {};
      console.log(`trainer: exited with ${code}; ${s.updates ?? '?'} updates on ${s.applied ?? '?'} events (${s.dropped ?? '?'} dropped by the label rule, ${s.bad ?? '?'} bad), ` +
        `prequential AUC ${f2(s.auc, 4)}, logloss ${f2(s.logloss, 4)}; log in ${logPath} (removed with the work dir)`);
      if (code !== 0) console.log(tail());
      const off = /offline: best epoch \d+, prefix test AUC ([\d.]+)/.exec(log);
      if (off) console.log(`trainer: the initial model's test AUC inside the prefix (offline, ${o.offlineEpochs} epoch(s)): ${off[1]}`);
      return { trainer_exit_code: code, trainer_startup_s: startup, trainer_offline_test_auc: off ? Number(off[1]) : null, trainer_updates: s.updates ?? null, trainer_events: s.applied ?? null,
        trainer_bad_events: s.bad ?? null, trainer_prequential_auc: s.auc ?? null, trainer_prequential_logloss: s.logloss ?? null,
        offline_epochs: o.offlineEpochs, fraction: o.fraction, batch_size: o.batchSize, every_updates: o.everyUpdates, events_per_version: chunk };
    },
  };
}

interface PublishRow {
  name: string;
  /** Trainer: from the chunk's release to the "published" line; copy: the child's publishVersion. */
  publishSeconds: number;
  /** The version /readyz reported once it changed (or the last one seen on timeout). */
  served: string | null;
  modelVersion: string | null;
  /** From the end of the publish to /readyz first reporting it. */
  swapSeconds: number | null;
  /** The swap happened while the load was still running. */
  underLoad: boolean;
}

/** prom-client's event-loop gauges (seconds, since the previous scrape) and the reload failure count from /metrics. */
async function scrape(address: string): Promise<{ eldP99: number | null; eldMax: number | null; reloadFailures: number }> {
  const m = (await (await fetch(`${address}/metrics`)).text()).split('\n');
  const gauge = (name: string) => {
    const l = m.find((x) => x.startsWith(`${name} `));
    return l === undefined ? null : Number(l.split(' ').pop()) * 1000;
  };
  const reloadFailures = m.filter((x) => x.startsWith('prerank_reload_failures_total{')).reduce((s, x) => s + Number(x.split(' ').pop()), 0);
  return { eldP99: gauge('prerank_nodejs_eventloop_lag_p99_seconds'), eldMax: gauge('prerank_nodejs_eventloop_lag_max_seconds'), reloadFailures };
}

export async function benchPublish(args: string[]): Promise<void> {
  const opt = (name: string, dflt: string): string => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
  const num = (name: string, dflt: string, ok: (x: number) => boolean, what: string): number => {
    const x = Number(opt(name, dflt));
    if (!ok(x)) throw new Error(`--${name} must be ${what}, got '${opt(name, dflt)}'`);
    return x;
  };
  const posInt = (x: number) => Number.isInteger(x) && x > 0;
  const rate = num('rate', '500', (x) => x > 0, 'a positive number');
  const publishes = num('publishes', '5', posInt, 'a positive integer');
  const interval = num('interval', '4', (x) => x >= 0, 'a number >= 0');
  const pollMs = num('poll-ms', '1000', (x) => x >= 10, 'a number >= 10');
  const baselineSeconds = num('baseline-seconds', '5', (x) => x >= 0, 'a number >= 0');
  const batchSize = num('batch-size', '256', posInt, 'a positive integer');
  const everyUpdates = num('every-updates', '5', posInt, 'a positive integer');
  const offlineEpochs = num('offline-epochs', '1', posInt, 'a positive integer');
  const fraction = num('fraction', '0.9', (x) => x > 0 && x < 1, 'in (0, 1)');
  const seconds = num('load-seconds', String(Math.ceil(2 + publishes * interval + 8)), (x) => x > 0, 'a positive number');
  const kind = opt('model', 'int-tower') as Opts['kind'];
  if (!['int-tower', 'dssm'].includes(kind)) throw new Error(`--model must be int-tower or dssm, got '${kind}'`);
  const publisherKind = opt('publisher', 'trainer');
  if (!['trainer', 'copy'].includes(publisherKind)) throw new Error(`--publisher must be trainer or copy, got '${publisherKind}'`);
  const info = engineInfo();
  console.log(`CPU: ${info.cpu}; ISA path: ${info.isa}; pool threads: ${info.threads}`);
  const work = mkdtempSync(join(tmpdir(), 'prerank-bench-publish-'));
  const root = join(work, 'versions');
  const rows: PublishRow[] = [];
  let result: Record<string, unknown> = {};
  let trainerFields: Record<string, unknown> = {};
  try {
    const pub = publisherKind === 'copy' ? await copyPublisher(work, root, kind)
      : await trainerPublisher(work, root, { kind, publishes, batchSize, everyUpdates, offlineEpochs, fraction });
    let stopped = false;
    try {
      await pub.first();
      const srv = await serveChild(['--watch', root, '--watch-poll-ms', String(pollMs), '--ann', 'off']);
      try {
        const { address } = srv;
        const bodyFile = join(work, 'body.json');
        writeFileSync(bodyFile, JSON.stringify(pub.body));
        const post = () => fetch(`${address}/v1/prerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(pub.body) });
        const first = await post();
        const fj = (await first.json()) as { items?: unknown[]; unknown?: unknown[] };
        if (first.status !== 200 || fj.items?.length !== TOP_N || fj.unknown?.length) throw new Error(`warm-up request failed: ${first.status} ${JSON.stringify(fj).slice(0, 300)}`);
        for (let i = 0; i < 50; i++) await (await post()).arrayBuffer();
        // What /readyz says is served; a 503 (shed under pressure, or between versions) reads as unknown.
        const served = async (): Promise<{ version?: string; modelVersion?: string }> => {
          try {
            const r = await fetch(`${address}/readyz`);
            const j = (await r.json()) as { version?: string; modelVersion?: string };
            return r.status === 200 ? { version: j.version, modelVersion: j.modelVersion } : {};
          } catch {
            return {};
          }
        };
        const v0 = await served();
        if (v0.version !== versionName(1)) throw new Error(`the server serves ${v0.version ?? 'nothing'}, expected ${versionName(1)}`);
        console.log(`publisher: ${pub.label}`);
        console.log(`serving ${v0.version} (${v0.modelVersion}) on ${address} (prerank serve --watch, child process); paced load ${rate} req/s with ${CANDIDATES} ` +
          `candidates per request; ${publishes} publishes, one every ${interval} s at the earliest (watch poll ${pollMs} ms + fs.watch)`);

        let baseline: Awaited<ReturnType<typeof pacedLoad>> | null = null;
        if (baselineSeconds > 0) {
          baseline = await pacedLoad(`${address}/v1/prerank`, bodyFile, rate, baselineSeconds);
          console.log(`baseline (no publish, ${baselineSeconds} s): ${pacedLine(baseline)}; failed ${baseline.non2xx + baseline.errors + baseline.timeouts}`);
        }
        await scrape(address); // resets the event-loop gauges
        const tLoad = performance.now();
        const load = pacedLoad(`${address}/v1/prerank`, bodyFile, rate, seconds);
        let loadDone = false;
        void load.finally(() => (loadDone = true)).catch(() => {});
        let prevModel = v0.modelVersion ?? null;
        let nextAt = tLoad + 1000;
        for (let i = 0; i < publishes; i++) {
          await sleep(Math.max(0, nextAt - performance.now()));
          nextAt = performance.now() + interval * 1000;
          const version = i + 2;
          const name = versionName(version);
          const p = await pub.next(version);
          let now: { version?: string; modelVersion?: string } = {};
          let swap: number | null = null;
          while (performance.now() - p.publishedAt < 15_000) {
            const s = await served();
            if (s.version) now = s;
            if (s.version === name) {
              swap = (performance.now() - p.publishedAt) / 1000;
              break;
            }
            await sleep(20);
          }
          const changed = now.version === name && now.modelVersion !== prevModel;
          rows.push({ name, publishSeconds: p.publishSeconds, served: now.version ?? null, modelVersion: now.modelVersion ?? null, swapSeconds: swap, underLoad: !loadDone });
          console.log(`  publish ${name} (${f2(p.publishSeconds, 3)} s ${publisherKind === 'trainer' ? 'from its events to the publish' : 'to publish'}): ` +
            `served ${now.version ?? '?'} (${now.modelVersion ?? '?'}) ${swap === null ? 'NOT within 15 s' : `${f2(swap, 3)} s after the publish`}` +
            `${changed ? '' : '  <- DID NOT CHANGE'}${loadDone ? '  <- after the load ended (raise --load-seconds)' : ''}`);
          prevModel = now.modelVersion ?? prevModel;
        }
        stopped = true;
        trainerFields = await pub.stop();
        const l = await load;
        const sc = await scrape(address);
        const failed = l.non2xx + l.errors + l.timeouts;
        const changedEach = rows.every((r, i) => r.served === r.name && r.modelVersion !== (i === 0 ? v0.modelVersion : rows[i - 1].modelVersion));
        const allUnderLoad = rows.every((r) => r.underLoad);
        console.log(`load while publishing (${seconds} s): ${pacedLine(l)}; failed ${failed}; reload failures ${sc.reloadFailures}; ` +
          `server event-loop delay p99 ${f2(sc.eldP99, 1)} ms, max ${f2(sc.eldMax, 1)} ms`);
        console.log(`served version changed after every publish: ${changedEach ? 'yes' : 'NO'}; every swap under load: ${allUnderLoad ? 'yes' : 'NO'}; ` +
          `failed requests: ${failed} (must be 0)`);
        result = { cpu: info.cpu, isa: info.isa, threads: info.threads, model: kind, publisher: publisherKind, rate, candidates: CANDIDATES, seconds, publishes,
          interval_s: interval, poll_ms: pollMs, requests: l.requests, rps: l.rps, p50_ms: l.p50, p99_ms: l.p99, max_ms: l.max,
          due_p50_ms: l.dueP50, due_p99_ms: l.dueP99, generator_late_p99_ms: l.lateP99,
          failed_requests: failed, non2xx: l.non2xx, socket_errors: l.errors, timeouts: l.timeouts, reload_failures: sc.reloadFailures,
          event_loop_delay_p99_ms: sc.eldP99, event_loop_delay_max_ms: sc.eldMax, baseline_seconds: baselineSeconds,
          baseline_failed_requests: baseline ? baseline.non2xx + baseline.errors + baseline.timeouts : null, baseline_p99_ms: baseline?.p99 ?? null,
          baseline_p50_ms: baseline?.p50 ?? null, baseline_due_p99_ms: baseline?.dueP99 ?? null, baseline_rps: baseline?.rps ?? null,
          version_changed_each_time: changedEach, all_swaps_under_load: allUnderLoad, initial_version: v0.version, published: rows.map((r) => r.name),
          served: rows.map((r) => r.served), model_versions: rows.map((r) => r.modelVersion),
          swap_s: rows.map((r) => r.swapSeconds), publish_s: rows.map((r) => r.publishSeconds), ...trainerFields };
      } finally {
        await srv.stop();
      }
    } finally {
      if (!stopped) await pub.stop(true).catch(() => {});
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
}
