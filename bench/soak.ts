// `npm run bench -- soak [--minutes 30] [--rate 500] [--candidates 1000] [--reload-every 60] [--model int-tower|dssm]
// [--samples <file>]`: a long run of `prerank serve` under steady load and periodic hot reloads, watching for memory
// growth, errors and drifting latency.
//   Set-up (~15 s): two models (seeds 2022 and 2023) trained for one epoch on the embedded ml-latest-small data and
//   exported to a temp dir; `prerank serve` on the first (a child process on 127.0.0.1, so its RSS is its own; an
//   admin token on /admin/*; ann off); a file of 256 request bodies: random users (1 in 10 an id the model never saw)
//   with --candidates random distinct items each (1 in 50 an id the item store does not know), top 100.
//   Load: the open-loop paced generator of bench/load.ts (a child process) at --rate req/s for --minutes, cycling
//   through the bodies, a request unanswered after 5 s counted as a timeout; every --reload-every seconds this process
//   swaps the served bundle (POST /admin/reload, alternating between the two, so every reload changes the model).
//   Once a second: the server's RSS (/proc/<pid>/status VmRSS), its V8 heap in use (prom-client's
//   prerank_nodejs_heap_size_used_bytes in /metrics) and the CPU time of the server, the generator and the machine.
// Prints a row per minute, then the RSS slope (least squares over the per-second samples, MiB/min) over the last 20
// minutes, or over the run after its first minute when the run is shorter than 21 minutes, and as the last line one
// JSON object. --samples writes the per-second samples and the reloads to a file (JSON lines). runSoak is the core, for
// other benches to call.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { Dataset, recipeConfig } from '../src/data/index.js';
import { exportBundle } from '../src/export/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { runTraining } from '../src/train/run.js';
import { leastSquaresSlope } from '../src/util/stats.js';
import { serveChild, startPaced, type Paced, type PacedSecond } from './load.js';
import { cpuSeconds, machineBusySeconds, rssMiB } from './proc.js';
import { stealLine, stealMeter } from './steal.js';

export interface SoakOptions {
  minutes: number;
  /** Requests per second. */
  rate: number;
  /** Candidates per request. */
  candidates: number;
  /** Seconds between hot reloads (0: none). */
  reloadEvery: number;
  model: 'int-tower' | 'dssm';
  /** Where the rows go (default console.log). */
  log?: (line: string) => void;
  /** Ends the run early (as Ctrl-C does): the server stopped, temp files removed, runSoak rejects. */
  signal?: AbortSignal;
  /** Writes the per-second samples and the reloads here (JSON lines), for a closer look at the series. */
  samplesFile?: string;
}

export const SOAK_DEFAULTS: SoakOptions = { minutes: 30, rate: 500, candidates: 1000, reloadEvery: 60, model: 'int-tower' };

export interface SoakSummary {
  cpu: string;
  date: string;
  minutes: number;
  rate: number;
  requests: number;
  soak_errors: number;
  soak_rss_slope_mib_per_min: number | null;
  rss_start_mib: number | null;
  rss_end_mib: number | null;
  p99_ms_max_minute: number | null;
  reloads: number;
  reloads_failed: number;
  [extra: string]: unknown;
}

const TOP_N = 100;
const BODIES = 256;
const TIMEOUT_MS = 5000;
const INTERRUPTED = 'soak interrupted';
/** Resolves after `ms` or on abort; the abort listener goes with the timer (a 30-minute run sleeps ~1,800 times). */
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((r) => {
  const done = () => {
    clearTimeout(t);
    signal.removeEventListener('abort', done);
    r();
  };
  const t = setTimeout(done, Math.max(0, ms));
  signal.addEventListener('abort', done, { once: true });
});
const f = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
const pct = (sorted: number[], q: number): number | null => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);

