// `prerank serve --bundle <dir> | --watch <root> [options]`.
// --watch follows a versioned bundle root (src/export/versions.ts, src/serve/watch.ts); with --bundle too, that
// bundle is served until the root's current version loads. Admin routes: src/serve/admin.ts.
import cluster from 'node:cluster';
import { basename } from 'node:path';
import { ADMIN_TOKEN_ENV, closeOnSignals, clusterLink, createServer, DEFAULT_LIMITS, defaultBundleRoot, EXIT_CORRUPT, isPrimary, LOG_LEVELS, runPrimary, serveInfo, workerBundle } from '../serve/index.js';
import { featureColumn } from '../data/index.js';
import { defineCommand, UsageError, type OptionValues } from './command.js';

const SERVE_OPTIONS = {
  bundle: { type: 'string', value: 'dir', description: 'a bundle written by prerank export; with --watch, served until the root\'s current version loads' },
  compare: { type: 'string', value: 'dir', description: 'a second bundle served read-only beside the first to requests with ?model=compare (the explorer page at /ui compares the two lists)' },
  watch: { type: 'string', value: 'root', description: 'a versioned bundle root (versions/<n>/ + a pointer file) to follow' },
  'watch-poll-ms': { type: 'int', min: 10, max: 3_600_000, defaultText: '1000', description: 'how often --watch checks the root (ms)' },
  store: { type: 'string', default: 'memory', value: 'store', description: 'where the item table lives: memory, redis://host:port[/db], or redis-cluster://host:port,host:port,... (a Redis Cluster); either with ?prefix=..&lru=rows&timeout=ms&publishTimeout=ms&buckets=n' },
  port: { type: 'int', default: 8080, min: 0, max: 65535, description: 'TCP port (0: any free port)' },
  host: { type: 'string', default: '127.0.0.1', description: 'address to listen on' },
  ann: { type: 'string', default: 'usearch', choices: ['usearch', 'brute-force', 'off'], description: 'the retrieval index for /v1/retrieve and /v1/recommend (off: exact mode only)' },
  'max-candidates': { type: 'int', min: 1, max: 1_000_000, defaultText: String(DEFAULT_LIMITS.maxCandidates), description: 'most candidates a request may send' },
  'max-inflight': { type: 'int', min: 1, max: 1_000_000, defaultText: 'no limit', description: 'requests scored at once; more are answered 503 with retry-after' },
  'admin-token': { type: 'string', value: 'token', defaultText: `$${ADMIN_TOKEN_ENV}`, description: 'require the header x-admin-token on the admin routes' },
  'no-admin': { type: 'boolean', description: 'no admin routes at all (reload with --watch, or restart)' },
  workers: { type: 'int', default: 1, min: 1, max: 256, description: 'serving processes on the one port (node:cluster); each maps the same item table, so the host holds one copy' },
  'bundle-root': { type: 'string', value: 'dir', defaultText: 'the --watch root, else the parent directory of --bundle', description: 'reloads load only bundles under this directory' },
  'log-level': { type: 'string', default: 'info', choices: LOG_LEVELS, description: 'JSON log lines on stdout at this level and above; info has one access line per request (request id, method, url, status, ms)' },
} as const;

export const serveCommand = defineCommand({
  name: 'prerank serve',
  summary: 'Serve a bundle over HTTP (POST /v1/prerank, /v1/score, /v1/retrieve, /v1/recommend, /v1/explain; GET /healthz, /readyz, /metrics, /openapi.json; '
    + 'the model explorer page at /ui/), or follow a versioned bundle root and switch to each new version as it is published.',
  usage: ['prerank serve --bundle <dir> [options]', 'prerank serve --watch <root> [--bundle <dir>] [options]'],
  options: SERVE_OPTIONS,
  examples: [
    'prerank serve --bundle bundles/int-tower',
    'prerank serve --watch bundles/versions --store redis://127.0.0.1:6379 --port 9000',
    'prerank serve --bundle bundles/dssm --store redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000?timeout=300',
    `${ADMIN_TOKEN_ENV}=secret prerank serve --bundle bundles/int-tower --host 0.0.0.0 --max-inflight 64`,
    'prerank serve --bundle bundles/dssm --workers 2',
    'prerank serve --bundle bundles/int-tower --compare bundles/dssm',
  ],
  notes: `Admin routes (POST /admin/reload): the token is compared in constant time; it may come from the environment
variable ${ADMIN_TOKEN_ENV} instead of --admin-token, so it need not appear on a command line (--admin-token wins
when both are set; an empty variable counts as unset). A reload loads only bundles under --bundle-root (after
resolving .. and symlinks; relative paths in a reload are taken from it). Without a token the admin routes are
served only on a loopback --host (127.0.0.0/8, ::1, localhost); on any other address prerank serve refuses to
start unless --admin-token, ${ADMIN_TOKEN_ENV} or --no-admin is given.

The item table is mapped from the bundle's files and served as soon as its size is checked; its sha256 is checked
meanwhile, and a table that differs from the manifest is dropped and the process exits 1. With --workers N a primary
process (holding no bundle) forks N workers on the one port, restarts a worker that dies after it served, and on
SIGTERM/SIGINT lets every worker finish its in-flight requests. A POST /admin/reload reaching one worker is made by
all of them (the answer lists each worker); --watch is followed by each worker; /metrics sums the workers.`,
  run: serve,
});

