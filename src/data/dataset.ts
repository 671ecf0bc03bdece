// A loaded, split and encoded dataset: encoded user/item/context tables, per-row keys and labels, split indices,
// the fitted encoders, and seeded epoch streams of batches over any split.
import { Rng } from '../core/random.js';
import { allocBatch, BatchFiller, headOf, type Batch, type BatchSource } from './batch.js';
import type { FittedHistory } from './derived.js';
import type { EncodedTable } from './encode-table.js';
import { FeatureEncoders, type FeatureInfo } from './encoders.js';
import { ingest, type IngestReport, type RawData } from './ingest.js';
import { loadDataConfig, type DataConfig } from './spec.js';
import { splitRows, type SplitName, type Splits } from './split.js';
import type { BatchOptions, TrainingData } from './training-data.js';

export type { BatchOptions } from './training-data.js';

export class Dataset implements BatchSource, TrainingData {
  readonly name: string;
  readonly size: number;
  readonly features: FeatureInfo[];
  readonly splits: Splits;
  readonly label: Float32Array;
  readonly weight?: Float32Array;
  readonly rowUser: Int32Array;
  readonly rowItem: Int32Array;
  readonly time?: Float64Array;
  readonly userKeys: string[];
  readonly itemKeys: string[];
  readonly tables: { user: EncodedTable; item: EncodedTable; context: EncodedTable };
  readonly history: Map<string, FittedHistory>;
  readonly encoders: FeatureEncoders;
  readonly report: IngestReport;
  /** Seconds spent reading and joining the files (DuckDB), and splitting, fitting and encoding. */
  readonly timings: { ingest: number; fit: number };

  private constructor(readonly config: DataConfig, raw: RawData, splits: Splits, t0: number) {
    const fit = FeatureEncoders.fit(config, raw, splits.train);
    this.timings = { ingest: raw.report.seconds, fit: (performance.now() - t0) / 1000 };
    this.name = raw.name;
    this.size = raw.rows;
    this.splits = splits;
    this.label = raw.label;
    this.weight = raw.weight;
    this.rowUser = raw.user;
    this.rowItem = raw.item;
    this.time = raw.time;
    this.userKeys = raw.users.keys;
    this.itemKeys = raw.items.keys;
    this.tables = { user: fit.user, item: fit.item, context: fit.context };
    this.history = fit.history;
    this.encoders = fit.encoders;
    this.features = fit.encoders.featureInfo();
    this.report = raw.report;
  }

  /** Reads the files, splits the rows and fits every encoder on the train split. */
  static async load(config: DataConfig | string): Promise<Dataset> {
    const cfg = typeof config === 'string' ? loadDataConfig(config) : config;
    return Dataset.fromRaw(cfg, await ingest(cfg));
  }

  static fromRaw(cfg: DataConfig, raw: RawData): Dataset {
    const t0 = performance.now();
    const splits = splitRows(raw, { method: cfg.split.method, val: cfg.split.val, test: cfg.split.test, seed: cfg.seed });
    return new Dataset(cfg, raw, splits, t0);
  }

  splitSize(split: SplitName): number {
    return this.splits[split].length;
  }

  get userCount(): number {
    return this.userKeys.length;
  }

  get itemCount(): number {
    return this.itemKeys.length;
  }

  /** Epoch streams of batches over a split (or any row subset). */
  batches(split: SplitName | Int32Array, opts: BatchOptions): BatchStream {
    const rows = typeof split === 'string' ? this.splits[split] : split;
    return new BatchStream(this, rows, { shuffle: true, seed: this.config.seed, dropLast: false, ...opts });
  }

  /** Train rows per item entity (popularity for samplers and log-Q). */
  trainItemCounts(): Float64Array {
    const c = new Float64Array(this.itemCount);
    for (const r of this.splits.train) c[this.rowItem[r]]++;
    return c;
  }

  /** Items each user has in the train split, as sorted arrays per user entity (for sampling exclusion and hits). */
  trainUserItems(): Int32Array[] {
    const lists: number[][] = Array.from({ length: this.userCount }, () => []);
    for (const r of this.splits.train) lists[this.rowUser[r]].push(this.rowItem[r]);
    return lists.map((l) => Int32Array.from(new Set(l)).sort());
  }

  keptValues(feature: string): number {
    return this.encoders.vocabulary(feature).tokens.length;
  }

  labelRate(split: SplitName): number {
    const rows = this.splits[split];
    let s = 0;
    for (const r of rows) s += this.label[r];
    return rows.length ? s / rows.length : NaN;
  }

  /** A batch buffer for `capacity` item entities (e.g. sampled negatives), filled with `fillItems`. */
  itemBatch(capacity: number): Batch {
    return allocBatch(this.features.filter((f) => f.source === 'item'), capacity);
  }

  /** Item-side features of the item entities in items[0..n). */
  fillItems(b: Batch, items: ArrayLike<number>, n = items.length): Batch {
    for (let i = 0; i < n; i++) b.item[i] = items[i];
    (this.itemFiller ??= new BatchFiller(this, ['item'])).fillEntities(b, n);
    return n === b.label.length ? b : headOf(b, n);
  }

  private itemFiller?: BatchFiller;
}

export class BatchStream {
  private readonly filler: BatchFiller;
  private readonly perm: Int32Array;
  private readonly full: Batch;

  constructor(private readonly ds: Dataset, private readonly rows: Int32Array,
    private readonly opts: Required<BatchOptions>) {
    if (opts.batchSize < 1) throw new Error('batchSize must be at least 1');
    this.filler = new BatchFiller(ds);
    this.perm = new Int32Array(rows.length);
    this.full = allocBatch(ds.features, opts.batchSize, !!ds.weight);
  }

  get rowCount(): number {
    return this.rows.length;
  }

  get batchesPerEpoch(): number {
    const { batchSize, dropLast } = this.opts;
    return dropLast ? Math.floor(this.rows.length / batchSize) : Math.ceil(this.rows.length / batchSize);
  }

  /** The batches of epoch e. Every yielded Batch shares buffers with the previous one. */
  *epoch(e = 0): Generator<Batch> {
    const { batchSize, shuffle, seed, dropLast } = this.opts;
    this.perm.set(this.rows);
    if (shuffle) new Rng((Math.imul(seed, 0x9e3779b1) + e) >>> 0).shuffle(this.perm);
    for (let at = 0; at < this.perm.length; at += batchSize) {
      const n = Math.min(batchSize, this.perm.length - at);
      if (n < batchSize && dropLast) return;
      this.full.rows.set(this.perm.subarray(at, at + n));
      this.filler.fillRows(this.full, n);
      yield n === batchSize ? this.full : headOf(this.full, n);
    }
  }
}
