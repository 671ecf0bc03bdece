// Tensor files: a directory with manifest.json (names, shapes, dtypes, byte offsets, free-form metadata) and
// tensors.bin (raw little-endian data). Writes are atomic: a temporary directory renamed into place.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomic, writeFileSynced } from '../util/atomic-dir.js';
import type { Tensor } from '../core/tensor.js';
import { DTYPE_BYTES, TENSOR_FORMAT, tensorsFromBytes, type TensorManifest } from './tensor-bytes.js';

export * from './tensor-bytes.js';

/** Writes the tensors (and `meta`) to `dir`, replacing it atomically. */
export async function saveTensors(dir: string, tensors: Map<string, Tensor> | Record<string, Tensor>, meta: Record<string, unknown> = {}): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const manifest: TensorManifest = { format: TENSOR_FORMAT, tensors: {}, meta };
  let offset = 0;
  for (const [name, t] of entries) {
    offset = Math.ceil(offset / 8) * 8;
    manifest.tensors[name] = { dtype: t.dtype, shape: [...t.shape], offset };
    offset += t.size * DTYPE_BYTES[t.dtype];
  }
  const bin = new Uint8Array(offset);
  for (const [name, t] of entries) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.size * DTYPE_BYTES[t.dtype]);
    bin.set(src, manifest.tensors[name].offset);
  }
  await writeDirAtomic(dir, async (tmp) => {
    await writeFileSynced(join(tmp, 'tensors.bin'), bin);
    await writeFileSynced(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
  });
}

/** Reads a tensor directory written by saveTensors (or by the benchmark fixtures). */
export async function loadTensors(dir: string): Promise<{ tensors: Map<string, Tensor>; meta: Record<string, unknown> }> {
  const manifestPath = join(dir, 'manifest.json');
  let manifest: TensorManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as TensorManifest;
  } catch (e) {
    throw new Error(`loadTensors: cannot read ${manifestPath}: ${(e as Error).message}`);
  }
  const bin = await readFile(join(dir, 'tensors.bin'));
  return { tensors: tensorsFromBytes(manifest, bin, manifestPath, join(dir, 'tensors.bin')), meta: manifest.meta ?? {} };
}

