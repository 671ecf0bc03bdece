// Redis item store: one binary blob per item (the table's stored bytes: float32, float16, or int8 with its scale),
// fetched with batched MGET, for several serving nodes sharing one store. Keys live under
// `<prefix>:<model hash>:`, so bundles never overwrite each other; the first node to open a model's key space
// publishes the table (meta key written last, so readers never see half a table). An optional in-process LRU keeps
// hot rows. Shape letters: I item rep width, M found candidates.
import { Redis } from 'ioredis';
import { decodeBlob, rowBlob, type ItemDType } from '../../export/item-table.js';
import { StoreClosedError, type ItemLookup, type ItemStore, type StoreFactory, type StoreOpenOptions } from './types.js';

interface Meta {
  format: 'prerank-redis-items/1';
  dim: number;
  dtype: ItemDType;
  size: number;
}

const CHUNK = 1000;

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

  constructor(private readonly redis: Redis, private readonly space: string, private readonly meta: Meta, lruRows: number) {
    this.lru = lruRows > 0 ? new Lru(lruRows) : null;
  }

  get dim(): number {
    return this.meta.dim;
  }

  get size(): number {
    return this.meta.size;
  }

  async get(ids: readonly string[]): Promise<ItemLookup> {
    if (this.closed) throw new StoreClosedError(this.kind);
    const { dim, dtype } = this.meta;
    const hot = new Map<string, Float32Array | null>();
    const need: string[] = [];
    for (const id of ids) {
      if (hot.has(id)) continue;
      const row = this.lru?.get(id);
      hot.set(id, row ?? null);
      if (!row) need.push(id);
    }
    for (let at = 0; at < need.length; at += CHUNK) {
      const keys = need.slice(at, at + CHUNK);
      const blobs = await this.redis.mgetBuffer(keys.map((id) => `${this.space}i:${id}`));
      blobs.forEach((b, k) => {
        if (!b) return;
        const row = new Float32Array(dim);
        decodeBlob(dtype, dim, b, row, 0);
        hot.set(keys[k], row);
        this.lru?.set(keys[k], row);
      });
    }
    const found: number[] = [];
    const missing: string[] = [];
    ids.forEach((id, i) => (hot.get(id) ? found.push(i) : missing.push(id)));
    const reps = new Float32Array(found.length * dim);
    found.forEach((i, k) => reps.set(hot.get(ids[i])!, k * dim));
    return { found: Int32Array.from(found), reps, missing };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** redis://[:password@]host:port[/db]?prefix=..&lru=.. -> the connection URL and the store's own parameters. */
export function parseRedisUrl(url: string): { connect: string; prefix: string; lru?: number } {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis store: expected a redis:// URL, got '${url}'`);
  const prefix = u.searchParams.get('prefix') ?? 'prerank';
  const lru = u.searchParams.has('lru') ? Number(u.searchParams.get('lru')) : undefined;
  if (lru !== undefined && !(Number.isInteger(lru) && lru >= 0)) throw new Error(`redis store: lru must be a row count, got '${u.searchParams.get('lru')}'`);
  u.search = '';
  return { connect: u.toString(), prefix, lru };
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
  const { connect, prefix, lru } = parseRedisUrl(o.url);
  const redis = new Redis(connect, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  redis.on('error', () => {}); // failures surface on the commands; without a listener ioredis logs each retry
  try {
    await redis.connect();
    const space = `${prefix}:${o.modelHash.slice(0, 16)}:`;
    const raw = await redis.get(`${space}meta`);
    const meta = raw ? (JSON.parse(raw) as Meta) : await publishTable(redis, space, o);
    if (meta.format !== 'prerank-redis-items/1') throw new Error(`redis store: ${space}meta has format '${meta.format}'`);
    return new RedisItemStore(redis, space, meta, o.lruRows ?? lru ?? 0);
  } catch (e) {
    redis.disconnect();
    throw new Error(`redis store ${connect}: ${(e as Error).message}`);
  }
};
