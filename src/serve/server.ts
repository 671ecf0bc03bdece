// The HTTP adapter (fastify): validates bodies, pins the current deployment for the request, calls the scorer and
// maps errors to status codes. Everything else lives in the scorer (request -> response), the service (reload) and
// the version watcher (--watch).
import { randomUUID } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import underPressure from '@fastify/under-pressure';
import { BundleError } from '../export/bundle.js';
import { checkAdminExposure, resolveUnderRoot, tokenMatches } from './admin.js';
import { parseVersionName, readCurrentVersion } from '../export/versions.js';
import { ServeMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { registerExplorer } from './explorer.js';
import { packageVersion } from '../util/version.js';
import { DEFAULT_LIMITS, schemas, validate, type BadField, type Limits } from './schemas.js';
import { RequestError, UnsupportedError, type ScoreResponse } from './scorer.js';
import { NotReadyError, Service, type DeployOptions, type Deployment } from './service.js';
import { classifyReloadError, VersionWatcher } from './watch.js';
import type { ClusterLink, WorkerReload } from './cluster.js';

export interface ServerOptions extends DeployOptions {
  /** Bundle to load before the server is returned (else POST /admin/reload or service.load later). */
  bundle?: string;
  /**
   * A second bundle, served read-only beside the first (never reloaded) to requests that ask `?model=compare`: the
   * model explorer page shows both lists side by side (src/serve/explorer.ts).
   */
  compare?: string;
  /**
   * A versioned bundle root (src/export/versions.ts) to follow: its current version is served (when `bundle` is not
   * given, it is loaded before the server is returned; with no version published yet the server starts not ready)
   * and each newly published version is swapped in. See src/serve/watch.ts.
   */
  watch?: string;
  /** Poll interval of the watch, ms (default 1000). */
  watchPollMs?: number;
  limits?: Partial<Limits>;
  /** Scoring requests in flight (started, not answered) beyond which new ones get 503 + Retry-After. */
  maxInflight?: number;
  /** Seconds in Retry-After of 503 answers. */
  retryAfter?: number;
  /** @fastify/under-pressure thresholds (false: off). Default: event loop delay 200 ms, utilisation 0.98. */
  underPressure?: false | { maxEventLoopDelay?: number; maxEventLoopUtilization?: number; maxHeapUsedBytes?: number; maxRssBytes?: number; sampleInterval?: number };
  /** When set, /admin/* requires the header `x-admin-token: <token>` (compared in constant time). */
  adminToken?: string;
  /** false: no admin routes at all (404). Default true. */
  admin?: boolean;
  /**
   * The address the caller will listen on. When given and not loopback (src/serve/admin.ts), createServer refuses to
   * start with the admin routes on and no adminToken.
   */
  host?: string;
  /**
   * POST /admin/reload loads only bundles under this directory (after resolving `..` and symlinks); relative paths
   * in a reload are taken from it. Default: the `watch` root, else the parent directory of `bundle`; with neither,
   * reloads are refused.
   */
  bundleRoot?: string;
  /**
   * JSON log lines (pino, through fastify) to stdout at this level and above: 'info' adds one access line per
   * request (request id, method, url, status, ms). Default 'silent' (the CLI's default is 'info').
   */
  logLevel?: LogLevel;
  /** Process metrics (event loop lag, heap...) in /metrics; default true. */
  defaultMetrics?: boolean;
  /**
   * In a cluster worker (src/serve/cluster.ts): a reload reaching this worker is made by every worker and /metrics
   * aggregates them all. Created from the server's metrics registry.
   */
  cluster?: (registry: ServeMetrics['registry']) => ClusterLink | null;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface PrerankServer {
  app: FastifyInstance;
  service: Service;
  metrics: ServeMetrics;
  /** Present in a cluster worker (ServerOptions.cluster). */
  link: ClusterLink | null;
  /** Present with the `watch` option. */
  watcher: VersionWatcher | null;
  /** The `compare` bundle's service. */
  compare: Service | null;
}

/** Liveness and metrics answer even under pressure. */
const EXEMPT = { pressureHandler: () => undefined };

class HttpError extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>, readonly headers: Record<string, string> = {}) {
    super(String(body.message ?? body.error));
  }
}

const badRequest = (issues: BadField[]) => new HttpError(400, { error: 'bad request', path: issues[0]?.path ?? '', message: issues[0]?.message ?? '', issues });

/** The directory reloads may load from: ServerOptions.bundleRoot's rule. */
export function defaultBundleRoot(o: Pick<ServerOptions, 'bundleRoot' | 'watch' | 'bundle'>): string | undefined {
  if (o.bundleRoot !== undefined) return resolve(o.bundleRoot);
  if (o.watch !== undefined) return resolve(o.watch);
  return o.bundle === undefined ? undefined : dirname(resolve(o.bundle));
}

