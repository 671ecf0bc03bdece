// Epochs of batches read from a cache split in chunks, into buffers allocated once per stream. Shuffled epochs visit
// the split's chunks in a seeded order, a window of WINDOW chunks at a time, and shuffle the rows of each window;
// the train split was written in a seeded hash order, so a window holds rows from all over the log. The order of
// epoch e depends only on (seed, e): a resumed run reproduces it. Memory: WINDOW x chunkRows rows, whatever the split.
import { join } from 'node:path';
import { Rng } from '../core/random.js';
import { allocBatch, headOf, type Batch, type BatchFiller } from './batch.js';
import { allocColumn, ColumnReader, rowFile, type TypedColumn } from './column-cache.js';
import type { RowColumn } from './cache-build.js';
import type { FeatureInfo } from './encoders.js';
import type { HistoryGather } from './sql-history.js';
import type { SplitName } from './split.js';

/** Chunks shuffled together. */
export const WINDOW = 4;

export interface CacheStreamSource {
  dir: string;
  features: FeatureInfo[];
  columns: RowColumn[];
  histories: Map<string, { gather: HistoryGather; column: string }>;
  entityFiller: BatchFiller;
  withWeight: boolean;
}

export interface CacheStreamOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  dropLast: boolean;
  chunkRows: number;
}

export class CacheBatchStream {
  private readonly cap: number;
  private readonly buf = new Map<string, TypedColumn>();
  private readonly spare = new Map<string, TypedColumn>();
  private readonly idx: Int32Array;
  private readonly full: Batch;

  constructor(private readonly src: CacheStreamSource, private readonly split: SplitName, readonly rowCount: number,
    private readonly opts: CacheStreamOptions) {
    if (opts.batchSize < 1) throw new Error('batchSize must be at least 1');
    const window = opts.shuffle ? WINDOW : 1;
    this.cap = Math.min(rowCount, window * opts.chunkRows) + opts.batchSize;
    for (const c of src.columns) {
      this.buf.set(c.name, allocColumn(c.dtype, this.cap));
      this.spare.set(c.name, allocColumn(c.dtype, opts.batchSize));
    }
    this.idx = new Int32Array(this.cap);
    this.full = allocBatch(src.features, opts.batchSize, src.withWeight);
  }

  get batchesPerEpoch(): number {
    const { batchSize, dropLast } = this.opts;
    return dropLast ? Math.floor(this.rowCount / batchSize) : Math.ceil(this.rowCount / batchSize);
  }

  /** The batches of epoch e. Every yielded Batch shares buffers with the previous one. */
  *epoch(e = 0): Generator<Batch> {
    const { batchSize: B, shuffle, seed, dropLast, chunkRows: C } = this.opts;
    const chunks = Int32Array.from({ length: Math.ceil(this.rowCount / C) }, (_, i) => i);
    const rng = new Rng((Math.imul(seed, 0x9e3779b1) + e) >>> 0);
    if (shuffle) rng.shuffle(chunks);
    const window = shuffle ? WINDOW : 1;
    const readers = this.src.columns.map((c) => new ColumnReader(join(this.src.dir, rowFile(this.split, c.name)), c.dtype));
    try {
      let pending = 0;
      for (let g = 0; g < chunks.length; g += window) {
        let at = pending;
        for (const c of chunks.subarray(g, g + window)) {
          const n = Math.min(C, this.rowCount - c * C);
          readers.forEach((r, k) => r.read(c * C, n, this.buf.get(this.src.columns[k].name)!, at));
          at += n;
        }
        for (let k = 0; k < at; k++) this.idx[k] = k;
        if (shuffle) rng.shuffle(this.idx.subarray(pending, at));
        let next = 0;
        for (; at - next >= B; next += B) yield this.fill(next, B);
        pending = at - next;
        this.moveToFront(next, pending);
      }
      if (pending > 0 && !dropLast) {
        for (let k = 0; k < pending; k++) this.idx[k] = k;
        yield headOf(this.fill(0, pending), pending);
      }
    } finally {
      for (const r of readers) r.close();
    }
  }

  /** Rows idx[from .. from+n) into slots 0..n of the batch. */
  private fill(from: number, n: number): Batch {
    const b = this.full;
    const { idx } = this;
    const col = (name: string): TypedColumn => this.buf.get(name)!;
    const row = col('row'), user = col('user'), item = col('item'), label = col('label');
    for (let i = 0; i < n; i++) {
      const p = idx[from + i];
      b.rows[i] = row[p];
      b.user[i] = user[p];
      b.item[i] = item[p];
      b.label[i] = label[p];
    }
    if (b.weight) {
      const w = col('weight');
      for (let i = 0; i < n; i++) b.weight[i] = w[idx[from + i]];
    }
    for (const f of this.src.features) {
      if (f.source !== 'context') continue;
      const src = col(`ctx.${f.name}`);
      const dst = f.kind === 'sparse' ? b.sparse[f.name] : b.dense[f.name];
      for (let i = 0; i < n; i++) dst[i] = src[idx[from + i]];
    }
    for (const [name, h] of this.src.histories) {
      const s = b.sequence[name];
      const per = col(h.column);
      for (let i = 0; i < n; i++) s.lengths[i] = h.gather.fill(user[idx[from + i]], per[idx[from + i]], s.ids, i * s.maxLen);
    }
    this.src.entityFiller.fillEntities(b, n);
    return b;
  }

  /** The rows at idx[from .. from+n) become rows 0..n of the buffers, in that order. */
  private moveToFront(from: number, n: number): void {
    for (const [name, buf] of this.buf) {
      const tmp = this.spare.get(name)!;
      for (let k = 0; k < n; k++) tmp[k] = buf[this.idx[from + k]];
      buf.set(tmp.subarray(0, n), 0);
    }
  }
}
