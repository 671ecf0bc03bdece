// Shared by the onnx-* tests: running an exported graph in onnxruntime-node on a prerank Batch, and the comparison
// rule (relative error against the reference's magnitude).
import * as ort from 'onnxruntime-node';
import type { Batch } from '../src/data/index.js';
import { lengthInput } from '../src/export/onnx/features.js';
import type { RecModel } from '../src/models/types.js';
import { noGrad, scope, type Tensor } from '../src/core/index.js';

/** One CPU session per graph (sessions hold threads: release them with `release()`). */
export async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
}

/**
 * The graph's feature inputs filled from a batch: ids as int64, every sequence cut to the batch's longest row (the
 * sequence axis is dynamic), dense values as float32.
 */
export function batchFeeds(s: ort.InferenceSession, b: Batch): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const B = b.size;
  for (const name of s.inputNames) {
    if (b.sparse[name]) feeds[name] = new ort.Tensor('int64', BigInt64Array.from(b.sparse[name].subarray(0, B), BigInt), [B]);
    else if (b.dense[name]) feeds[name] = new ort.Tensor('float32', Float32Array.from(b.dense[name].subarray(0, B)), [B]);
    else if (b.sequence[name]) {
      const q = b.sequence[name];
      const L = Math.max(1, ...Array.from(q.lengths.subarray(0, B)));
      const ids = new BigInt64Array(B * L);
      for (let r = 0; r < B; r++) for (let j = 0; j < L; j++) ids[r * L + j] = BigInt(q.ids[r * q.maxLen + j]);
      feeds[name] = new ort.Tensor('int64', ids, [B, L]);
    } else {
      const seq = Object.keys(b.sequence).find((k) => lengthInput(k) === name);
      if (!seq) throw new Error(`batchFeeds: no batch column for graph input '${name}'`);
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from(b.sequence[seq].lengths.subarray(0, B), BigInt), [B]);
    }
  }
  return feeds;
}

export async function run(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, output: string): Promise<Float32Array> {
  const out = await s.run(feeds);
  return out[output].data as Float32Array;
}

export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** A model method's result as a plain Float32Array, in eval mode without the tape. */
export function reference(model: RecModel, fn: () => Tensor): Float32Array {
  model.eval();
  return noGrad(() => scope(() => Float32Array.from(fn().f)));
}

/** max |a - b| / max(max |b|, 1e-6): the error relative to the reference's magnitude. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relError: ${a.length} values against ${b.length}`);
  let err = 0, mag = 1e-6;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return err / mag;
}
