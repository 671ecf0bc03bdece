// Graph pieces for nn modules in eval mode: Linear, Mlp (batch norm as BatchNormalization over its running
// statistics, dropout gone), L2 normalisation per row or per head, and finding a model's named sub-modules.
// Shape letters: B batch, H heads, P head size.
import type { ActName } from '../../core/kernels/types.js';
import type { Linear, Mlp, Module } from '../../nn/index.js';
import type { OnnxGraph } from './graph.js';

/** The model's sub-module `name` (dotted, as namedModules gives it), checked to be a `cls`. */
export function subModule<M extends Module>(model: Module, name: string, cls: abstract new (...a: never[]) => M, what: string): M {
  const m = model.namedModules().find(([n]) => n === name)?.[1];
  if (!(m instanceof cls)) throw new Error(`onnx export (${what}): the model has no ${cls.name} named '${name}'`);
  return m;
}

/** The model's sub-module `name` when it exists (a `cls`), else null. */
export function optionalModule<M extends Module>(model: Module, name: string, cls: abstract new (...a: never[]) => M): M | null {
  const m = model.namedModules().find(([n]) => n === name)?.[1];
  return m instanceof cls ? m : null;
}

export function activation(g: OnnxGraph, x: string, act: ActName): string {
  switch (act) {
    case 'none': return x;
    case 'relu': return g.op('Relu', [x]);
    case 'sigmoid': return g.op('Sigmoid', [x]);
    case 'tanh': return g.op('Tanh', [x]);
    case 'silu': return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    case 'prelu': throw new Error("onnx export: activation 'prelu' is not supported yet");
  }
}

/** x [B, in] -> act(x W + b) [B, out]. */
export function linear(g: OnnxGraph, x: string, layer: Linear): string {
  const y = g.op('MatMul', [x, g.weight(layer.weight)]);
  return activation(g, layer.bias ? g.op('Add', [y, g.weight(layer.bias)]) : y, layer.act);
}

/** Every layer output of an eval-mode MLP, last one last (Mlp.forwardAll without dropout). */
export function mlp(g: OnnxGraph, x: string, m: Mlp): string[] {
  return m.layers.map((layer, i) => {
    x = linear(g, x, layer);
    const bn = m.normOf(i);
    if (bn) {
      const { gamma, beta, runningMean, runningVar, eps } = bn.norm;
      x = activation(g, g.op('BatchNormalization', [x, ...[gamma, beta, runningMean, runningVar].map((t) => g.weight(t))], { epsilon: { float: eps } }), bn.act);
    }
    return x;
  });
}

/** x / max(||x||, eps) over the last axis (ops.l2Normalize). */
export function l2Normalize(g: OnnxGraph, x: string, eps = 1e-12): string {
  const norm = g.op('ReduceL2', [x], { axes: [-1], keepdims: 1 });
  return g.op('Div', [x, g.op('Max', [norm, g.floats([eps], [])])]);
}

/** [B, H*P] with every head of size P scaled to unit length. */
export function normalizeHeads(g: OnnxGraph, x: string, heads: number, headSize: number): string {
  const h = g.op('Reshape', [x, g.int64s([-1, heads, headSize])]);
  return g.op('Reshape', [l2Normalize(g, h), g.int64s([-1, heads * headSize])]);
}
