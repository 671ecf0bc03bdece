// Size-class pool of typed arrays, so a training step that repeats the same shapes allocates nothing after the
// first step. Buffers come back through Tensor.release() (usually at the end of a scope).
// Requests are rounded up to a size class (8 classes per power of two, so at most 12.5% unused) and handed out as
// an exact-length view of the class-sized buffer: shapes that vary a little from step to step (IntTower's CIR
// similarity [Q, B] over the Q positives of each batch, the last batch of an epoch) then reuse the same buffers.
// With exact-size buckets every new Q allocated fresh 12 MB arrays, and the pool grew to its cap within an epoch.
export type DType = 'float32' | 'float64' | 'int32';
export type Data = Float32Array | Float64Array | Int32Array;

const free: Record<DType, Map<number, Data[]>> = { float32: new Map(), float64: new Map(), int32: new Map() };
let pooledBytes = 0;
const MAX_POOLED_BYTES = 2 ** 31;
/** Up to this many elements, classes are exact sizes (small shapes repeat exactly; rounding would only waste). */
const EXACT_UP_TO = 4096;

function dtypeOf(d: Data): DType {
  return d instanceof Float32Array ? 'float32' : d instanceof Float64Array ? 'float64' : 'int32';
}

/** The element count of n's size class: n itself when small, else n rounded up to a multiple of 2^(floor(log2 n) - 3). */
export function sizeClass(n: number): number {
  if (n <= EXACT_UP_TO) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

function make(dtype: DType, n: number): Data {
  return dtype === 'float32' ? new Float32Array(n) : dtype === 'float64' ? new Float64Array(n) : new Int32Array(n);
}

/** A view of the first n elements of `full`'s buffer (n = -1: all of it); `full` itself when that is the same. */
function viewOf(full: Data, n: number): Data {
  const len = n < 0 ? full.buffer.byteLength / full.BYTES_PER_ELEMENT : n;
  if (full.length === len && full.byteOffset === 0) return full;
  return full instanceof Float32Array ? new Float32Array(full.buffer, 0, len) : full instanceof Float64Array ? new Float64Array(full.buffer, 0, len) : new Int32Array(full.buffer, 0, len);
}

export function allocBuffer(dtype: DType, n: number, zero: boolean): Data {
  const cls = sizeClass(n);
  const full = free[dtype].get(cls)?.pop();
  if (full === undefined) return viewOf(make(dtype, cls), n);
  pooledBytes -= full.byteLength;
  const buf = viewOf(full, n);
  if (zero) buf.fill(0);
  return buf;
}

export function freeBuffer(buf: Data): void {
  const dtype = dtypeOf(buf);
  const cls = buf.buffer.byteLength / buf.BYTES_PER_ELEMENT;
  // Only arrays this pool made (class-sized buffers seen from offset 0) go back in.
  if (buf.byteOffset !== 0 || sizeClass(cls) !== cls || sizeClass(buf.length) !== cls) return;
  const full = viewOf(buf, -1);
  if (pooledBytes + full.byteLength > MAX_POOLED_BYTES) return;
  const bucket = free[dtype];
  let list = bucket.get(cls);
  if (!list) bucket.set(cls, (list = []));
  list.push(full);
  pooledBytes += full.byteLength;
}

/** Drops every pooled buffer (for tests and long-lived servers after a model swap). */
export function clearBufferPool(): void {
  for (const b of Object.values(free)) b.clear();
  pooledBytes = 0;
}

export function bufferPoolStats(): { pooledBytes: number } {
  return { pooledBytes };
}
