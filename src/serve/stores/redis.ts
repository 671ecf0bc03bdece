// Redis item store, on one server (redis://) or a Redis Cluster (redis-cluster://): one binary blob per item (the
// table's stored bytes) under the bucketed key layout of ./redis-layout.ts, for several serving nodes sharing one
// store. A lookup sends one MGET per bucket it touches (the bucket's marker + its ids, all in one slot), all issued
// at once: each node's connection carries its MGETs back to back without waiting for replies (pipelined), so a
// lookup costs about one round trip to each node, in parallel. They are sent as separate commands, not as ioredis
// pipeline objects (which re-hash every key to check its node: slower below ~100 buckets here) nor with
// auto-pipelining (slower here, and a batch whose commands get different MOVED replies is not redirected); a lone
// command is redirected and retried by ioredis. The first node to open a model's key space publishes the table, over a
// connection of its own whose writes are bounded by `?publishTimeout=` (default 60 s), not by the lookups' bound: a
// 256 KB MSET can take seconds on a loaded server. An optional in-process LRU keeps hot rows.
// Outages: a lookup is bounded by `?timeout=` ms (default 1000) as a whole: within it ioredis retries (a cluster
// node that is down or restarting: connection refused, CLUSTERDOWN, MOVED), past it the lookup fails as
// StoreUnavailableError (-> 503) naming the cause. While a single server's connection is down a lookup fails at
// once. A bucket whose marker is gone (its node came back empty) is republished from the bundle's table by this
// node; lookups touching it answer 503 until then. Shape letters: I item rep width, M found candidates.
import { Cluster, Redis } from 'ioredis';
import { decodeBlob, type ItemTable } from '../../export/item-table.js';
import { Layout, parseMeta, publishTable, type Meta } from './redis-layout.js';
import { parseRedisUrl, type RedisUrl } from './redis-url.js';
import { StoreClosedError, StoreUnavailableError, type ItemLookup, type ItemStore, type StoreFactory, type StoreOpenOptions } from './types.js';

/** Ids per MGET at most (a bucket with more requested ids takes several). */
const CHUNK = 1000;
/** Least time between two attempts to republish lost data, ms. */
const RETRY_MS = 1000;

type Client = Redis | Cluster;

/** One MGET: bucket b's marker and up to CHUNK of its ids. */
interface Read {
  b: number;
  ids: string[];
  keys: string[];
}

/** Least-recently-used decoded rows. */
class Lru {
  private readonly m = new Map<string, Float32Array>();
  constructor(private readonly cap: number) {}

  get(k: string): Float32Array | undefined {
    const v = this.m.get(k);
    if (v) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }

  set(k: string, v: Float32Array): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.cap) this.m.delete(this.m.keys().next().value!);
  }
}

export class RedisItemStore implements ItemStore {
  private closed = false;
  private readonly lru: Lru | null;
  /** Buckets whose data is gone from Redis (a node restarted without persistence, deleted keys), and why. */
  private readonly lost = new Set<number>();
  private lostWhy = '';
  private republishing: Promise<void> | null = null;
  private lastAttempt = 0;

  constructor(readonly kind: 'redis' | 'redis-cluster', private readonly client: Client, private readonly layout: Layout,
    private readonly meta: Meta, lruRows: number, private readonly url: RedisUrl, private readonly o: StoreOpenOptions) {
    this.lru = lruRows > 0 ? new Lru(lruRows) : null;
    // after a reconnect (a cluster: a node connected again), check at once that the data survived
    client.on(kind === 'redis' ? 'ready' : '+node', () => void this.verify().catch(() => undefined));
  }

  get dim(): number {
    return this.meta.dim;
  }

  get size(): number {
    return this.meta.size;
  }

  private unavailable(why: string): StoreUnavailableError {
    return new StoreUnavailableError(`${this.kind} item store ${this.url.where}: ${why}`);
  }

