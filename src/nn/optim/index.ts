export { Optimizer, coalesceRows, type RowGrad } from './optimizer.js';
export { Adam, Sgd, Adagrad, type AdamConfig, type SgdConfig, type AdagradConfig } from './optimizers.js';