/** Request bodies, one per line: random users and candidate lists with some ids the bundle does not know. */
function writeBodies(file: string, data: Dataset, candidates: number, rng: Rng): void {
  const userKey = data.encoders.toJSON().keys.user;
  const items = data.itemKeys.slice();
  const lines: string[] = [];
  for (let b = 0; b < BODIES; b++) {
    const user = rng.uniform() < 0.1 ? `soak-new-user-${b}` : data.userKeys[rng.int(data.userCount)];
    const ids: string[] = [];
    for (let i = 0; i < candidates; i++) {
      // a partial Fisher-Yates shuffle: distinct items while the catalogue lasts, then repeats
      const j = i % items.length;
      const k = j + rng.int(items.length - j);
      [items[j], items[k]] = [items[k], items[j]];
      ids.push(rng.uniform() < 0.02 ? `soak-unknown-${b}-${i}` : items[j]);
    }
    lines.push(JSON.stringify({ user: { [userKey]: user }, candidates: ids, n: Math.min(TOP_N, candidates) }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/** Two bundles of the same architecture, trained from different seeds for one epoch. */
async function trainBundles(data: Dataset, model: SoakOptions['model'], work: string, log: (l: string) => void, signal: AbortSignal): Promise<[string, string]> {
  const dirs: string[] = [];
  for (const seed of [2022, 2023]) {
    const t0 = performance.now();
    const cfg = parseTrainConfig({ model: { kind: model }, data: { recipe: 'ml-latest-small' }, epochs: 1, batchSize: 2048, seed, outDir: join(work, `run-${seed}`) });
    const r = await runTraining(cfg, { data, quiet: true, signal });
    const dir = join(work, `bundle-${seed}`);
    await exportBundle({ model: r.model, dataset: data, config: { kind: model, config: {} } }, dir);
    log(`bundle ${seed}: ${model} trained 1 epoch (test AUC ${r.test.auc.toFixed(4)}), exported in ${f((performance.now() - t0) / 1000)} s`);
    dirs.push(dir);
  }
  return [dirs[0], dirs[1]];
}

/** One per-second sample: t in seconds from the load's start; CPU as cumulative seconds. */
interface Sample {
  t: number;
  rss: number;
  heap: number | null;
  cpu: { server: number | null; generator: number | null; self: number; machine: number | null };
}

interface Reload {
  t: number;
  status: number;
  ok: boolean;
  seconds: number | null;
  error?: string;
}

/** What the load's callback, the sampler and the reloader share. */
interface Run {
  o: SoakOptions;
  address: string;
  pid: number;
  generatorPid: number;
  token: string;
  bundles: [string, string];
  seconds: number;
  /** performance.now() at the load's start (the generator's own t0, to a few ms). */
  t0: number;
  signal: AbortSignal;
  log: (l: string) => void;
  loadDone: boolean;
  samples: Sample[];
  reloads: Reload[];
}

const elapsed = (run: Run): number => (performance.now() - run.t0) / 1000;

/** Once a second until the load ends: the server's RSS and heap, and CPU times. Throws if the server has gone. */
async function sampler(run: Run): Promise<void> {
  for (let k = 0; !run.loadDone && !run.signal.aborted; k = Math.max(k + 1, Math.ceil(elapsed(run)))) {
    await sleep(run.t0 + k * 1000 - performance.now(), run.signal);
    if (run.loadDone || run.signal.aborted) return;
    const t = Math.max(k, elapsed(run)); // a timer may fire a fraction of a ms early: never before its second
    const rss = rssMiB(run.pid);
    if (rss === null) throw new Error(`prerank serve (pid ${run.pid}) is gone at ${f(t)} s`);
    let heap: number | null = null;
    try {
      const text = await (await fetch(`${run.address}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      const line = text.split('\n').find((l) => l.startsWith('prerank_nodejs_heap_size_used_bytes '));
      heap = line ? Number(line.split(' ').pop()) / (1024 * 1024) : null;
    } catch {
      // a missed scrape leaves a gap in the heap column; RSS is still read
    }
    const self = process.cpuUsage();
    run.samples.push({ t, rss, heap, cpu: { server: cpuSeconds(run.pid), generator: cpuSeconds(run.generatorPid), self: (self.user + self.system) / 1e6,
      machine: machineBusySeconds() } });
  }
}

/** Every reloadEvery seconds while the load runs: swaps the served bundle; ok when the model version changed. */
async function reloader(run: Run): Promise<void> {
  const every = run.o.reloadEvery;
  if (every <= 0) return;
  for (let k = 1; k * every < run.seconds; k++) {
    await sleep(run.t0 + k * every * 1000 - performance.now(), run.signal);
    if (run.loadDone || run.signal.aborted) return;
    const t = Math.max(k * every, elapsed(run));
    let r: Reload;
    try {
      const res = await fetch(`${run.address}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-token': run.token },
        body: JSON.stringify({ bundle: run.bundles[k % 2] }), signal: AbortSignal.any([run.signal, AbortSignal.timeout(30_000)]) });
      const j = (await res.json()) as { modelVersion?: string; previous?: string; seconds?: number; message?: string };
      const ok = res.status === 200 && !!j.modelVersion && j.modelVersion !== j.previous;
      r = { t, status: res.status, ok, seconds: j.seconds ?? null, ...(ok ? {} : { error: `${res.status} ${j.message ?? `model version ${j.modelVersion} after ${j.previous}`}` }) };
    } catch (e) {
      if (run.signal.aborted) return;
      r = { t, status: 0, ok: false, seconds: null, error: (e as Error).message };
    }
    run.reloads.push(r);
    if (!r.ok) run.log(`  reload at ${f(t)} s FAILED: ${r.error}`);
  }
}

/** One minute of the run: the generator's seconds in it, the samples taken in it, the reloads started in it. */
function minuteRow(minute: number, secs: PacedSecond[], samples: Sample[], reloads: Reload[]) {
  const sum = (k: 'sent' | 'ok' | 'non2xx' | 'errors' | 'timeouts') => secs.reduce((a, s) => a + s[k], 0);
  const lat = secs.flatMap((s) => s.lat).sort((a, b) => a - b);
  const errors = sum('non2xx') + sum('errors') + sum('timeouts');
  const first = samples[0], last = samples[samples.length - 1];
  const span = first && last ? last.t - first.t : 0;
  // CPU use over the minute, % of one CPU; others: everything on the machine but the server, the generator and this process
  const use = (k: keyof Sample['cpu']) => (span > 0 && first.cpu[k] !== null && last.cpu[k] !== null ? (100 * (last.cpu[k]! - first.cpu[k]!)) / span : null);
  const [server, generator, self, machine] = [use('server'), use('generator'), use('self'), use('machine')];
  return {
    minute, requests: sum('ok') + errors, errors, rate: sum('sent') / Math.max(1, Math.min(60, secs.length)), p50: pct(lat, 0.5), p99: pct(lat, 0.99),
    rss: last?.rss ?? null, heap: last?.heap ?? null, reloadsOk: reloads.filter((r) => r.ok).length, reloadsFailed: reloads.filter((r) => !r.ok).length,
    server, generator, others: machine === null ? null : Math.max(0, machine - (server ?? 0) - (generator ?? 0) - self!),
    lateP99: Math.max(0, ...secs.map((s) => s.lateP99 ?? 0)),
  };
}
type MinuteRow = ReturnType<typeof minuteRow>;

const HEADER = 'minute  requests   req/s  errors  p50 ms  p99 ms  RSS MiB  heap MiB  reloads ok/failed  CPU % server/generator/others';
const rowLine = (r: MinuteRow): string =>
  `${String(r.minute).padStart(6)}  ${String(r.requests).padStart(8)}  ${f(r.rate, 0).padStart(6)}  ${String(r.errors).padStart(6)}  ${f(r.p50, 2).padStart(6)}  ` +
  `${f(r.p99, 2).padStart(6)}  ${f(r.rss).padStart(7)}  ${f(r.heap).padStart(8)}  ${`${r.reloadsOk}/${r.reloadsFailed}`.padStart(17)}  ` +
  `${f(r.server, 0)}/${f(r.generator, 0)}/${f(r.others, 0)}`;

/** The bodies must be valid: the first 100 requests each answered in full; counts the unknown ids they report. */
async function warmUp(url: string, bodyFile: string, n: number, signal: AbortSignal): Promise<number> {
  const bodies = readFileSync(bodyFile, 'utf8').split('\n').filter(Boolean);
  let unknown = 0;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i % bodies.length], signal });
    const j = (await res.json()) as { items?: unknown[]; unknown?: unknown[] };
    if (res.status !== 200 || j.items?.length !== n) throw new Error(`warm-up request failed: ${res.status} ${JSON.stringify(j).slice(0, 300)}`);
    unknown += j.unknown?.length ?? 0;
  }
  return unknown;
}