  async get(ids: readonly string[]): Promise<ItemLookup> {
    if (this.closed) throw new StoreClosedError(this.kind);
    if (this.client.status !== 'ready') throw this.unavailable(`not connected (${this.client.status}); requests answer again once it reconnects`);
    const { dim } = this.meta;
    const hot = new Map<string, Float32Array | null>();
    const reads = this.plan(ids, hot);
    if (reads.some((r) => this.lost.has(r.b))) {
      this.republish();
      throw this.unavailable(this.lostWhy);
    }
    const replies = await this.withinTimeout(Promise.all(reads.map((r) => this.client.mgetBuffer(r.keys))));
    const gone = new Set<number>();
    replies.forEach((blobs, k) => (blobs[0] ? this.take(reads[k].ids, blobs, hot) : gone.add(reads[k].b)));
    if (gone.size) {
      this.dataLost(gone);
      throw this.unavailable(this.lostWhy);
    }
    const found: number[] = [];
    const missing: string[] = [];
    ids.forEach((id, i) => (hot.get(id) ? found.push(i) : missing.push(id)));
    const reps = new Float32Array(found.length * dim);
    found.forEach((i, k) => reps.set(hot.get(ids[i])!, k * dim));
    return { found: Int32Array.from(found), reps, missing };
  }

  /** Fills `hot` with the LRU's rows (null for the others) and returns the MGETs for the rest, by bucket. */
  private plan(ids: readonly string[], hot: Map<string, Float32Array | null>): Read[] {
    const byBucket = new Map<number, string[]>();
    for (const id of ids) {
      if (hot.has(id)) continue;
      const row = this.lru?.get(id);
      hot.set(id, row ?? null);
      if (row) continue;
      const b = this.layout.bucketOf(id);
      const need = byBucket.get(b);
      if (need) need.push(id);
      else byBucket.set(b, [id]);
    }
    const reads: Read[] = [];
    for (const [b, need] of byBucket) {
      for (let at = 0; at < need.length; at += CHUNK) {
        const part = need.slice(at, at + CHUNK);
        reads.push({ b, ids: part, keys: [this.layout.marker(b), ...part.map((id) => this.layout.item(b, id))] });
      }
    }
    return reads;
  }

  /** Decodes one MGET's blobs (after the marker) into `hot` and the LRU. */
  private take(ids: string[], blobs: (Buffer | null)[], hot: Map<string, Float32Array | null>): void {
    const { dim, dtype } = this.meta;
    ids.forEach((id, j) => {
      const blob = blobs[j + 1];
      if (!blob) return;
      const row = new Float32Array(dim);
      decodeBlob(dtype, dim, blob, row, 0);
      hot.set(id, row);
      this.lru?.set(id, row);
    });
  }

