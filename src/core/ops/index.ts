// The primitive ops. Each file keeps an op's forward and backward side by side.
export { matmul, linear, bmm, pairMaxSim, maxSimCross, type MatmulOptions, type LinearOptions } from './linalg.js';
export { gauMaxSim, gauRepWidth, gauWeightsSize, type GauDims } from './gau.js';
export {
  add, sub, mul, div, neg, exp, log, sqrt, abs, pow, scale, addScalar, clamp,
  activation, relu, sigmoid, tanh, silu, prelu, broadcastShape, sumToShape,
} from './elementwise.js';
export { sum, mean, max, sumAll, meanAll, rowDot, groupMaxSum } from './reduce.js';
export { softmax, logSoftmax } from './softmax.js';
export { reshape, transpose, concat, split } from './shape.js';
export { l2Normalize, batchNorm, layerNorm, type BatchNormState } from './norm.js';
export { gather, maskedPool, type PoolMode } from './embedding.js';
export { dropout } from './dropout.js';
export { bceWithLogits, softmaxCrossEntropy, infoNCE, type Reduction, type BceOptions, type CrossEntropyOptions } from './loss.js';