/** Least-squares slope (MiB/min) of a per-second series over the samples from minute `from` on. */
function slopeFrom(samples: Sample[], from: number, y: (s: Sample) => number | null): number | null {
  const pts = samples.filter((s) => s.t / 60 >= from && y(s) !== null);
  const v = leastSquaresSlope(pts.map((s) => s.t / 60), pts.map((s) => y(s)!));
  return Number.isNaN(v) ? null : v;
}

/** The last lines before the JSON, and the summary. */
function summarise(run: Run, rows: MinuteRow[], load: Paced, sent: number, cpu: string, steal: number | null): SoakSummary {
  const { o, samples, reloads, log } = run;
  const minutes = rows.length;
  const from = minutes >= 21 ? minutes - 20 : minutes >= 2 ? 1 : 0;
  const window = minutes >= 21 ? 'the last 20 minutes'
    : minutes >= 2 ? `minutes ${from}-${minutes}: the whole run after a warm-up minute (a run of 21 minutes or more uses the last 20)`
      : 'the whole run (under 2 minutes: no warm-up minute left out)';
  const rssSlope = slopeFrom(samples, from, (s) => s.rss);
  const heapSlope = slopeFrom(samples, from, (s) => s.heap);
  const p99Max = rows.some((r) => r.p99 !== null) ? Math.max(...rows.map((r) => r.p99 ?? 0)) : null;
  const errors = load.non2xx + load.errors + load.timeouts;
  const sentRate = sent / run.seconds;
  const first = samples[0], last = samples[samples.length - 1];
  const genCpu = first && last && last.t > first.t && first.cpu.generator !== null && last.cpu.generator !== null
    ? (100 * (last.cpu.generator - first.cpu.generator)) / (last.t - first.t) : null;
  const failed = reloads.filter((r) => !r.ok).length;
  log(`RSS slope over ${window}: ${f(rssSlope, 3)} MiB/min (least squares over ${samples.filter((s) => s.t / 60 >= from).length} per-second samples); ` +
    `heap ${f(heapSlope, 3)} MiB/min`);
  log(`requests: ${load.requests} answered or failed, ${errors} failed (non-2xx ${load.non2xx}, socket errors ${load.errors}, timeouts ${load.timeouts}); ` +
    `p50 ${f(load.p50, 2)} ms, p99 ${f(load.p99, 2)} ms over the run; worst minute's p99 ${f(p99Max, 2)} ms`);
  // Below the rate: the generator could not send fast enough. Late timers at the right rate: requests went out in
  // bursts because the machine had no CPU free for the generator when they were due.
  const verdict = sentRate < 0.99 * o.rate ? '  <- BELOW THE TARGET RATE: the generator or the machine could not keep up'
    : load.lateP99 > 20 ? ': at the target rate, but its timer ran late (p99 > 20 ms): requests went out in bursts on a CPU-starved machine'
      : ': at the target rate, on time';
  log(`load generator: sent ${f(sentRate, 1)} req/s (target ${o.rate}), ${f(load.rps, 1)} req/s answered or failed; its timer late p99 ${f(load.lateP99, 2)} ms ` +
    `(worst second ${f(Math.max(0, ...rows.map((r) => r.lateP99)), 1)} ms); its CPU ${f(genCpu, 0)}% of one CPU${verdict}`);
  log(`reloads: ${reloads.length} (${failed} failed), ${reloads.map((r) => f(r.seconds, 2)).join('/')} s each`);
  log(stealLine(steal));
  return {
    cpu, date: new Date().toISOString(), minutes: o.minutes, rate: o.rate, requests: load.requests, soak_errors: errors, soak_rss_slope_mib_per_min: rssSlope,
    rss_start_mib: first?.rss ?? null, rss_end_mib: last?.rss ?? null, p99_ms_max_minute: p99Max, reloads: reloads.length, reloads_failed: failed,
    slope_window: window, heap_slope_mib_per_min: heapSlope, heap_start_mib: first?.heap ?? null, heap_end_mib: last?.heap ?? null,
    sent_rps: sentRate, rps: load.rps, p50_ms: load.p50, p99_ms: load.p99, generator_late_p99_ms: load.lateP99, generator_cpu_pct: genCpu,
    model: o.model, candidates: o.candidates, reload_every_s: o.reloadEvery, steal_share: steal,
  };
}