  /** The lookup's replies, or StoreUnavailableError once the timeout has passed or a command failed. */
  private async withinTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    p.catch(() => undefined); // a late failure after the timeout answered is expected, not unhandled
    const slow = `a lookup took longer than the ${this.url.timeout} ms timeout${this.kind === 'redis' ? '' : ' (a node is slow, down or restarting)'}`;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.unavailable(slow)), this.url.timeout);
    });
    try {
      return await Promise.race([p, late]);
    } catch (e) {
      if (e instanceof StoreUnavailableError || this.closed) throw e;
      const m = (e as Error).message;
      if (/timed out/i.test(m)) throw this.unavailable(slow);
      if (/max retries|connection is closed/i.test(m)) throw this.unavailable(`the connection dropped during a lookup (${m})`);
      if (/CLUSTERDOWN/.test(m)) throw this.unavailable(`the cluster is down (a node is unreachable or restarting): ${m}`);
      if (/^(MOVED|ASK|TRYAGAIN)\b|redirections/.test(m)) throw this.unavailable(`the cluster's slots are moving or a node is unreachable: ${m}`);
      throw this.unavailable(m);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Checks every bucket's marker; republishes the buckets whose marker is gone. */
  private async verify(): Promise<void> {
    if (this.closed) return;
    const { buckets } = this.layout;
    const there = await Promise.all(Array.from({ length: buckets }, (_, b) => this.client.exists(this.layout.marker(b))));
    const gone = new Set(there.flatMap((n, b) => (n === 0 ? [b] : [])));
    if (gone.size) this.dataLost(gone);
  }

  private dataLost(gone: ReadonlySet<number>): void {
    const fresh = [...gone].filter((b) => !this.lost.has(b));
    if (fresh.length) {
      fresh.forEach((b) => this.lost.add(b));
      this.lostWhy = `part of its data is gone (${this.lost.size} of ${this.layout.buckets} buckets have lost their marker key: a node restarted empty, or the keys were deleted); republishing them from the bundle's ${this.meta.size} items`;
      this.o.log?.(`${this.kind} item store ${this.url.where}: ${this.lostWhy}`);
    }
    this.republish();
  }

  /**
   * Publishes the lost buckets again: one attempt at a time, at most one a second after a failure (a restarted cluster
   * master answers CLUSTERDOWN for a second or two while it rejoins; a failing attempt fails at its first write).
   */
  private republish(): void {
    if (this.republishing || this.closed || !this.lost.size || Date.now() - this.lastAttempt < RETRY_MS || this.client.status !== 'ready') return;
    this.lastAttempt = Date.now();
    const only = new Set(this.lost);
    this.republishing = (async () => {
      try {
        await publish(this.url, this.layout, await this.o.table(), { only });
        only.forEach((b) => this.lost.delete(b));
        this.lastAttempt = 0;
        this.o.log?.(`${this.kind} item store ${this.url.where}: republished ${only.size} buckets under ${this.layout.space}`);
      } catch (e) {
        this.lostWhy = `part of its data is gone (${this.lost.size} of ${this.layout.buckets} buckets) and republishing it failed (${(e as Error).message}); retried every second, or reload a bundle`;
        this.o.log?.(`${this.kind} item store ${this.url.where}: ${this.lostWhy}`);
      } finally {
        this.republishing = null;
      }
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.republishing;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/**
 * A client for the URL. Every command is bounded (commandTimeout). A single server is reconnected every 100 ms growing
 * to 1 s; a cluster client retries a command whose node is down or failing over every 100 ms (within the lookup's
 * timeout) and refreshes its slot map on MOVED and every 5 s.
 */
function connectClient(u: RedisUrl, commandTimeout = u.timeout): Client {
  const common = { commandTimeout, connectTimeout: 3000, maxRetriesPerRequest: 1 };
  const client = u.nodes
    ? new Cluster(u.nodes, { lazyConnect: true, enableAutoPipelining: false, retryDelayOnFailover: 100, retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100, clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
      redisOptions: { ...common, username: u.username, password: u.password } })
    : new Redis(u.connect, { ...common, lazyConnect: true, retryStrategy: (times) => Math.min(100 * times, 1000) });
  client.on('error', () => {}); // failures surface on the commands; without a listener ioredis logs each retry
  return client;
}

/** Publishes the table (or its buckets `only`) over a connection of its own, each write bounded by ?publishTimeout=. */
async function publish(u: RedisUrl, layout: Layout, table: ItemTable, o: { only?: ReadonlySet<number> } = {}): Promise<Meta> {
  const client = connectClient(u, u.publishTimeout);
  try {
    await client.connect();
    return await publishTable(client, layout, table, o);
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(`publishing the item table ${/timed out/i.test(m) ? `took longer than the ${u.publishTimeout} ms ?publishTimeout= for one write` : `failed: ${m}`}`);
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}

export const openRedisStore: StoreFactory = async (o) => {
  const u = parseRedisUrl(o.url);
  const client = connectClient(u);
  try {
    await client.connect();
    const space = `${u.prefix}:${o.modelHash.slice(0, 16)}:`;
    const meta = parseMeta(await client.get(`${space}meta`), `${space}meta`)
      ?? await publish(u, new Layout(space, u.buckets), await o.table());
    return new RedisItemStore(u.nodes ? 'redis-cluster' : 'redis', client, new Layout(space, meta.buckets), meta, o.lruRows ?? u.lru ?? 0, u, o);
  } catch (e) {
    client.disconnect();
    throw new Error(`${u.nodes ? 'redis-cluster' : 'redis'} store ${u.where}: ${(e as Error).message}`);
  }
};
