// Softmax and log-softmax over an axis (the last axis runs on the fused row kernels; other axes are moved there).
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { kernelsFor } from '../kernels/dispatch.js';
import { axisOf, emptyLike, requireFloat } from './util.js';
import { transposeAxisToLast } from './permute.js';

function softmaxImpl(x: Tensor, axisArg: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  requireFloat(op, 'x', x);
  const axis = axisOf(op, x, axisArg);
  if (axis !== x.rank - 1) {
    const { moved, restore } = transposeAxisToLast(x, axis);
    return restore(softmaxImpl(moved, -1, log));
  }
  const [rows, cols] = [x.rows, x.cols];
  const y = emptyLike(x);
  kernelsFor(x).softmax(rows, cols, x.f, y.f, log);
  return record(op, [x], y, (g) => {
    const gx = emptyLike(x);
    kernelsFor(g, y).softmaxBackward(rows, cols, y.f, g.f, gx.f, log);
    return [gx];
  });
}

export const softmax = (x: Tensor, axis = -1): Tensor => softmaxImpl(x, axis, false);
export const logSoftmax = (x: Tensor, axis = -1): Tensor => softmaxImpl(x, axis, true);
