// `prerank serve --bundle <dir> | --watch <root> [--store memory|redis://host:port] [--port 8080] [--host 127.0.0.1]`.
// --watch follows a versioned bundle root (src/export/versions.ts, src/serve/watch.ts); with --bundle too, that
// bundle is served until the root's current version loads. Admin routes: src/serve/admin.ts.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ADMIN_TOKEN_ENV, closeOnSignals, createServer, defaultBundleRoot, serveInfo } from '../serve/index.js';
import { featureColumn } from '../data/index.js';

const USAGE = 'usage: prerank serve (--bundle <dir> | --watch <root> [--watch-poll-ms 1000]) [--store memory|redis://host:port[/db][?prefix=..&lru=rows&timeout=ms]] [--port 8080] [--host 127.0.0.1] [--ann usearch|brute-force|off] [--max-candidates N] [--max-inflight N] [--admin-token T | --no-admin] [--bundle-root <dir>]';

const HELP = `${USAGE}

Admin routes (POST /admin/reload):
  --admin-token T     require the header x-admin-token: T (compared in constant time); the token may come from the
                      environment variable ${ADMIN_TOKEN_ENV} instead, so it need not appear on a command line
                      (--admin-token wins when both are set; an empty variable counts as unset)
  --no-admin          no admin routes at all (reload with --watch, or restart)
  --bundle-root DIR   reloads load only bundles under DIR (after resolving .. and symlinks; relative paths in a
                      reload are taken from DIR); default: the --watch root, else the parent directory of --bundle
  Without a token the admin routes are served only on a loopback --host (127.0.0.0/8, ::1, localhost); on any
  other address prerank serve refuses to start unless --admin-token, ${ADMIN_TOKEN_ENV} or --no-admin is given.`;

export async function runServe(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    bundle: { type: 'string' }, store: { type: 'string', default: 'memory' }, port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' }, ann: { type: 'string', default: 'usearch' }, 'max-candidates': { type: 'string' },
    'admin-token': { type: 'string' }, 'no-admin': { type: 'boolean', default: false }, 'bundle-root': { type: 'string' },
    'max-inflight': { type: 'string' }, watch: { type: 'string' }, 'watch-poll-ms': { type: 'string' }, help: { type: 'boolean', default: false },
  } });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.bundle && !values.watch) throw new Error(USAGE);
  const pollMs = values['watch-poll-ms'] === undefined ? undefined : Number(values['watch-poll-ms']);
  if (pollMs !== undefined && !(Number.isFinite(pollMs) && pollMs >= 10)) throw new Error(`--watch-poll-ms must be a number >= 10, got '${values['watch-poll-ms']}'`);
  const ann = values.ann as 'usearch' | 'brute-force' | 'off';
  if (!['usearch', 'brute-force', 'off'].includes(ann)) throw new Error(`--ann must be usearch, brute-force or off, got '${values.ann}'`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got '${values.port}'`);
  const admin = !values['no-admin'];
  if (!admin && values['admin-token'] !== undefined) throw new Error('--no-admin and --admin-token contradict each other');
  const adminToken = admin ? values['admin-token'] ?? (process.env[ADMIN_TOKEN_ENV] || undefined) : undefined;
  const bundleRoot = defaultBundleRoot({ bundleRoot: values['bundle-root'], watch: values.watch, bundle: values.bundle });
  const adminNote = !admin ? 'admin off' : `admin ${adminToken === undefined ? 'without token (loopback)' : 'token'}, bundle root ${bundleRoot}`;
  const log = (m: string) => console.error(`prerank serve: ${m}`);
  const { app, service } = await createServer({
    bundle: values.bundle, watch: values.watch, watchPollMs: pollMs, store: values.store, ann, log,
    host: values.host, admin, adminToken, bundleRoot: values['bundle-root'],
    limits: values['max-candidates'] ? { maxCandidates: Number(values['max-candidates']) } : undefined,
    maxInflight: values['max-inflight'] ? Number(values['max-inflight']) : undefined,
  });
  closeOnSignals(app, log);
  const address = await app.listen({ port, host: values.host });
  const d = service.deployment;
  if (!d) {
    console.log(`prerank serve: no version yet on ${address} (watching ${values.watch}; ${adminNote})`);
    return;
  }
  // stdout: one line a supervisor (or a test) can read
  const version = values.watch ? ` ${basename(d.bundle.dir)}` : '';
  const it = d.bundle.manifest.items;
  const table = it.cached ? ` ${it.dtype}${it.dtype === 'bfloat16' ? (serveInfo()?.bf16Dot ? ' (bf16 dot product)' : ' (widened to float32)') : ''}` : '';
  console.log(`prerank serve: ${d.modelVersion}${version} on ${address} (store ${d.store?.kind ?? 'none'}, ${it.count} items${table}, ann ${d.ann?.kind ?? 'off'}, ${adminNote})`);
  const id = d.bundle.items?.ids[0] ?? d.bundle.itemFeatures?.ids[0] ?? 'ITEM';
  const user: Record<string, string> = {};
  const enc = d.bundle.encoders?.toJSON();
  // The user-id feature is the sparse user feature read from the interactions' user key column.
  const idFeature = enc?.features.find((f) => f.kind === 'sparse' && f.source === 'user' && featureColumn(f) === enc.keys.user);
  const token = idFeature ? d.bundle.encoders!.vocabulary(idFeature.name).token(2) : undefined;
  if (enc && token !== undefined) user[enc.keys.user] = String(token);
  console.log(`try: curl -s ${address}/v1/prerank -H 'content-type: application/json' -d '${JSON.stringify({ user, candidates: [id], n: 10 })}'`);
}