/** One JSON line per sample ({t, rss_mib, heap_mib, cpu_s: the server's}) and per reload ({reload, t, ok, status, seconds}). */
function writeSamples(file: string, run: Run): void {
  const lines = [
    ...run.samples.map((s) => JSON.stringify({ t: s.t, rss_mib: s.rss, heap_mib: s.heap, cpu_s: s.cpu.server })),
    ...run.reloads.map((r, i) => JSON.stringify({ reload: i + 1, t: r.t, ok: r.ok, status: r.status, seconds: r.seconds, ...(r.error ? { error: r.error } : {}) })),
  ];
  writeFileSync(file, lines.join('\n') + '\n');
}

/** The load, the sampler and the reloader on a started server; a minute's row is printed as the minute ends. */
async function soak(o: SoakOptions, srv: { address: string; pid: number }, bundles: [string, string], bodyFile: string, token: string,
  log: (l: string) => void, ctl: AbortController): Promise<{ run: Run; rows: MinuteRow[]; load: Paced; sent: number }> {
  const url = `${srv.address}/v1/prerank`;
  if (new URL(url).hostname !== '127.0.0.1') throw new Error(`the server listens on ${srv.address}, not on 127.0.0.1`);
  const unknown = await warmUp(url, bodyFile, Math.min(TOP_N, o.candidates), ctl.signal);
  log(`prerank serve (pid ${srv.pid}) on ${srv.address}: ${o.model}, RSS ${f(rssMiB(srv.pid))} MiB after 100 warm-up requests (${unknown} unknown candidates ` +
    `among them); load ${o.rate} req/s x ${o.candidates} candidates for ${o.minutes} min, ${o.reloadEvery > 0 ? `a hot reload every ${o.reloadEvery} s` : 'no reloads'}`);
  const seconds = Math.round(o.minutes * 60);
  const minutes = Math.ceil(seconds / 60);
  const minuteOf = (t: number) => Math.max(0, Math.min(minutes - 1, Math.floor(t / 60)));
  const secs: PacedSecond[][] = Array.from({ length: minutes }, () => []);
  const rows: MinuteRow[] = [];
  let sent = 0;
  const print = (m: number) => {
    if (rows[m]) return;
    rows[m] = minuteRow(m, secs[m], run.samples.filter((s) => minuteOf(s.t) === m), run.reloads.filter((r) => minuteOf(r.t) === m));
    for (const s of secs[m]) s.lat = []; // summarised: free them
    log(rowLine(rows[m]));
  };
  log(HEADER);
  const gen = startPaced(url, bodyFile, o.rate, seconds, {
    timeoutMs: TIMEOUT_MS, signal: ctl.signal,
    onSecond: (s) => {
      if (s.second < seconds) sent += s.sent;
      secs[minuteOf(s.second)].push(s);
      if (s.second % 60 === 59 && s.second < (minutes - 1) * 60) print(minuteOf(s.second));
    },
  });
  const run: Run = { o, address: srv.address, pid: srv.pid, generatorPid: gen.pid, token, bundles, seconds, t0: performance.now() + 200, signal: ctl.signal, log,
    loadDone: false, samples: [], reloads: [] };
  const load = gen.result.finally(() => (run.loadDone = true));
  try {
    const [l] = await Promise.all([load, sampler(run), reloader(run)]);
    for (let m = 0; m < minutes; m++) print(m);
    return { run, rows, load: l, sent };
  } catch (e) {
    ctl.abort(e); // one failure (the server gone, the generator failed) ends the others
    await load.catch(() => {});
    throw e;
  }
}