export async function createServer(o: ServerOptions = {}): Promise<PrerankServer> {
  checkAdminExposure(o);
  const bundleRoot = defaultBundleRoot(o);
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const retryAfter = String(o.retryAfter ?? 1);
  const metrics = new ServeMetrics(o.defaultMetrics ?? true);
  const link = o.cluster?.(metrics.registry) ?? null;
  const service = new Service({ ...o, observe: (s) => metrics.observe(s) });
  const compare = o.compare ? new Service({ ...o, firstVerify: 'load' }) : null;
  /** The service a request asks for: ?model=compare, else the main one. */
  const serviceFor = (req: FastifyRequest): Service => {
    const model = (req.query as Record<string, unknown> | undefined)?.model;
    if (model === undefined || model === 'main') return service;
    if (model !== 'compare') throw badRequest([{ path: 'model', message: `expected 'main' or 'compare', got ${JSON.stringify(model)}` }]);
    if (!compare) throw new HttpError(404, { error: 'not found', message: 'no compare bundle: start the server with --compare <dir>' });
    return compare;
  };
  service.onSwap((d) => {
    metrics.setModel(d.modelVersion, d.bundle.manifest.model.kind);
    metrics.bundleVersion.set(parseVersionName(basename(d.bundle.dir)) ?? 0);
  });
  const app = Fastify({
    logger: { level: o.logLevel ?? 'silent' }, disableRequestLogging: true, bodyLimit: limits.bodyLimit, return503OnClosing: true,
    // a caller's x-request-id (<= 128 characters) is kept, else one is made; either is sent back in x-request-id
    requestIdHeader: 'x-request-id', genReqId: () => randomUUID(),
  });
  const S = schemas(limits);
  let inflight = 0;

  if (o.underPressure !== false) {
    await app.register(underPressure, { maxEventLoopDelay: 200, maxEventLoopUtilization: 0.98, ...o.underPressure, retryAfter: Number(retryAfter),
      message: 'overloaded, retry later' });
  }

  // Latency from fastify's own clock (reply.elapsedTime: ms since the request arrived; no per-request bookkeeping).
  const accessLog = ['info', 'debug', 'trace'].includes(o.logLevel ?? 'silent');
  app.addHook('onRequest', async (req, reply) => {
    if (req.id.length > 128) req.id = randomUUID();
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.latency.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (accessLog) {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 1000) / 1000 }, 'request');
    }
  });
  let watcher: VersionWatcher | null = null;
  app.addHook('onClose', async () => {
    await watcher?.close();
    await service.close();
    await compare?.close();
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).headers(err.headers).send(err.body);
    if (err instanceof RequestError) return reply.code(400).send({ error: 'bad request', path: err.path, message: err.message, issues: [{ path: err.path, message: err.message }] });
    if (err instanceof UnsupportedError) return reply.code(501).send({ error: 'not supported', message: err.message });
    if (err instanceof NotReadyError) return reply.code(503).header('retry-after', retryAfter).send({ error: 'not ready', message: err.message });
    const status = err.statusCode ?? 500;
    if (status === 503) return reply.code(503).header('retry-after', reply.getHeader('retry-after') ?? retryAfter).send({ error: 'overloaded', message: err.message });
    if (status === 413) return reply.code(413).send({ error: 'payload too large', message: `body exceeds ${limits.bodyLimit} bytes` });
    if (status >= 400 && status < 500) return reply.code(status).send({ error: 'bad request', path: '', message: err.message });
    reply.log.error(err);
    return reply.code(500).send({ error: 'internal error', message: err.message });
  });

  /** Validates, limits in-flight work, pins the deployment, maps store failures to 503. */
  const scoring = <T, R = ScoreResponse>(schema: Parameters<typeof validate<T>>[0], run: (d: Deployment, body: T) => Promise<R>) =>
    async (req: FastifyRequest, _reply: FastifyReply): Promise<R> => {
      const chosen = serviceFor(req);
      const v = validate(schema, req.body);
      if (!v.ok) throw badRequest(v.issues);
      if (o.maxInflight !== undefined && inflight >= o.maxInflight) {
        throw new HttpError(503, { error: 'overloaded', message: `more than ${o.maxInflight} requests in flight` }, { 'retry-after': retryAfter });
      }
      inflight++;
      try {
        return await chosen.with(async (d) => {
          try {
            return await run(d, v.value);
          } catch (e) {
            if (e instanceof RequestError || e instanceof UnsupportedError) throw e;
            if (d.store && d.store.kind !== 'memory') throw new HttpError(503, { error: 'item store unavailable', message: (e as Error).message }, { 'retry-after': retryAfter });
            throw e;
          }
        });
      } finally {
        inflight--;
      }
    };

  app.post('/v1/prerank', scoring(S.prerank, (d, b) => d.scorer.prerank(b)));
  app.post('/v1/score', scoring(S.score, (d, b) => d.scorer.scoreAll(b)));
  app.post('/v1/retrieve', scoring(S.retrieve, (d, b) => d.scorer.retrieve(b)));
  app.post('/v1/recommend', scoring(S.recommend, (d, b) => d.scorer.recommend(b)));

  registerExplorer(app, { scoring, serviceFor, schema: S.explain, hasCompare: !!compare,
    current: (model) => (model === 'main' ? service : compare)?.deployment ?? null });

  app.get('/healthz', { config: EXEMPT }, async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const d = service.deployment;
    if (!d) return reply.code(503).header('retry-after', retryAfter).send({ status: 'not ready', reloading: service.isReloading });
    const version = basename(d.bundle.dir);
    return { status: 'ready', modelVersion: d.modelVersion, version: parseVersionName(version) === null ? null : version, store: d.store?.kind ?? 'none', items: d.store?.size ?? d.bundle.manifest.items.count,
      ann: d.ann?.kind ?? 'none', reloading: service.isReloading, pid: process.pid };
  });
  const openapi = JSON.stringify(openApiDocument(S, { version: packageVersion(), admin: o.admin !== false }));
  app.get('/openapi.json', { config: EXEMPT }, async (_req, reply) => reply.type('application/json').send(openapi));
  app.get('/metrics', { config: EXEMPT }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return link ? link.metrics() : metrics.registry.metrics();
  });

  if (o.admin !== false) {
    app.post('/admin/reload', { config: EXEMPT }, async (req, reply) => {
      if (o.adminToken !== undefined && !tokenMatches(req.headers['x-admin-token'], o.adminToken)) {
        throw new HttpError(401, { error: 'unauthorized', message: 'x-admin-token missing or wrong' });
      }
      const v = validate(S.reload, req.body);
      if (!v.ok) throw badRequest(v.issues);
      const where = await resolveUnderRoot(bundleRoot, v.value.bundle);
      if (!where.ok) throw new HttpError(403, { error: 'forbidden', message: where.message });
      if (!link) {
        const r = await reloadHere(where.path);
        return reply.code(r.status).send(r.body);
      }
      // every worker reloads (the primary relays); the answer is the first failure, else this worker's result
      const all = await link.reloadAll(where.path);
      const own = all.find((r) => r.status !== 200) ?? all.find((r) => r.pid === process.pid) ?? all[0];
      const workers = all.map((r) => ({ pid: r.pid, status: r.status, modelVersion: r.body.modelVersion, message: r.body.message }));
      return reply.code(own.status).send({ ...own.body, workers });
    });
  }

  /** One process's reload of a bundle it may load: status and body of the answer. */
  async function reloadHere(path: string): Promise<WorkerReload> {
    const answer = (status: number, body: Record<string, unknown>): WorkerReload => ({ pid: process.pid, status, body });
    if (service.isReloading) return answer(409, { error: 'conflict', message: 'a reload is already in progress' });
    const previous = service.deployment?.modelVersion ?? null;
    const t0 = performance.now();
    try {
      const d = await service.load(path);
      metrics.reloads.inc({ result: 'ok' });
      return answer(200, { modelVersion: d.modelVersion, previous, seconds: (performance.now() - t0) / 1000, notes: d.notes });
    } catch (e) {
      metrics.reloads.inc({ result: 'error' });
      metrics.reloadFailures.inc({ reason: classifyReloadError(e) });
      const status = e instanceof BundleError ? 422 : 500;
      return answer(status, { error: 'reload failed', message: (e as Error).message, modelVersion: previous });
    }
  }
  link?.onReload(reloadHere);

  try {
    if (o.bundle) {
      await service.load(o.bundle);
    } else if (o.watch) {
      // a bad pointer or a bad current version at start is an error (nothing older to fall back to)
      const cur = readCurrentVersion(o.watch);
      if (cur) await service.load(cur.dir);
      else o.log?.(`${o.watch} has no published version yet (no CURRENT): not ready until one is published`);
    }
    if (compare) await compare.load(o.compare!);
    if (o.watch) {
      watcher = new VersionWatcher(o.watch, service, {
        pollMs: o.watchPollMs, log: o.log,
        onLoaded: () => metrics.reloads.inc({ result: 'ok' }),
        onFailure: (reason) => {
          metrics.reloadFailures.inc({ reason });
          if (reason !== 'pointer') metrics.reloads.inc({ result: 'error' });
        },
      });
      await watcher.start();
    }
  } catch (e) {
    await app.close(); // stops the watcher and under-pressure's timers
    throw e;
  }
  return { app, service, metrics, link, watcher, compare };
}

/** SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close stores, exit 0. */
export function closeOnSignals(app: FastifyInstance, log: (m: string) => void = () => {}): void {
  let closing = false;
  const stop = (sig: string) => {
    if (closing) return;
    closing = true;
    log(`${sig}: closing (finishing in-flight requests)`);
    app.close().then(() => {
      log('closed');
      process.exit(0);
    }, (e: Error) => {
      log(`close failed: ${e.message}`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
