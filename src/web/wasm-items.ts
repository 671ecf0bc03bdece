// Candidate item reps held in the scorer module's memory (a bundle's cached item table: float32, bfloat16 or
// float16 bits, or int8 with a scale per row), copied in once (or streamed in straight from a fetch response) and
// scored in place by every request, with the ids they are asked for by.
// Shape letters: N items, I item rep width.
import type { ScorerModule } from './wasm-module.js';
import { WasmScorerError } from './wasm-imports.js';

export type WasmItemDType = 'float32' | 'bfloat16' | 'float16' | 'int8';

// ItemFormat (native/serve_kernels.h)
const FORMATS: Record<WasmItemDType, { code: number; bytes: number; array: string }> = {
  float32: { code: 0, bytes: 4, array: 'Float32Array' },
  bfloat16: { code: 1, bytes: 2, array: 'Uint16Array' },
  float16: { code: 2, bytes: 2, array: 'Uint16Array' },
  int8: { code: 3, bytes: 1, array: 'Int8Array' },
};

export interface WasmItemsOptions {
  /** Floats per item rep (the plan's itemDim). */
  dim: number;
  dtype?: WasmItemDType;
  /** int8 tables: one float32 scale per row (x = q * scale). */
  scales?: Float32Array;
  /** The item id of each row, for scoring by id. */
  ids?: readonly string[];
}

export class WasmItems {
  private rowOf: Map<string, number> | null = null;
  private disposed = false;

  /** @internal Made by WasmScorer.items / fetchItems. */
  constructor(private readonly mod: ScorerModule, readonly ptr: number, readonly scalesPtr: number, readonly count: number,
    readonly dim: number, readonly dtype: WasmItemDType, private readonly ids: readonly string[] | null) {}

  get format(): number {
    return FORMATS[this.dtype].code;
  }

  /** Throws when dispose() has run. */
  check(): void {
    if (this.disposed) throw new WasmScorerError('the item table was disposed');
  }

  /** Row of each id; throws naming the ids the table does not hold. */
  rowsOf(ids: readonly string[]): Int32Array {
    if (!this.ids) throw new WasmScorerError('the item table was made without ids: score it by row');
    if (!this.rowOf) this.rowOf = new Map(this.ids.map((id, r) => [id, r]));
    const rows = new Int32Array(ids.length);
    const missing: string[] = [];
    ids.forEach((id, k) => {
      const r = this.rowOf!.get(id);
      if (r === undefined) missing.push(id);
      else rows[k] = r;
    });
    if (missing.length) {
      throw new WasmScorerError(`${missing.length} candidate id(s) are not in the item table: ${missing.slice(0, 5).map((s) => JSON.stringify(s)).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    }
    return rows;
  }

  /** The table's bytes in module memory, as stored (a view: valid until the module's memory grows). */
  bytes(): Uint8Array {
    this.check();
    return this.mod.bytes(this.ptr, this.count * this.dim * FORMATS[this.dtype].bytes);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mod.free(this.ptr);
    this.mod.free(this.scalesPtr);
  }
}

function checkShape(opts: WasmItemsOptions, length: number, what: string): { dtype: WasmItemDType; count: number } {
  const dtype = opts.dtype ?? 'float32';
  if (!FORMATS[dtype]) throw new WasmScorerError(`item table: dtype '${String(dtype)}' is not one of ${Object.keys(FORMATS).join(', ')}`);
  if (!Number.isInteger(opts.dim) || opts.dim < 1) throw new WasmScorerError(`item table: dim must be a positive integer (got ${String(opts.dim)})`);
  if (length % opts.dim !== 0) throw new WasmScorerError(`item table: ${what} of ${length} values is not a whole number of rows of ${opts.dim}`);
  const count = length / opts.dim;
  if (dtype === 'int8' && !(opts.scales instanceof Float32Array && opts.scales.length === count)) {
    throw new WasmScorerError(`item table: an int8 table needs scales, a Float32Array of one scale per row (${count})`);
  }
  if (opts.ids && opts.ids.length !== count) throw new WasmScorerError(`item table: ${opts.ids.length} ids for ${count} rows`);
  return { dtype, count };
}

/** A copy of `data` (rows of opts.dim values of opts.dtype) in module memory. */
export function copyItems(mod: ScorerModule, data: Float32Array | Uint16Array | Int8Array, opts: WasmItemsOptions): WasmItems {
  const { dtype, count } = checkShape(opts, data.length, 'a table');
  if (data.constructor.name !== FORMATS[dtype].array) throw new WasmScorerError(`item table: a ${dtype} table is a ${FORMATS[dtype].array}, not a ${data.constructor.name}`);
  const ptr = mod.copyIn(data);
  const scales = opts.scales && dtype === 'int8' ? mod.copyIn(opts.scales) : 0;
  return new WasmItems(mod, ptr, scales, count, opts.dim, dtype, opts.ids ?? null);
}

/**
 * The body of a fetch response (the bytes of an item table file) read chunk by chunk straight into module memory:
 * no second copy of the table in the page. The response must say its length (Content-Length).
 */
export async function streamItems(mod: ScorerModule, response: Response, opts: WasmItemsOptions): Promise<WasmItems> {
  const where = response.url || 'the response';
  if (!response.ok) throw new WasmScorerError(`item table ${where}: HTTP ${response.status}`);
  const length = Number(response.headers.get('content-length'));
  if (!Number.isInteger(length) || length <= 0 || !response.body) throw new WasmScorerError(`item table ${where}: the response gives no Content-Length`);
  const dtype = opts.dtype ?? 'float32';
  const bytes = FORMATS[dtype]?.bytes ?? 1;
  if (length % bytes) throw new WasmScorerError(`item table ${where}: ${length} bytes is not a whole number of ${dtype} values`);
  const { count } = checkShape(opts, length / bytes, `${where}`);
  const ptr = mod.alloc(length);
  let at = 0;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > length) throw new WasmScorerError(`item table ${where}: more bytes than its Content-Length (${length})`);
      mod.bytes(ptr + at, value.length).set(value);
      at += value.length;
    }
    if (at !== length) throw new WasmScorerError(`item table ${where}: ${at} bytes read, Content-Length says ${length}`);
  } catch (e) {
    mod.free(ptr);
    throw e;
  }
  const scales = opts.scales && dtype === 'int8' ? mod.copyIn(opts.scales) : 0;
  return new WasmItems(mod, ptr, scales, count, opts.dim, dtype, opts.ids ?? null);
}
