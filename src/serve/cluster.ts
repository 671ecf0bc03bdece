// Several serving processes on one port (node:cluster): the primary holds no bundle, only the listening socket (it
// hands connections to the workers in turn), forks the workers, restarts one that dies after it served, and drains
// them all on SIGTERM/SIGINT. Each worker loads the bundle itself; its item table and saved ANN index are mapped
// from the same files, so the host keeps one copy in the page cache. Across workers:
// - a POST /admin/reload that reaches one worker is made by every worker (through the primary), and answered once
//   all have answered, with each worker's result;
// - /metrics is the sum over workers (prom-client's cluster aggregation; gauges say how they combine);
// - --watch: every worker follows the root itself, so all switch to a new version within one poll.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** Set by the primary for a worker it forks after a reload: the bundle the other workers serve now. */
const RELOADED_ENV = 'PRERANK_SERVE_RELOADED_BUNDLE';

/** The bundle a worker starts with: the last one reloaded by all workers, else the command line's. */
export function workerBundle(given: string | undefined): string | undefined {
  return (cluster.isWorker && process.env[RELOADED_ENV]) || given;
}

/** A worker exits with this code when its bundle turned out corrupt: restarting it would not help. */
export const EXIT_CORRUPT = 78;

/** One worker's answer to a reload. */
export interface WorkerReload {
  pid: number;
  status: number;
  body: Record<string, unknown>;
}

type Msg =
  | { t: 'prerank:ready'; line: string }
  | { t: 'prerank:reload'; id: number; path: string }
  | { t: 'prerank:reload-here'; id: number; path: string }
  | { t: 'prerank:reloaded'; id: number; result: WorkerReload }
  | { t: 'prerank:reload-all'; id: number; results: WorkerReload[] }
  | { t: 'prerank:metrics'; id: number }
  | { t: 'prerank:metrics-text'; id: number; text: string; error?: string };

const isMsg = (m: unknown): m is Msg => typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string' && (m as { t: string }).t.startsWith('prerank:');

/** What a serving worker asks of the other workers (null when this process is not a cluster worker). */
export interface ClusterLink {
  /** Every worker (this one included) reloads `path`; resolves with each worker's result. */
  reloadAll(path: string): Promise<WorkerReload[]>;
  /** The metrics of all workers, aggregated. */
  metrics(): Promise<string>;
  /** How this worker reloads when another worker's request asks it to. */
  onReload(fn: (path: string) => Promise<WorkerReload>): void;
  /** Tells the primary this worker serves; `line` is what a single process prints on stdout. */
  ready(line: string): void;
}

/** The link of a cluster worker to its primary, or null in a process that is not a cluster worker. */
export function clusterLink(registry: Registry): ClusterLink | null {
  if (!cluster.isWorker) return null;
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs the worker's answer to the primary's metrics requests
  let next = 0;
  const waiting = new Map<number, (m: Msg) => void>();
  let reloadHere: ((path: string) => Promise<WorkerReload>) | null = null;
  const ask = <T>(msg: Msg & { id: number }, pick: (m: Msg) => T): Promise<T> => new Promise((resolve) => {
    waiting.set(msg.id, (m) => resolve(pick(m)));
    process.send!(msg);
  });
  process.on('message', (m: unknown) => {
    if (!isMsg(m)) return;
    if (m.t === 'prerank:reload-here') {
      const run = reloadHere ?? (async () => ({ pid: process.pid, status: 503, body: { error: 'not ready', message: 'this worker cannot reload yet' } }));
      void run(m.path).then((result) => process.send!({ t: 'prerank:reloaded', id: m.id, result } satisfies Msg));
    } else if ('id' in m) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    }
  });
  // the primary is gone (killed): nothing routes connections here any more
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  return {
    reloadAll: (path) => ask({ t: 'prerank:reload', id: next++, path }, (m) => (m.t === 'prerank:reload-all' ? m.results : [])),
    metrics: () => ask({ t: 'prerank:metrics', id: next++ }, (m) => {
      if (m.t !== 'prerank:metrics-text' || m.error) throw new Error(`metrics of the workers: ${m.t === 'prerank:metrics-text' ? m.error : 'no answer'}`);
      return m.text;
    }),
    onReload: (fn) => {
      reloadHere = fn;
    },
    ready: (line) => process.send!({ t: 'prerank:ready', line } satisfies Msg),
  };
}