async function serve(values: OptionValues<typeof SERVE_OPTIONS>): Promise<void> {
  if (!values.bundle && !values.watch) throw new UsageError('give --bundle <dir> or --watch <root>');
  const pollMs = values['watch-poll-ms'];
  const { ann, port } = values;
  const admin = !values['no-admin'];
  if (!admin && values['admin-token'] !== undefined) throw new UsageError('--no-admin and --admin-token contradict each other');
  const adminToken = admin ? values['admin-token'] ?? (process.env[ADMIN_TOKEN_ENV] || undefined) : undefined;
  const bundleRoot = defaultBundleRoot({ bundleRoot: values['bundle-root'], watch: values.watch, bundle: values.bundle });
  const adminNote = !admin ? 'admin off' : `admin ${adminToken === undefined ? 'without token (loopback)' : 'token'}, bundle root ${bundleRoot}`;
  if (isPrimary(values.workers)) {
    runPrimary({ workers: values.workers, log: (m) => console.error(`prerank serve: ${m}`),
      announce: (line, n) => console.log(line.replace(/\)$/, `, ${n} workers)`)) });
    return;
  }
  const worker = cluster.isWorker;
  const log = (m: string) => console.error(`prerank serve${worker ? `[${process.pid}]` : ''}: ${m}`);
  const onCorrupt = (e: Error) => {
    log(`${e.message}: not served`);
    process.exit(worker ? EXIT_CORRUPT : 1);
  };
  const { app, service, link } = await createServer({
    cluster: clusterLink, firstVerify: 'background', onCorrupt,
    bundle: workerBundle(values.bundle), compare: values.compare, watch: values.watch, watchPollMs: pollMs, store: values.store, ann, log,
    host: values.host, admin, adminToken, bundleRoot, // from the command line: a restarted worker's reloaded bundle does not move it
    limits: values['max-candidates'] !== undefined ? { maxCandidates: values['max-candidates'] } : undefined,
    maxInflight: values['max-inflight'], logLevel: values['log-level'],
  });
  closeOnSignals(app, log);
  const address = await app.listen({ port, host: values.host });
  const d = service.deployment;
  const say = (line: string) => (link ? link.ready(line) : console.log(line));
  if (!d) {
    say(`prerank serve: no version yet on ${address} (watching ${values.watch}; ${adminNote})`);
    return;
  }
  // stdout: one line a supervisor (or a test) can read
  const version = values.watch ? ` ${basename(d.bundle.dir)}` : '';
  const it = d.bundle.manifest.items;
  const table = it.cached ? ` ${it.dtype}${it.dtype === 'bfloat16' ? (serveInfo()?.bf16Dot ? ' (bf16 dot product)' : ' (widened to float32)') : ''}` : '';
  say(`prerank serve: ${d.modelVersion}${version} on ${address} (store ${d.store?.kind ?? 'none'}, ${it.count} items${table}, ann ${d.ann?.kind ?? 'off'}, ${adminNote})`);
  if (worker) return;
  const ids = d.bundle.items?.ids ?? d.bundle.itemFeatures?.ids;
  const id = ids && ids.size > 0 ? ids.keyAt(0) : 'ITEM';
  const user: Record<string, string> = {};
  const enc = d.bundle.encoders?.spec;
  // The user-id feature is the sparse user feature read from the interactions' user key column.
  const idFeature = enc?.features.find((f) => f.kind === 'sparse' && f.source === 'user' && featureColumn(f) === enc.keys.user);
  const token = idFeature ? d.bundle.encoders!.vocabulary(idFeature.name).token(2) : undefined;
  if (enc && token !== undefined) user[enc.keys.user] = String(token);
  console.log(`try: curl -s ${address}/v1/prerank -H 'content-type: application/json' -d '${JSON.stringify({ user, candidates: [id], n: 10 })}'`);
  console.log(`model explorer: ${address}/ui/${values.compare ? ` (comparing with ${values.compare})` : ''}`);
}
