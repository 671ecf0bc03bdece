// Moving one axis to the end and back, so row kernels (softmax, norms) serve any axis.
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { around, emptyLike } from './util.js';

function swapAxisToEnd(src: Tensor['data'], dst: Tensor['data'], outer: number, n: number, inner: number, forward: boolean): void {
  // forward: [outer, n, inner] -> [outer, inner, n]; backward: the inverse.
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < inner; i++) {
        const a = (o * n + j) * inner + i;
        const b = (o * inner + i) * n + j;
        if (forward) dst[b] = src[a];
        else dst[a] = src[b];
      }
    }
  }
}

function permuteOp(x: Tensor, outer: number, n: number, inner: number, forward: boolean, shape: number[]): Tensor {
  const out = Tensor.empty(shape, x.dtype);
  swapAxisToEnd(x.data, out.data, outer, n, inner, forward);
  return record('moveAxis', [x], out, (g) => {
    const gx = emptyLike(x);
    swapAxisToEnd(g.data, gx.data, outer, n, inner, !forward);
    return [gx];
  });
}

/** Moves `axis` to the last position; `restore` moves a same-shaped result back. Both are recorded ops. */
export function transposeAxisToLast(x: Tensor, axis: number): { moved: Tensor; restore: (y: Tensor) => Tensor } {
  const [outer, n, inner] = around(x.shape, axis);
  const movedShape = [...x.shape.slice(0, axis), ...x.shape.slice(axis + 1), x.shape[axis]];
  const moved = permuteOp(x, outer, n, inner, true, movedShape);
  return { moved, restore: (y) => permuteOp(y, outer, n, inner, false, [...x.shape]) };
}
