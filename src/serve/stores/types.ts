// The item store interface: item id -> cached item representation, batched. Implementations register in
// ./index.ts (STORES) and all pass one conformance suite (test/serve-store-conformance.ts).
// Shape letters: N items, I item rep width, M found candidates.
import type { ItemTable } from '../../export/item-table.js';

export interface ItemLookup {
  /** Indices into the requested ids of the items found, in request order. */
  found: Int32Array;
  /** [M, I] float32 representations of the found items, row k for ids[found[k]]. */
  reps: Float32Array;
  /** Requested ids the store does not know, in request order (duplicates kept). */
  missing: string[];
}

/** Where found items sit in an in-process table: what native scoring reads in place, with no copy. */
export interface ItemLocation {
  found: Int32Array;
  /** Row of ids[found[k]] in `table`. */
  rows: Int32Array;
  missing: string[];
  /** The table as the bundle stores it (any dtype), read in place by the compiled plan. */
  table: ItemTable;
}

export interface ItemStore {
  readonly kind: string;
  /** I */
  readonly dim: number;
  /** N: items in the store. */
  readonly size: number;
  get(ids: readonly string[]): Promise<ItemLookup>;
  /** Synchronous row lookup for stores holding a float32 table in process (null: use get()). */
  locate?(ids: readonly string[]): ItemLocation | null;
  /** Releases connections and memory; get() afterwards rejects. */
  close(): Promise<void>;
}

export interface StoreOpenOptions {
  /** 'memory', 'redis://host:port[/db][?prefix=...&lru=rows]' or 'redis-cluster://host:port,host:port,...[?...]'. */
  url: string;
  /** The bundle's model hash: stores that outlive the process keep each model's table under its own key space. */
  modelHash: string;
  /** The bundle's item table, read only when the store needs it (the Redis store only when publishing). */
  table: () => Promise<ItemTable>;
  /** Hot rows cached in the serving process (Redis store; 0 = off). */
  lruRows?: number;
  /** Operational notes (the Redis store: data lost and republished). */
  log?: (msg: string) => void;
}

export type StoreFactory = (o: StoreOpenOptions) => Promise<ItemStore>;

/** The store cannot answer now (unreachable, timed out, data being republished); the message says which. */
export class StoreUnavailableError extends Error {}

export class StoreClosedError extends Error {
  constructor(kind: string) {
    super(`${kind} item store is closed`);
  }
}
