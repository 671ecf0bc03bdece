// prerank/data: feature spec, leak-free encoders, DuckDB ingest, splits, batches and negative samplers.
export { DataConfigSchema, parseDataConfig, loadDataConfig, dataConfigJsonSchema, featureColumn, ruleLabel } from './spec.js';
export type { DataConfig, DataConfigInput, FeatureSpec, SparseSpec, DenseSpec, SequenceSpec, DerivedSpec, StatSpec,
  HistorySpec, TableSpec, ScalerKind, Pooling, FeatureSource } from './spec.js';
export { Vocabulary, ArrayKeyIndex, PAD_ID, OOV_ID, rawKey, fnv1a, type VocabularyJson, type RawValue, type KeyIndex } from './vocabulary.js';
export { Scaler, type ScalerJson } from './scaler.js';
export type { EncoderTables, EntitySide, HistoryTable, StatTable } from './encoder-tables.js';
export { FeatureEncoders, type FeatureInfo, type EncodersJson, type EncodersSpec, type EncodedRow } from './encoders.js';
export { JsonEntityFeatures, type EntityFeatures, type StatJson, type HistoryJson } from './entity-features.js';
export { ingest, type RawData, type IngestReport } from './ingest.js';
export { DataError, formatBadRow, type BadRow } from './data-error.js';
export { splitRows, type Splits, type SplitName } from './split.js';
export { Dataset, BatchStream, type BatchOptions } from './dataset.js';
export { CachedDataset, type CacheInfo, type OpenOptions } from './cached-dataset.js';
export type { TrainingData, EpochStream } from './training-data.js';
export { duckdbThreads, openDuckDB, type DuckSettings } from './duck-db.js';
export { subsetRaw } from './subset.js';
export type { Batch, SequenceBatch } from './batch.js';
export { PopularitySampler, UniformSampler, inBatchLogQ, accidentalHits, type NegativeSampler } from './samplers.js';
export { ListwiseStream, type ListBatch, type ListwiseOptions } from './listwise.js';
export { inspectDataset, formatInspect, type InspectReport } from './inspect.js';
export { recipeConfig, recipeInput, recipeMissing, sharedDataDir, embeddedDataDir, ML_1M_PARTIAL_NAME,
  type RecipeName } from './recipes.js';
export { writeSyntheticLog, syntheticConfig } from './synthetic.js';
export { writeSynthLog, synthDataConfig, synthConfig, synthName, SYNTH_SIZES, type SynthOptions, type SynthProgress,
  type SynthResult, type SynthFileReport, type SynthSize } from './synth-log.js';
export { DEFAULT_SYNTH_PARAMS, type SynthParams } from './synth-sql.js';
export { timeSplit, writeReplay, type TimeSplit } from './replay.js';
export { readItemAttributes, type ItemAttributes, type ItemAttributeOptions, type SkippedAttributes } from './item-attributes.js';
