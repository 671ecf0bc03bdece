// Size-bucketed pool of typed arrays, so a training step that repeats the same shapes allocates nothing after the
// first step. Buffers come back through Tensor.release() (usually at the end of a scope).
export type DType = 'float32' | 'float64' | 'int32';
export type Data = Float32Array | Float64Array | Int32Array;

const free: Record<DType, Map<number, Data[]>> = { float32: new Map(), float64: new Map(), int32: new Map() };
let pooledBytes = 0;
const MAX_POOLED_BYTES = 2 ** 31;

function dtypeOf(d: Data): DType {
  return d instanceof Float32Array ? 'float32' : d instanceof Float64Array ? 'float64' : 'int32';
}

function make(dtype: DType, n: number): Data {
  return dtype === 'float32' ? new Float32Array(n) : dtype === 'float64' ? new Float64Array(n) : new Int32Array(n);
}

export function allocBuffer(dtype: DType, n: number, zero: boolean): Data {
  const list = free[dtype].get(n);
  const buf = list?.pop();
  if (buf === undefined) return make(dtype, n);
  pooledBytes -= buf.byteLength;
  if (zero) buf.fill(0);
  return buf;
}

export function freeBuffer(buf: Data): void {
  if (pooledBytes + buf.byteLength > MAX_POOLED_BYTES) return;
  const bucket = free[dtypeOf(buf)];
  let list = bucket.get(buf.length);
  if (!list) bucket.set(buf.length, (list = []));
  list.push(buf);
  pooledBytes += buf.byteLength;
}

/** Drops every pooled buffer (for tests and long-lived servers after a model swap). */
export function clearBufferPool(): void {
  for (const b of Object.values(free)) b.clear();
  pooledBytes = 0;
}

export function bufferPoolStats(): { pooledBytes: number } {
  return { pooledBytes };
}
