// safetensors (the tensor format PyTorch, JAX and Hugging Face read): 8 bytes little-endian header length N, N bytes
// of JSON ({ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { string: string } }) padded with spaces
// so the data starts 8-byte aligned, then every tensor's bytes, little-endian, back to back with no holes.
import type { Tensor } from '../core/tensor.js';

export const SAFETENSORS_ALIGN = 8;

/** One file's bytes: float32 tensors in the given order, plus string metadata. */
export function encodeSafetensors(tensors: ReadonlyMap<string, Tensor> | readonly [string, Tensor][], metadata: Record<string, string> = {}): Uint8Array {
  const entries = [...tensors];
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error("safetensors: a tensor may not be named '__metadata__'");
    const bytes = t.size * 4;
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (SAFETENSORS_ALIGN - ((8 + Buffer.byteLength(json)) % SAFETENSORS_ALIGN)) % SAFETENSORS_ALIGN;
  json += ' '.repeat(pad);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const [, t] of entries) {
    for (let i = 0; i < t.size; i++, at += 4) view.setFloat32(at, t.f[i], true);
  }
  return out;
}
