// Item stores by URL scheme, registered in one typed line.
import { openMemoryStore } from './memory.js';
import { openRedisStore } from './redis.js';
import type { ItemStore, StoreFactory, StoreOpenOptions } from './types.js';

export const STORES = { memory: openMemoryStore, redis: openRedisStore, 'redis-cluster': openRedisStore } satisfies Record<string, StoreFactory>;
export type StoreKind = keyof typeof STORES;

/** 'memory' -> memory; 'redis://...' or 'rediss://...' -> redis; 'redis-cluster://host:port,...' -> redis-cluster. */
export function storeKind(url: string): StoreKind {
  if (url === 'memory' || url === 'memory:') return 'memory';
  const scheme = /^([a-z-]+):/.exec(url)?.[1];
  if (scheme === 'redis' || scheme === 'rediss') return 'redis';
  if (scheme === 'redis-cluster') return 'redis-cluster';
  throw new Error(`unknown item store '${url}' (use 'memory', redis://host:port or redis-cluster://host:port,host:port,...)`);
}

export function openStore(o: StoreOpenOptions): Promise<ItemStore> {
  return STORES[storeKind(o.url)](o);
}

export type { ItemLookup, ItemStore, StoreFactory, StoreOpenOptions } from './types.js';
export { MemoryItemStore } from './memory.js';
export { RedisItemStore } from './redis.js';
export { parseRedisUrl } from './redis-url.js';
