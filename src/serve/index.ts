// prerank/serve: item stores, ANN index, the scorer (request -> response), the deployment/reload service and the
// fastify adapter.
export { RequestError, UnsupportedError, ASYNC_ABOVE_MACS, type Scorer, type ScorerOptions, type ScorerPath, type PrerankRequest,
  type RetrieveRequest, type ScoreResponse, type ScoredItem, type ScoreStats, type UserFeatures, type ItemId } from './scorer.js';
export { createScorer, NativePlanScorer, TensorScorer, SingleTowerScorer } from './scorers/index.js';
export { Deployment, Service, NotReadyError, type DeployOptions } from './service.js';
export { clusterLink, EXIT_CORRUPT, isPrimary, runPrimary, workerBundle, type ClusterLink, type WorkerReload } from './cluster.js';
export { createServer, closeOnSignals, defaultBundleRoot, LOG_LEVELS, type LogLevel, type ServerOptions, type PrerankServer } from './server.js';
export { openApiDocument, RESPONSES } from './openapi.js';
export { isLoopback, checkAdminExposure, tokenMatches, resolveUnderRoot, ADMIN_TOKEN_ENV } from './admin.js';
export { STORES, openStore, storeKind, MemoryItemStore, RedisItemStore, parseRedisUrl, type ItemStore, type ItemLookup,
  type StoreFactory, type StoreOpenOptions } from './stores/index.js';
export { buildAnnIndex, BruteForceIndex, UsearchIndex, type AnnIndex, type AnnKind, type LazyReps } from './ann.js';
export { VersionWatcher, classifyReloadError, type ReloadFailure, type WatchOptions } from './watch.js';
export { ServeMetrics } from './metrics.js';
export { DEFAULT_LIMITS, type Limits } from './schemas.js';
export { serveInfo, setBf16Dot, setRowPrefetch, setServePiece, type ServeInfo } from './native.js';
