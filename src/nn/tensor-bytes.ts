// Tensor files' format (manifest.json beside tensors.bin) and reading tensors out of bytes already in memory (a
// mapping, a heap buffer, a fetched ArrayBuffer), without file access: state.ts reads and writes the files.
import { Tensor, shapeSize, shapeStr, type DType } from '../core/tensor.js';

export const TENSOR_FORMAT = 'prerank-tensors/1';

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  offset: number;
}

export interface TensorManifest {
  format: string;
  tensors: Record<string, TensorEntry>;
  meta?: Record<string, unknown>;
}

export const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('prerank tensor files assume a little-endian machine');

/**
 * The tensors of a tensor directory's parsed manifest.json over its tensors.bin bytes: views of `bin` where a tensor
 * starts on a boundary of its element size (a mapped file's tensors stay in the mapping), copies otherwise.
 * `manifestPath` and `binPath` name the files in errors.
 */
export function tensorsFromBytes(manifest: TensorManifest, bin: ArrayBufferView, manifestPath: string, binPath: string): Map<string, Tensor> {
  if (manifest.format !== TENSOR_FORMAT) throw new Error(`loadTensors: ${manifestPath} has format '${manifest.format}', expected '${TENSOR_FORMAT}'`);
  const tensors = new Map<string, Tensor>();
  for (const [name, e] of Object.entries(manifest.tensors)) {
    const n = shapeSize(e.shape);
    const width = DTYPE_BYTES[e.dtype];
    if (!width) throw new Error(`loadTensors: tensor '${name}' in ${manifestPath} has unknown dtype '${String(e.dtype)}'`);
    if (!(Number.isInteger(e.offset) && e.offset >= 0 && e.offset + n * width <= bin.byteLength)) throw new Error(`loadTensors: tensor '${name}' ${shapeStr(e.shape)} runs past the end of ${binPath}`);
    const at = bin.byteOffset + e.offset;
    const [buf, from] = at % width === 0 ? [bin.buffer, at] : [bin.buffer.slice(at, at + n * width), 0];
    const data = e.dtype === 'float32' ? new Float32Array(buf, from, n) : e.dtype === 'float64' ? new Float64Array(buf, from, n) : new Int32Array(buf, from, n);
    tensors.set(name, new Tensor(data, e.shape, { register: false }));
  }
  return tensors;
}

/**
 * Copies loaded values into existing tensors (a module's stateTensors()), checking that names and shapes match
 * exactly: a missing, extra or mis-shaped tensor is an error naming it. With `share`, the target tensors take the
 * loaded arrays as their buffers instead (no copy: a served model's weights stay in the file's mapped pages, shared by
 * the processes of a host); the model must then never write its weights.
 */
export function assignTensors(target: Map<string, Tensor>, source: Map<string, Tensor>, what = 'checkpoint', o: { share?: boolean } = {}): void {
  const missing = [...target.keys()].filter((k) => !source.has(k));
  const extra = [...source.keys()].filter((k) => !target.has(k));
  if (missing.length || extra.length) {
    throw new Error(`${what}: tensor names differ (missing: ${missing.join(', ') || 'none'}; unexpected: ${extra.join(', ') || 'none'})`);
  }
  for (const [name, t] of target) {
    const s = source.get(name)!;
    if (s.dtype !== t.dtype || s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`${what}: tensor '${name}' is ${s.describe()}, expected ${t.describe()}`);
    }
    if (o.share) t.rebind(s.data);
    else t.data.set(s.data);
  }
}
