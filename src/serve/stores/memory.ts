// In-process item store: the bundle's item table (one copy, float32/bfloat16/float16/int8, read in place by the
// compiled plans) and its ids (id -> row: the bundle's id table, read in place).
import { decodeRow, type ItemTable } from '../../export/item-table.js';
import { StoreClosedError, type ItemLocation, type ItemLookup, type ItemStore, type StoreFactory } from './types.js';

export class MemoryItemStore implements ItemStore {
  readonly kind = 'memory';
  private closed = false;

  constructor(private readonly table: ItemTable) {}

  get dim(): number {
    return this.table.dim;
  }

  get size(): number {
    return this.table.ids.size;
  }

  /** Synchronous lookup (the async get() wraps it). */
  lookup(ids: readonly string[]): ItemLookup {
    const { found, rows, missing } = this.rowsOf(ids);
    const dim = this.table.dim;
    const reps = new Float32Array(found.length * dim);
    for (let k = 0; k < found.length; k++) decodeRow(this.table, rows[k], reps, k * dim);
    return { found, reps, missing };
  }

  /** Rows in the table as stored (any dtype). */
  locate(ids: readonly string[]): ItemLocation {
    return { ...this.rowsOf(ids), table: this.table };
  }

  private rowsOf(ids: readonly string[]): { found: Int32Array; rows: Int32Array; missing: string[] } {
    if (this.closed) throw new StoreClosedError(this.kind);
    const rows = this.table.ids.indexOfAll(ids);
    const found = new Int32Array(ids.length);
    const missing: string[] = [];
    let m = 0;
    for (let i = 0; i < ids.length; i++) {
      const r = rows[i];
      if (r < 0) missing.push(ids[i]);
      else {
        rows[m] = r;
        found[m++] = i;
      }
    }
    return { found: found.subarray(0, m), rows: rows.subarray(0, m), missing };
  }

  async get(ids: readonly string[]): Promise<ItemLookup> {
    return this.lookup(ids);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export const openMemoryStore: StoreFactory = async (o) => new MemoryItemStore(await o.table());
