// Tape autograd: ops append a node (inputs, output, backward closure) while grad mode is on and an input requires
// grad; backward() walks the tape in reverse and accumulates gradients into the leaves' .grad.
import { Tensor, type TapeNode } from './tensor.js';
import { addInto } from './kernels/dispatch.js';
import { profileBackward, profileForward, profiling } from './profiler.js';
import { envVar } from '../util/env.js';

let gradEnabled = true;
let tape: TapeNode[] = [];
let checkFinite = envVar('PRERANK_CHECK_FINITE') === '1';

/**
 * When on, every op output is checked for NaN/Inf and the first offending op throws, naming itself and its inputs
 * (a debugging aid like PyTorch's anomaly mode; it costs a pass over each output). PRERANK_CHECK_FINITE=1 turns it on.
 */
export function setCheckFinite(on: boolean): void {
  checkFinite = on;
}

function assertFinite(op: string, inputs: readonly Tensor[], output: Tensor): void {
  const d = output.data;
  for (let i = 0; i < output.size; i++) {
    if (!Number.isFinite(d[i])) {
      throw new Error(`${op}: output ${output.describe()} has ${d[i]} at element ${i} (inputs: ${inputs.map((t) => t.describe()).join(', ')})`);
    }
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with recording off (inference): no tape nodes, outputs never require grad. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Records `output` as produced by `op` from `inputs`, if any input requires grad. Returns output. */
export function record(op: string, inputs: readonly Tensor[], output: Tensor, backward: TapeNode['backward']): Tensor {
  if (checkFinite) assertFinite(op, inputs, output);
  if (profiling()) profileForward(op, output.shape);
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return output;
  output.requiresGrad = true;
  const node: TapeNode = { op, inputs, output, backward };
  output.node = node;
  tape.push(node);
  return output;
}

/** A view of the same data that the tape does not follow (stop-gradient). */
export function detach(t: Tensor): Tensor {
  return t.view(t.shape);
}

/** Drops the recorded tape without computing gradients (e.g. after an evaluation forward with grad on). */
export function clearTape(): void {
  for (const n of tape) n.output.node = null;
  tape = [];
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad === null) {
    leaf.grad = new Tensor(g.data.slice(0, g.size), leaf.shape, { register: false });
  } else {
    addInto(leaf.grad, g);
  }
}

/**
 * Back-propagates from `loss` (a scalar unless `gradOut` is given) through the tape, accumulating into .grad of
 * leaf tensors that require grad, then clears the tape. Intermediate gradients live in the current scope.
 */
export function backward(loss: Tensor, gradOut?: Tensor): void {
  if (!loss.requiresGrad || loss.node === null) throw new Error(`backward: ${loss.describe()} was not produced by a recorded op that requires grad`);
  if (!gradOut && loss.size !== 1) throw new Error(`backward: ${loss.describe()} is not a scalar; pass gradOut`);
  const seed = gradOut ?? Tensor.full(loss.shape, 1, loss.dtype);
  const grads = new Map<Tensor, Tensor>([[loss, seed]]);
  const nodes = tape;
  tape = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const g = grads.get(node.output);
    node.output.node = null;
    if (g === undefined) continue;
    grads.delete(node.output);
    const needs = node.inputs.map((t) => t.requiresGrad);
    const t0 = profiling() ? performance.now() : 0;
    const inGrads = node.backward(g, needs);
    if (g !== seed) g.release();
    node.inputs.forEach((input, k) => {
      const gi = inGrads[k];
      if (!gi || !needs[k]) return;
      if (input.node === null) {
        if (input.sparse && gi === SPARSE_HANDLED) return;
        accumulateLeaf(input, gi);
        gi.release();
      } else {
        const prev = grads.get(input);
        if (prev) {
          addInto(prev, gi);
          gi.release();
        } else grads.set(input, gi);
      }
    });
    if (t0) profileBackward(node.op, node.output.shape, performance.now() - t0);
  }
  for (const g of grads.values()) if (g !== seed) g.release();
}

/** Returned by an op's backward for a sparse table whose row gradient it stored in sparseGrad itself. */
export const SPARSE_HANDLED = new Tensor(new Float32Array(0), [0], { register: false });
