// Chooses the kernels for a call: the native addon for float32 data when it loaded, the reference kernels
// otherwise (float64 gradient checks, or no addon). PRERANK_KERNELS=reference forces the reference path.
import type { Tensor } from '../tensor.js';
import { reference } from './reference.js';
import { loadNative } from './native.js';
import type { FArr, Kernels } from './types.js';
import { envVar } from '../../util/env.js';

const native = envVar('PRERANK_KERNELS') === 'reference' ? null : loadNative();
let preferNative = native !== null;

/** The kernels used for float32 tensors right now. */
export function activeKernels(): Kernels {
  return preferNative && native ? native : reference;
}

/** Switches float32 work between native and reference kernels (tests, benchmarks); returns the previous choice. */
export function useNativeKernels(on: boolean): boolean {
  const prev = preferNative;
  preferNative = on && native !== null;
  return prev;
}

export function nativeKernels(): Kernels | null {
  return native;
}

export function kernelsFor(...arrays: (FArr | Tensor | null)[]): Kernels {
  if (!preferNative || !native) return reference;
  for (const a of arrays) {
    if (a === null) continue;
    const d = a instanceof Float32Array || a instanceof Float64Array ? a : a.data;
    if (!(d instanceof Float32Array)) return reference;
  }
  return native;
}

/** dst += src (same size); used by the tape to accumulate gradients. */
export function addInto(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size) throw new Error(`addInto: ${dst.describe()} and ${src.describe()} differ in size`);
  kernelsFor(dst, src).axpy(dst.size, 1, src.f, dst.f);
}
