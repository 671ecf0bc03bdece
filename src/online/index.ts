// prerank/online: train a model online from an event stream (a directory of files or a Redis stream), with
// prequential evaluation and periodic bundle publishing.
export { OnlineConfigSchema, parseOnlineConfig, loadOnlineConfig, type OnlineConfig, type OnlineConfigInput } from './config.js';
export type { EventSource, SourceEvent, SourceOffset, DirOffset, RedisOffset } from './source.js';
export { SOURCES, openSource } from './sources.js';
export { DirectorySource, splitCsvLine } from './dir-source.js';
export { RedisStreamSource, compareStreamIds } from './redis-source.js';
export { EventDecoder, type OnlineEvent, type Decoded } from './events.js';
export { OnlineEntities } from './entities.js';
export { BinnedAcc, Prequential, BINS } from './prequential.js';
export { OnlineTrainer, runOnline, type OnlineState, type OnlineSummary, type ScoredBatch } from './trainer.js';
