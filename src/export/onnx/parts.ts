// Graph pieces for the parts several models share (src/models/common/layers.ts): the first-order linear part and
// sums of [B, 1] logit parts. Shape letters: B batch, F fields.
import { Linear } from '../../nn/index.js';
import type { LinearPart } from '../../models/common/layers.js';
import { FieldEmbedder, type Source } from '../../models/common/field-embedder.js';
import type { OnnxGraph } from './graph.js';
import { denseBlock, fieldEmbeddings } from './features.js';
import { linear, optionalModule, subModule } from './layers.js';

/** LinearPart.forward: the sum of these sources' id weights and dense weights [B, 1], or null when there are none. */
export function linearPart(g: OnnxGraph, part: LinearPart, sources: readonly Source[], what: string): string | null {
  const weights = subModule(part, 'weights', FieldEmbedder, what);
  const parts: string[] = [];
  const w = fieldEmbeddings(g, weights, sources, what); // [B, F, 1]
  if (w) parts.push(g.op('ReduceSum', [w, g.int64s([1])], { keepdims: 0 })); // [B, 1]
  for (const s of sources) {
    const lin = optionalModule(part, `dense_${s}`, Linear);
    if (lin) parts.push(linear(g, denseBlock(g, weights, [s])!, lin));
  }
  return sumParts(g, parts);
}

/** Sums [B, 1] parts (nulls skipped), or null when there are none. */
export function sumParts(g: OnnxGraph, parts: readonly (string | null)[]): string | null {
  const present = parts.filter((p): p is string => p !== null);
  return present.length === 0 ? null : present.reduce((a, b) => g.op('Add', [a, b]));
}

/** [B, 1] logit parts + the scalar bias -> logits [B]. */
export function logits(g: OnnxGraph, parts: readonly (string | null)[], bias: string, what: string): string {
  const sum = sumParts(g, parts);
  if (!sum) throw new Error(`onnx export (${what}): nothing to sum into a logit`);
  return g.op('Add', [g.op('Reshape', [sum, g.int64s([-1])]), bias]);
}

/** score / T + b: a two-tower logit from its raw score (a dot product, a max-sim sum). */
export function temperedLogit(g: OnnxGraph, score: string, temperature: number, bias: string): string {
  return g.op('Add', [g.op('Mul', [score, g.floats([1 / temperature], [])]), bias]);
}

/** <user, item> / T + b per row: user [N or 1, W], items [N, W] -> [N] (DSSM's, DAT's and MF's score). */
export function scaledDot(g: OnnxGraph, user: string, items: string, temperature: number, bias: string): string {
  const dot = g.op('ReduceSum', [g.op('Mul', [user, items]), g.int64s([1])], { keepdims: 0 }); // [N]
  return temperedLogit(g, dot, temperature, bias);
}
