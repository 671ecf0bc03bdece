// Redis item store URLs: redis://[:password@]host:port[/db] for one server, redis-cluster://[:password@]host:port,...
// for a Redis Cluster (any reachable nodes: the client learns the rest), each with
// ?prefix=..&lru=..&timeout=..&publishTimeout=..&buckets=..
import { MAX_BUCKETS } from './redis-layout.js';

/** Default bound on each lookup, ms (`?timeout=` in the URL). */
export const DEFAULT_TIMEOUT_MS = 1000;
/**
 * Default bound on each write while publishing a table, ms (`?publishTimeout=`): an MSET of 500 rows is 256 KB at
 * 128 float32 dims, which a loaded server can take seconds to accept; a lookup's bound would cut it short.
 */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 60_000;
/**
 * Buckets a new table is split into (`?buckets=`): one on a single server; on a cluster 48, which splits evenly among
 * 2, 3, 4, 6, 8, 12, 16 or 24 masters with equal slot ranges, and costs a k = 1,000 lookup 48 MGETs.
 */
export const DEFAULT_BUCKETS = { single: 1, cluster: 48 } as const;

export interface RedisUrl {
  /** Single server: the connection URL (without the store's own parameters). */
  connect: string;
  /** Cluster: the seed nodes. */
  nodes?: { host: string; port: number }[];
  username?: string;
  password?: string;
  prefix: string;
  lru?: number;
  timeout: number;
  /** Bound on each write command while publishing, ms. */
  publishTimeout: number;
  /** Buckets of a table this store publishes (readers take the published table's). */
  buckets: number;
  /** The URL without credentials, for messages. */
  where: string;
}

function param(name: string, raw: string | null, ok: (v: number) => boolean, expected: string): number | undefined {
  if (raw === null) return undefined;
  const v = Number(raw);
  if (!ok(v)) throw new Error(`redis store: ${name} must be ${expected}, got '${raw}'`);
  return v;
}

function storeParams(q: URLSearchParams, cluster: boolean): Pick<RedisUrl, 'prefix' | 'lru' | 'timeout' | 'publishTimeout' | 'buckets'> {
  const prefix = q.get('prefix') ?? 'prerank';
  if (/[{}]/.test(prefix)) throw new Error(`redis store: prefix must not contain '{' or '}' (they would change the keys' hash tags), got '${prefix}'`);
  const lru = param('lru', q.get('lru'), (v) => Number.isInteger(v) && v >= 0, 'a row count');
  const ms = (v: number): boolean => Number.isInteger(v) && v > 0;
  const timeout = param('timeout', q.get('timeout'), ms, 'a positive number of ms') ?? DEFAULT_TIMEOUT_MS;
  const publishTimeout = param('publishTimeout', q.get('publishTimeout'), ms, 'a positive number of ms') ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const buckets = param('buckets', q.get('buckets'), (v) => Number.isInteger(v) && v >= 1 && v <= MAX_BUCKETS, `an integer in 1..${MAX_BUCKETS}`)
    ?? (cluster ? DEFAULT_BUCKETS.cluster : DEFAULT_BUCKETS.single);
  return { prefix, lru, timeout, publishTimeout, buckets };
}

/** Parses a redis:// or redis-cluster:// store URL; bad input throws naming the part and what was expected. */
export function parseRedisUrl(url: string): RedisUrl {
  const m = /^(redis-cluster|rediss?):\/\/(?:([^@/]*)@)?([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (!m) throw new Error(`redis store: expected redis://host:port or redis-cluster://host:port,host:port,..., got '${url}'`);
  const [, scheme, auth, hosts, path, query] = m;
  const q = new URLSearchParams(query ?? '');
  if (scheme !== 'redis-cluster') {
    const u = new URL(url);
    u.search = '';
    return { connect: u.toString(), ...storeParams(q, false), where: u.toString().replace(/\/\/[^@/]*@/, '//') };
  }
  if (path && path !== '/') throw new Error(`redis store: a Redis Cluster has no databases; remove '${path}' from '${url.replace(/\/\/[^@/]*@/, '//')}'`);
  const nodes = hosts.split(',').map((hp) => {
    const hm = /^([^:,]+):(\d+)$/.exec(hp);
    const port = hm ? Number(hm[2]) : NaN;
    if (!hm || !(port > 0 && port < 65536)) throw new Error(`redis store: cluster node '${hp}' is not host:port in '${url.replace(/\/\/[^@/]*@/, '//')}'`);
    return { host: hm[1], port };
  });
  const [user, pass] = auth ? auth.split(':').map(decodeURIComponent) : [];
  return { connect: '', nodes, username: user || undefined, password: pass || undefined, ...storeParams(q, true),
    where: `redis-cluster://${hosts}` };
}
