// prerank/nn: modules, layers, initialisers, optimizers, tensor files.
export { Module } from './module.js';
export { Linear, Embedding, BatchNorm1d, LayerNorm, Dropout, Mlp, type LinearConfig, type EmbeddingConfig, type MlpConfig } from './layers.js';
export { param, buffer, type InitKind, type InitOptions } from './init.js';
export * from './optim/index.js';
export { saveTensors, loadTensors, assignTensors, TENSOR_FORMAT, type TensorManifest } from './state.js';
