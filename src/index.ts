// prerank: pre-ranking models for cascade recommenders on a native CPU engine.
export * from './core/index.js';
export * as nn from './nn/index.js';
export * as data from './data/index.js';
export * as evaluation from './eval/index.js';
