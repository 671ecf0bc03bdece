// What training, evaluation and export need of a dataset, met by both the in-memory Dataset and the out-of-core
// CachedDataset (rows read from an on-disk cache in chunks).
import type { Batch } from './batch.js';
import type { EncoderTables } from './encoder-tables.js';
import type { FeatureEncoders, FeatureInfo } from './encoders.js';
import type { SplitName } from './split.js';

export interface BatchOptions {
  batchSize: number;
  /** Default true; the order of epoch e depends only on (seed, e). */
  shuffle?: boolean;
  /** Default: the config's seed. */
  seed?: number;
  dropLast?: boolean;
}

/** Seeded epochs of batches over one split. */
export interface EpochStream {
  readonly rowCount: number;
  readonly batchesPerEpoch: number;
  epoch(e?: number): Generator<Batch>;
}

export interface TrainingData {
  readonly name: string;
  /** Rows kept after the label rule, over every split. */
  readonly size: number;
  readonly features: FeatureInfo[];
  readonly encoders: FeatureEncoders;
  /** The fitted encoders as arrays, when the dataset keeps them so (a bundle's encoders are then written from them). */
  encoderTables?(): EncoderTables;
  readonly userCount: number;
  readonly itemCount: number;
  readonly itemKeys: string[];
  batches(split: SplitName, opts: BatchOptions): EpochStream;
  splitSize(split: SplitName): number;
  /** Train rows per item entity. */
  trainItemCounts(): Float64Array;
  itemBatch(capacity: number): Batch;
  fillItems(b: Batch, items: ArrayLike<number>, n?: number): Batch;
}