export async function runSoak(opts: Partial<SoakOptions> = {}): Promise<SoakSummary> {
  const o: SoakOptions = { ...SOAK_DEFAULTS, ...opts };
  const log = o.log ?? ((l: string) => console.log(l));
  // Ctrl-C, SIGTERM and the caller's signal end the run through one controller; the finally blocks clean up.
  const ctl = new AbortController();
  const interrupt = () => ctl.abort(new Error(INTERRUPTED));
  o.signal?.addEventListener('abort', interrupt, { once: true });
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const info = engineInfo();
  log(`CPU: ${info.cpu}; ISA path: ${info.isa} (supported: ${info.supportedIsas.join(', ')}); kernels: ${info.kernels}; pool threads: ${info.threads}`);
  const steal = stealMeter();
  const work = mkdtempSync(join(tmpdir(), 'prerank-bench-soak-'));
  try {
    const data = await Dataset.load(recipeConfig('ml-latest-small'));
    log(`data: ${data.name}, ${data.userCount} users, ${data.itemCount} items`);
    const bundles = await trainBundles(data, o.model, work, log, ctl.signal);
    ctl.signal.throwIfAborted();
    const bodyFile = join(work, 'bodies.jsonl');
    writeBodies(bodyFile, data, o.candidates, new Rng(7));
    const token = randomBytes(16).toString('hex');
    const srv = await serveChild(['--bundle', bundles[0], '--ann', 'off', '--admin-token', token]);
    let r: Awaited<ReturnType<typeof soak>>;
    try {
      r = await soak(o, srv, bundles, bodyFile, token, log, ctl);
    } catch (e) {
      await srv.stop().catch(() => {}); // the first error is the one to report
      throw e;
    }
    await srv.stop();
    if (o.samplesFile) writeSamples(o.samplesFile, r.run);
    return summarise(r.run, r.rows, r.load, r.sent, info.cpu, steal.stop());
  } catch (e) {
    const reason = ctl.signal.reason as Error | undefined;
    throw ctl.signal.aborted && reason?.message === INTERRUPTED ? reason : e;
  } finally {
    rmSync(work, { recursive: true, force: true });
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    o.signal?.removeEventListener('abort', interrupt);
  }
}

