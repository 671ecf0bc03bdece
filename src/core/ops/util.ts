// Shared checks and helpers for op implementations.
import { Tensor, shapeStr, type Shape } from '../tensor.js';

export function fail(op: string, msg: string): never {
  throw new Error(`${op}: ${msg}`);
}

export function requireFloat(op: string, arg: string, t: Tensor): void {
  if (t.dtype === 'int32') fail(op, `argument ${arg} ${t.describe()} must be a float tensor`);
}

export function requireRank(op: string, arg: string, t: Tensor, rank: number): void {
  if (t.rank !== rank) fail(op, `argument ${arg} ${t.describe()} must have rank ${rank}`);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function requireSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) fail(op, `shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
}

export function requireSameDtype(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== ts[0].dtype) fail(op, `dtypes differ: ${ts.map((x) => x.describe()).join(', ')}`);
}

/** Normalises a possibly negative axis. */
export function axisOf(op: string, t: Tensor, axis: number): number {
  const a = axis < 0 ? axis + t.rank : axis;
  if (a < 0 || a >= t.rank) fail(op, `axis ${axis} is out of range for ${t.describe()}`);
  return a;
}

/** (outer, n, inner) view of a tensor around `axis`. */
export function around(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

/** A float tensor of `shape` with the same dtype as `like`. */
export function emptyLike(like: Tensor, shape: Shape = like.shape, zero = false): Tensor {
  return Tensor.empty(shape, like.dtype === 'int32' ? 'float32' : like.dtype, zero);
}
