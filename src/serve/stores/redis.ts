// Redis item store: one binary blob per item (the table's stored bytes: float32, float16, or int8 with its scale),
// fetched with batched MGET, for several serving nodes sharing one store. Keys live under
// `<prefix>:<model hash>:`, so bundles never overwrite each other; the first node to open a model's key space
// publishes the table (meta key written last, so readers never see half a table). An optional in-process LRU keeps
// hot rows. Outages: every command is bounded by `?timeout=` ms (default 1000); while the connection is down a lookup
// fails at once (StoreUnavailableError -> 503) and ioredis reconnects by itself. A server that comes back without
// the data (restarted without persistence) is noticed on reconnect and whenever an id is not found (the meta key is
// read in the same transaction as those ids): lookups answer 503 naming the cause while this node republishes the
// bundle's table, then recover. Shape letters: I item rep width, M found candidates.
import { Redis } from 'ioredis';
import { decodeBlob, rowBlob, type ItemDType } from '../../export/item-table.js';
import { StoreClosedError, StoreUnavailableError, type ItemLookup, type ItemStore, type StoreFactory, type StoreOpenOptions } from './types.js';

interface Meta {
  format: 'prerank-redis-items/1';
  dim: number;
  dtype: ItemDType;
  size: number;
}

const CHUNK = 1000;
/** Default bound on each Redis command, ms (`?timeout=` in the URL). */
const DEFAULT_TIMEOUT_MS = 1000;

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
  readonly kind = 'redis';
  private closed = false;
  private readonly lru: Lru | null;
  /** Set while the store's data is gone from Redis (a restart without persistence, deleted keys): why, for the 503s. */
  private lost: string | null = null;
  private republishing: Promise<void> | null = null;
  private lastAttempt = 0;

  constructor(private readonly redis: Redis, private readonly space: string, private readonly meta: Meta, lruRows: number,
    private readonly where: string, private readonly timeoutMs: number, private readonly o: StoreOpenOptions) {
    this.lru = lruRows > 0 ? new Lru(lruRows) : null;
    // after a reconnect, check at once that the data survived (a restarted server may be empty)
    redis.on('ready', () => void this.verify().catch(() => undefined));
  }

  get dim(): number {
    return this.meta.dim;
  }

  get size(): number {
    return this.meta.size;
  }

  private unavailable(why: string): StoreUnavailableError {
    return new StoreUnavailableError(`redis item store ${this.where}: ${why}`);
  }

  /** Fails at once while not connected (no queueing behind a reconnect) or while the data is being republished. */
  private ensureUsable(): void {
    if (this.closed) throw new StoreClosedError(this.kind);
    if (this.lost) {
      this.republish();
      throw this.unavailable(this.lost);
    }
    if (this.redis.status !== 'ready') throw this.unavailable(`not connected (${this.redis.status}); requests answer again once it reconnects`);
  }

  async get(ids: readonly string[]): Promise<ItemLookup> {
    this.ensureUsable();
    const { dim, dtype } = this.meta;
    const hot = new Map<string, Float32Array | null>();
    const need: string[] = [];
    for (const id of ids) {
      if (hot.has(id)) continue;
      const row = this.lru?.get(id);
      hot.set(id, row ?? null);
      if (!row) need.push(id);
    }
    const take = (keys: string[], blobs: (Buffer | null)[]) => blobs.forEach((b, k) => {
      if (!b) return;
      const row = new Float32Array(dim);
      decodeBlob(dtype, dim, b, row, 0);
      hot.set(keys[k], row);
      this.lru?.set(keys[k], row);
    });
    try {
      for (let at = 0; at < need.length; at += CHUNK) {
        const keys = need.slice(at, at + CHUNK);
        take(keys, await this.redis.mgetBuffer(keys.map((id) => this.itemKey(id))));
      }
      // Ids not found: unknown items, or the data is gone (a restart). Ask again together with the meta key, atomically.
      const missed = need.filter((id) => !hot.get(id));
      if (missed.length) {
        const tx = this.redis.multi().exists(`${this.space}meta`);
        for (let at = 0; at < missed.length; at += CHUNK) tx.mgetBuffer(missed.slice(at, at + CHUNK).map((id) => this.itemKey(id)));
        const res = (await tx.exec()) ?? [];
        const err = res.find(([e]) => e)?.[0];
        if (err) throw err;
        if (res[0]?.[1] === 0) {
          this.dataLost();
          throw this.unavailable(this.lost!);
        }
        for (let at = 0, k = 1; at < missed.length; at += CHUNK, k++) take(missed.slice(at, at + CHUNK), res[k][1] as (Buffer | null)[]);
      }
    } catch (e) {
      if (e instanceof StoreUnavailableError || this.closed) throw e;
      const m = (e as Error).message;
      if (/timed out/i.test(m)) throw this.unavailable(`a lookup took longer than the ${this.timeoutMs} ms timeout`);
      if (/max retries|connection is closed/i.test(m)) throw this.unavailable(`the connection dropped during a lookup (${m})`);
      throw this.unavailable(m);
    }
    const found: number[] = [];
    const missing: string[] = [];
    ids.forEach((id, i) => (hot.get(id) ? found.push(i) : missing.push(id)));
    const reps = new Float32Array(found.length * dim);
    found.forEach((i, k) => reps.set(hot.get(ids[i])!, k * dim));
    return { found: Int32Array.from(found), reps, missing };
  }

  private itemKey(id: string): string {
    return `${this.space}i:${id}`;
  }

  /** Checks the meta key; republishes when it is gone. */
  private async verify(): Promise<void> {
    if (this.closed || this.lost) return;
    if ((await this.redis.exists(`${this.space}meta`)) === 0) this.dataLost();
  }

  private dataLost(): void {
    if (!this.lost) {
      this.lost = `its data is gone (${this.space}meta is missing: the Redis server restarted empty, or the keys were deleted); republishing the bundle's ${this.meta.size} items`;
      this.o.log?.(`redis item store ${this.where}: ${this.lost}`);
    }
    this.republish();
  }

  /** Publishes the bundle's table again (one attempt at a time, at most one every 5 s after a failure). */
  private republish(): void {
    if (this.republishing || this.closed || Date.now() - this.lastAttempt < 5000 || this.redis.status !== 'ready') return;
    this.lastAttempt = Date.now();
    this.republishing = (async () => {
      try {
        await publishTable(this.redis, this.space, this.o);
        this.lost = null;
        this.lastAttempt = 0;
        this.o.log?.(`redis item store ${this.where}: republished ${this.meta.size} items under ${this.space}`);
      } catch (e) {
        this.lost = `its data is gone (${this.space}meta is missing) and republishing the bundle's items failed (${(e as Error).message}); retried every 5 s, or reload a bundle`;
        this.o.log?.(`redis item store ${this.where}: ${this.lost}`);
      } finally {
        this.republishing = null;
      }
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.republishing;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** redis://[:password@]host:port[/db]?prefix=..&lru=..&timeout=.. -> the connection URL and the store's own parameters. */
export function parseRedisUrl(url: string): { connect: string; prefix: string; lru?: number; timeout: number } {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis store: expected a redis:// URL, got '${url}'`);
  const prefix = u.searchParams.get('prefix') ?? 'prerank';
  const lru = u.searchParams.has('lru') ? Number(u.searchParams.get('lru')) : undefined;
  if (lru !== undefined && !(Number.isInteger(lru) && lru >= 0)) throw new Error(`redis store: lru must be a row count, got '${u.searchParams.get('lru')}'`);
  const timeout = u.searchParams.has('timeout') ? Number(u.searchParams.get('timeout')) : DEFAULT_TIMEOUT_MS;
  if (!(Number.isInteger(timeout) && timeout > 0)) throw new Error(`redis store: timeout must be a positive number of ms, got '${u.searchParams.get('timeout')}'`);
  u.search = '';
  return { connect: u.toString(), prefix, lru, timeout };
}

export async function publishTable(redis: Redis, space: string, o: StoreOpenOptions): Promise<Meta> {
  const t = await o.table();
  for (let at = 0; at < t.ids.length; at += CHUNK) {
    const p = redis.pipeline();
    for (let r = at; r < Math.min(t.ids.length, at + CHUNK); r++) p.set(`${space}i:${t.ids[r]}`, rowBlob(t, r));
    const res = await p.exec();
    const err = res?.find(([e]) => e)?.[0];
    if (err) throw err;
  }
  const meta: Meta = { format: 'prerank-redis-items/1', dim: t.dim, dtype: t.dtype, size: t.ids.length };
  await redis.set(`${space}meta`, JSON.stringify(meta));
  return meta;
}

export const openRedisStore: StoreFactory = async (o) => {
  const { connect, prefix, lru, timeout } = parseRedisUrl(o.url);
  // Every command is bounded (commandTimeout); reconnects retry every 100 ms growing to 1 s, so a restarted server is
  // found again within a second.
  const redis = new Redis(connect, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, commandTimeout: timeout,
    retryStrategy: (times) => Math.min(100 * times, 1000) });
  redis.on('error', () => {}); // failures surface on the commands; without a listener ioredis logs each retry
  const where = connect.replace(/\/\/[^@/]*@/, '//');
  try {
    await redis.connect();
    const space = `${prefix}:${o.modelHash.slice(0, 16)}:`;
    const raw = await redis.get(`${space}meta`);
    const meta = raw ? (JSON.parse(raw) as Meta) : await publishTable(redis, space, o);
    if (meta.format !== 'prerank-redis-items/1') throw new Error(`redis store: ${space}meta has format '${meta.format}'`);
    return new RedisItemStore(redis, space, meta, o.lruRows ?? lru ?? 0, where, timeout, o);
  } catch (e) {
    redis.disconnect();
    throw new Error(`redis store ${where}: ${(e as Error).message}`);
  }
};
