// Shape ops: reshape (a copy-free view), transpose of the last two axes, concat and split along an axis.
import { Tensor, shapeSize, shapeStr, type Shape } from '../tensor.js';
import { record } from '../tape.js';
import { around, axisOf, emptyLike, fail } from './util.js';

/** Same data, new shape (one axis may be -1). The result shares the input's buffer. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0) {
    const known = s.reduce((p, d, i) => (i === free ? p : p * d), 1);
    s[free] = known === 0 ? 0 : x.size / known;
  }
  if (shapeSize(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) fail('reshape', `cannot view ${x.describe()} as ${shapeStr(shape)}`);
  const out = x.view(s);
  return record('reshape', [x], out, (g) => {
    const gx = Tensor.empty(x.shape, g.dtype);
    gx.data.set(g.data.subarray(0, g.size));
    return [gx];
  });
}

function transposeInto(src: Float32Array | Float64Array | Int32Array, dst: typeof src, batch: number, R: number, C: number): void {
  for (let b = 0; b < batch; b++) {
    const o = b * R * C;
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) dst[o + c * R + r] = src[o + r * C + c];
  }
}

/** Swaps the last two axes: [..., R, C] -> [..., C, R]. */
export function transpose(x: Tensor): Tensor {
  if (x.rank < 2) fail('transpose', `${x.describe()} needs rank >= 2`);
  const R = x.shape[x.rank - 2];
  const C = x.shape[x.rank - 1];
  const batch = x.size / Math.max(1, R * C);
  const shape = [...x.shape.slice(0, -2), C, R];
  const out = Tensor.empty(shape, x.dtype);
  transposeInto(x.data, out.data, batch, R, C);
  return record('transpose', [x], out, (g) => {
    const gx = emptyLike(x);
    transposeInto(g.data, gx.data, batch, C, R);
    return [gx];
  });
}

/** Copies `count` blocks of `w` elements: block o from src[srcOff + o*srcStride] to dst[dstOff + o*dstStride]. */
function copyBlocks(src: Tensor['data'], srcOff: number, srcStride: number, dst: Tensor['data'], dstOff: number, dstStride: number, count: number, w: number): void {
  if (src instanceof Float32Array && dst instanceof Float32Array) {
    copyBlocksF32(src, srcOff, srcStride, dst, dstOff, dstStride, count, w);
    return;
  }
  for (let o = 0; o < count; o++) dst.set(src.subarray(srcOff + o * srcStride, srcOff + o * srcStride + w), dstOff + o * dstStride);
}

/** The float32 case in its own function, so its element accesses stay monomorphic. */
function copyBlocksF32(src: Float32Array, srcOff: number, srcStride: number, dst: Float32Array, dstOff: number, dstStride: number, count: number, w: number): void {
  if (w >= 64) {
    for (let o = 0; o < count; o++) dst.set(src.subarray(srcOff + o * srcStride, srcOff + o * srcStride + w), dstOff + o * dstStride);
    return;
  }
  for (let o = 0; o < count; o++) {
    const s = srcOff + o * srcStride;
    const d = dstOff + o * dstStride;
    for (let j = 0; j < w; j++) dst[d + j] = src[s + j];
  }
}

/** Joins tensors along `axis`; all other axes must agree. */
export function concat(xs: readonly Tensor[], axisArg: number): Tensor {
  if (xs.length === 0) fail('concat', 'no tensors given');
  const first = xs[0];
  const axis = axisOf('concat', first, axisArg);
  for (const t of xs) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      fail('concat', `cannot join ${xs.map((x) => x.describe()).join(', ')} along axis ${axis}`);
    }
  }
  const total = xs.reduce((s, t) => s + t.shape[axis], 0);
  const shape = [...first.shape];
  shape[axis] = total;
  const out = Tensor.empty(shape, first.dtype);
  const [outer, , inner] = around(shape, axis);
  let offset = 0;
  const offsets: number[] = [];
  for (const t of xs) {
    const w = t.shape[axis] * inner;
    offsets.push(offset);
    copyBlocks(t.data, 0, w, out.data, offset, total * inner, outer, w);
    offset += w;
  }
  return record('concat', xs, out, (g, needs) =>
    xs.map((t, k) => {
      if (!needs[k]) return null;
      const gt = emptyLike(t);
      const w = t.shape[axis] * inner;
      copyBlocks(g.data, offsets[k], total * inner, gt.data, 0, w, outer, w);
      return gt;
    }),
  );
}

/** Splits along `axis` into pieces of the given sizes (the inverse of concat). */
export function split(x: Tensor, sizes: readonly number[], axisArg: number): Tensor[] {
  const axis = axisOf('split', x, axisArg);
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[axis]) fail('split', `sizes [${sizes.join(', ')}] do not add up to axis ${axis} of ${x.describe()}`);
  const [outer, total, inner] = around(x.shape, axis);
  let offset = 0;
  return sizes.map((size) => {
    const start = offset;
    offset += size;
    const shape = [...x.shape];
    shape[axis] = size;
    const piece = Tensor.empty(shape, x.dtype);
    const w = size * inner;
    copyBlocks(x.data, start * inner, total * inner, piece.data, 0, w, outer, w);
    return record('split', [x], piece, (g) => {
      const gx = emptyLike(x, x.shape, true);
      copyBlocks(g.data, 0, w, gx.data, start * inner, total * inner, outer, w);
      return [gx];
    });
  });
}
