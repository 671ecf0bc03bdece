// prerank/core: tensors, tape autograd, primitive ops and the kernel back ends. Knows nothing about recommenders.
export { Tensor, shapeSize, shapeStr, type Shape, type DType, type Data, type SparseGrad } from './tensor.js';
export { scope, keep } from './scope.js';
export { backward, noGrad, detach, isGradEnabled, clearTape, setCheckFinite } from './tape.js';
export { startProfile, stopProfile, profileMark, profileAdd, formatProfile, type ProfileRow } from './profiler.js';
export { Rng } from './random.js';
export { clearBufferPool, bufferPoolStats } from './buffer-pool.js';
export { activeKernels, kernelsFor, nativeKernels, useNativeKernels } from './kernels/dispatch.js';
export { reference as referenceKernels } from './kernels/reference.js';
export { ACT, type ActName, type Kernels, type FArr } from './kernels/types.js';
export { engineInfo, setIsa, setThreads, fmaPeakGflops, type EngineInfo } from './engine.js';
export * as ops from './ops/index.js';