/** `--name value` or `--name=value`. */
function parseOpts(args: string[]): SoakOptions {
  const get = (name: string): string | undefined => {
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
  };
  const num = (name: string, dflt: number, ok: (x: number) => boolean, what: string): number => {
    const raw = get(name);
    const x = raw === undefined ? dflt : Number(raw);
    if (!ok(x)) throw new Error(`--${name} must be ${what}, got '${raw}'`);
    return x;
  };
  const model = get('model') ?? SOAK_DEFAULTS.model;
  if (model !== 'int-tower' && model !== 'dssm') throw new Error(`--model must be int-tower or dssm, got '${model}'`);
  return {
    minutes: num('minutes', SOAK_DEFAULTS.minutes, (x) => x > 0 && x <= 24 * 60, 'a number of minutes in (0, 1440]'),
    rate: num('rate', SOAK_DEFAULTS.rate, (x) => x > 0 && x <= 20_000, 'a rate in (0, 20000]'),
    candidates: num('candidates', SOAK_DEFAULTS.candidates, (x) => Number.isInteger(x) && x >= 1 && x <= 10_000, 'an integer in [1, 10000]'),
    reloadEvery: num('reload-every', SOAK_DEFAULTS.reloadEvery, (x) => x >= 0, 'a number of seconds >= 0 (0: no reloads)'),
    model,
    samplesFile: get('samples'),
  };
}

export async function benchSoak(args: string[]): Promise<void> {
  const o = parseOpts(args);
  try {
    console.log(JSON.stringify(await runSoak(o)));
  } catch (e) {
    if ((e as Error).message !== INTERRUPTED) throw e;
    console.error(`${INTERRUPTED}: server and load generator stopped, temp files removed`);
    process.exitCode = 130;
  }
}
