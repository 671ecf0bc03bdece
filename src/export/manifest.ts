// The bundle manifest: what a bundle holds, where, and the sha256 of every file. `hash` identifies the model
// (feature spec, model kind and config, encoders and weights, and what a training strategy added: OneBP's stored
// user encodings); serving reports `modelVersion` derived from it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { modelHashText, type BundleManifest } from './manifest-format.js';

export * from './manifest-format.js';

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes hashed between two yields to the event loop (~0.5 ms of SHA-256 with SHA-NI). */
const HASH_SLICE = 1 << 20;

/**
 * sha256 in 1 MiB slices with a yield to the event loop between them, so a serving process loading a bundle keeps
 * answering. Any view (a DataView over a mapped table past 4 GiB too: a typed array view is capped at 2^32
 * elements). (WebCrypto's digest is no help in Node 20: measured, its synchronous part takes as long as hashing the
 * Buffer with createHash.)
 */
export async function sha256Async(data: ArrayBufferView): Promise<string> {
  const h = createHash('sha256');
  for (let at = 0; at < data.byteLength; at += HASH_SLICE) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    h.update(new Uint8Array(data.buffer, data.byteOffset + at, Math.min(HASH_SLICE, data.byteLength - at)));
  }
  return h.digest('hex');
}

/** sha256 of a bundle file, streamed in 4 MiB reads (files past Node's 2 GiB readFile limit hash too). */
export async function fileHash(dir: string, rel: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(join(dir, rel), { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The model hash from the manifest's spec fields (and strategy entry) and its file hashes (strategy files when present). */
export function modelHash(m: Pick<BundleManifest, 'format' | 'model' | 'features' | 'files' | 'strategy'>): string {
  return sha256(modelHashText(m));
}