export interface PrimaryOptions {
  workers: number;
  log: (msg: string) => void;
  /** Printed once on stdout when every worker serves: the first worker's line, which the primary completes. */
  announce: (line: string, workers: number) => void;
  /** Restarts of workers within a minute beyond which the primary stops everything and exits 1 (default 10). */
  maxRestartsPerMinute?: number;
  /** How long SIGTERM waits for the workers to drain before killing them (ms, default 30,000). */
  drainMs?: number;
}

/** Runs the primary: forks, restarts, relays reloads and metrics, drains on a signal. Never returns (it exits). */
export function runPrimary(o: PrimaryOptions): void {
  const agg = new AggregatorRegistry();
  const ready = new Set<Worker>();
  const restarts: number[] = [];
  let announced = false;
  let stopping = false;
  let exitCode = 0;
  const reloads = new Map<number, { from: Worker; id: number; pending: Set<Worker>; results: WorkerReload[]; path: string }>();
  let reloadIds = 0;
  /** The bundle of the last reload some worker made: a worker started later loads it. */
  let reloaded: string | null = null;

  /** Worker w's part of reload `id` is done; the asking worker gets every result once the last is in. */
  const answered = (id: number, w: Worker, result: WorkerReload): void => {
    const r = reloads.get(id);
    if (!r || !r.pending.delete(w)) return;
    r.results.push(result);
    if (result.status === 200) reloaded = r.path;
    if (r.pending.size > 0) return;
    reloads.delete(id);
    if (r.from.isConnected()) r.from.send({ t: 'prerank:reload-all', id: r.id, results: r.results } satisfies Msg);
  };
  const stop = (why: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    o.log(`${why}: stopping ${Object.keys(cluster.workers ?? {}).length} workers (finishing in-flight requests)`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, o.drainMs ?? 30_000).unref();
  };
  const fork = (): Worker => {
    const w = cluster.fork(reloaded ? { [RELOADED_ENV]: reloaded } : {});
    w.on('message', (m: unknown) => onMessage(w, m));
    return w;
  };
  const onMessage = (w: Worker, m: unknown): void => {
    if (!isMsg(m)) return;
    if (m.t === 'prerank:ready') {
      ready.add(w);
      if (!announced && ready.size === o.workers) {
        announced = true;
        o.announce(m.line, o.workers);
      } else if (announced) o.log(`worker ${w.process.pid} serves`);
    } else if (m.t === 'prerank:reload') {
      const targets = Object.values(cluster.workers ?? {}).filter((x): x is Worker => !!x && x.isConnected());
      const id = reloadIds++;
      reloads.set(id, { from: w, id: m.id, pending: new Set(targets), results: [], path: m.path });
      for (const x of targets) x.send({ t: 'prerank:reload-here', id, path: m.path } satisfies Msg);
    } else if (m.t === 'prerank:reloaded') {
      answered(m.id, w, m.result);
    } else if (m.t === 'prerank:metrics') {
      agg.clusterMetrics().then((text) => w.send({ t: 'prerank:metrics-text', id: m.id, text } satisfies Msg),
        (e: Error) => w.send({ t: 'prerank:metrics-text', id: m.id, text: '', error: e.message } satisfies Msg));
    }
  };
  cluster.on('exit', (w, code, signal) => {
    const served = ready.delete(w);
    for (const id of [...reloads.keys()]) {
      answered(id, w, { pid: w.process.pid ?? 0, status: 503, body: { error: 'worker exited', message: `worker ${w.process.pid} exited during the reload` } });
    }
    if (stopping) {
      if (code !== 0 && !signal) exitCode = exitCode || 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (code === EXIT_CORRUPT) return stop(`worker ${w.process.pid} found its bundle corrupt`, 1);
    if (!served) return stop(`worker ${w.process.pid} exited (${how}) before it served`, 1);
    const now = Date.now();
    restarts.push(now);
    while (restarts[0] < now - 60_000) restarts.shift();
    if (restarts.length > (o.maxRestartsPerMinute ?? 10)) return stop(`${restarts.length} worker restarts within a minute`, 1);
    o.log(`worker ${w.process.pid} exited (${how}): starting another`);
    fork();
  });
  process.once('SIGTERM', () => stop('SIGTERM', 0));
  process.once('SIGINT', () => stop('SIGINT', 0));
  for (let i = 0; i < o.workers; i++) fork();
}

/** True in the primary of a cluster run with more than one worker (it serves nothing itself). */
export const isPrimary = (workers: number): boolean => workers > 1 && cluster.isPrimary;
