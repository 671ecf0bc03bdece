// Plain-JS float64 algebra for checking model formulas by hand (test/model-formulas.test.ts), a model's parameters
// read out by name as float64 matrices, and a tiny hand-made feature set and batch to run the real forward on.
// Matrices are arrays of rows; weights keep the engine's [in, out] layout, so a linear layer is x W + b.
import assert from 'node:assert/strict';
import { Rng, noGrad, scope, type Tensor } from '../../src/core/index.js';
import type { Module } from '../../src/nn/index.js';
import type { Batch, FeatureInfo } from '../../src/data/index.js';
import { MODELS, type ModelConfigs, type ModelName } from '../../src/models/registry.js';
import type { RecModel } from '../../src/models/types.js';

export type Vec = number[];
export type Mat = number[][];

export const dot = (a: Vec, b: Vec): number => a.reduce((s, x, i) => s + x * b[i], 0);
export const add = (a: Vec, b: Vec): Vec => a.map((x, i) => x + b[i]);
export const sub = (a: Vec, b: Vec): Vec => a.map((x, i) => x - b[i]);
export const mulv = (a: Vec, b: Vec): Vec => a.map((x, i) => x * b[i]);
export const scalev = (a: Vec, s: number): Vec => a.map((x) => x * s);
export const sum = (a: Vec): number => a.reduce((s, x) => s + x, 0);
export const relu = (a: Vec): Vec => a.map((x) => Math.max(0, x));
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const silu = (x: number): number => x * sigmoid(x);
export const transpose = (m: Mat): Mat => m[0].map((_, j) => m.map((r) => r[j]));

export function softmax(a: Vec): Vec {
  const m = Math.max(...a);
  const e = a.map((x) => Math.exp(x - m));
  const s = sum(e);
  return e.map((x) => x / s);
}

export function l2n(a: Vec): Vec {
  const n = Math.sqrt(dot(a, a));
  return a.map((x) => x / Math.max(n, 1e-12));
}

/** Row vector times matrix: x [in] W [in, out] (+ b) -> [out]. */
export function affine(x: Vec, w: Mat, b?: Vec): Vec {
  const out = b ? [...b] : new Array<number>(w[0].length).fill(0);
  x.forEach((xi, i) => w[i].forEach((wij, j) => { out[j] += xi * wij; }));
  return out;
}

/** Consecutive pieces of `size`: [n * size] -> n x [size]. */
export function chunks(a: Vec, size: number): Vec[] {
  assert.equal(a.length % size, 0, `chunks: ${a.length} floats do not split into pieces of ${size}`);
  return Array.from({ length: a.length / size }, (_, i) => a.slice(i * size, (i + 1) * size));
}

/** A model's parameters by dotted name, as float64 vectors and [rows, cols] matrices. */
export class Params {
  private readonly byName: Map<string, { shape: readonly number[]; data: ArrayLike<number> }>;

  constructor(model: Module) {
    this.byName = new Map(model.namedParameters().map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
  }

  private get(name: string): { shape: readonly number[]; data: ArrayLike<number> } {
    const p = this.byName.get(name);
    if (!p) throw new Error(`no parameter '${name}' (have: ${[...this.byName.keys()].join(', ')})`);
    return p;
  }

  vec(name: string): Vec {
    return Array.from(this.get(name).data);
  }

  mat(name: string): Mat {
    const { shape, data } = this.get(name);
    assert.equal(shape.length, 2, `${name} has shape [${shape}], not a matrix`);
    return Array.from({ length: shape[0] }, (_, r) => Array.from(data).slice(r * shape[1], (r + 1) * shape[1]));
  }

  scalar(name: string): number {
    return this.get(name).data[0];
  }

  /** Row `id` of an embedding table parameter. */
  row(name: string, id: number): Vec {
    return this.mat(name)[id];
  }
}

/** An nn Mlp without batch norm or dropout (eval): every layer's output; ReLU on hidden layers, and on the last when lastRelu. */
export function mlpOutputs(p: Params, prefix: string, layers: number, x: Vec, lastRelu: boolean): Vec[] {
  const outs: Vec[] = [];
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = affine(h, p.mat(`${prefix}.fc${i}.weight`), p.vec(`${prefix}.fc${i}.bias`));
    if (i < layers - 1 || lastRelu) h = relu(h);
    outs.push(h);
  }
  return outs;
}

/** Every parameter of the model drawn from U(-scale, scale): weights large enough that every term shows in a logit. */
export function fillParams(model: Module, rng: Rng, scale = 0.5): void {
  for (const [, t] of model.namedParameters()) {
    const d = t.f;
    for (let i = 0; i < t.size; i++) d[i] = (2 * rng.uniform() - 1) * scale;
  }
}

/** Each element within rtol of the expected vector's largest magnitude (float32 forward vs float64 by hand). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  assert.ok(scale > 1e-3, `${what}: the expected values are all ~0, so the check would not see a wrong formula`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= rtol * scale, `${what}[${i}]: got ${actual[i]}, by hand ${expected[i]} (error ${err.toExponential(2)} > ${rtol} x ${scale.toPrecision(3)})`);
  }
}

/**
 * Three user-side embedded fields (uid, gender, and the context's device), one dense user feature (age), two item
 * fields (iid, cat): enough to make every interaction term non-trivial.
 */
export const TINY_FEATURES: FeatureInfo[] = [
  { name: 'uid', kind: 'sparse', source: 'user', vocabSize: 5 },
  { name: 'gender', kind: 'sparse', source: 'user', vocabSize: 4 },
  { name: 'age', kind: 'dense', source: 'user', vocabSize: 0 },
  { name: 'iid', kind: 'sparse', source: 'item', vocabSize: 6 },
  { name: 'cat', kind: 'sparse', source: 'item', vocabSize: 4 },
  { name: 'device', kind: 'sparse', source: 'context', vocabSize: 3 },
];

/** Three rows; labels 1, 0, 1 (two positives, so in-batch contrastive terms have more than one query). */
export function tinyBatch(): Batch {
  const B = 3;
  return {
    size: B,
    sparse: {
      uid: Int32Array.from([2, 3, 4]), gender: Int32Array.from([2, 3, 2]), iid: Int32Array.from([2, 5, 3]),
      cat: Int32Array.from([3, 2, 2]), device: Int32Array.from([1, 2, 2]),
    },
    dense: { age: Float32Array.from([0.7, -1.2, 0.3]) },
    sequence: {},
    label: Float32Array.from([1, 0, 1]),
    rows: Int32Array.from([0, 1, 2]), user: Int32Array.from([0, 1, 2]), item: Int32Array.from([0, 1, 2]),
  };
}

/** Field embeddings of one row, in feature order, for the given sources ('user' side = user + context). */
export function fieldRows(p: Params, batch: Batch, row: number, sources: readonly string[], prefix = 'embed'): Vec[] {
  return TINY_FEATURES.filter((f) => f.kind === 'sparse' && sources.includes(f.source))
    .map((f) => p.row(`${prefix}.${f.name}.table`, batch.sparse[f.name][row]));
}

/** Dense values of one row for the given sources, in feature order. */
export function denseRow(batch: Batch, row: number, sources: readonly string[]): Vec {
  return TINY_FEATURES.filter((f) => f.kind === 'dense' && sources.includes(f.source)).map((f) => batch.dense[f.name][row]);
}

export const USER_SIDE = ['user', 'context'];
export const ITEM_SIDE = ['item'];
export const ALL_SOURCES = ['user', 'item', 'context'];

/** A registered model over TINY_FEATURES with every parameter drawn from U(-0.5, 0.5), in eval mode. */
export function buildFilled<N extends ModelName>(name: N, config: ModelConfigs[N], seed = 7): RecModel {
  const factory = MODELS[name] as (ctx: { features: FeatureInfo[]; rng: Rng }, c: ModelConfigs[N]) => RecModel;
  const model = factory({ features: TINY_FEATURES, rng: new Rng(seed) }, config);
  fillParams(model, new Rng(seed + 1));
  return model.eval();
}

/** f's result copied out of its scope as float64, with no tape. */
export function run(f: () => Tensor): Vec {
  return scope(() => noGrad(() => {
    const t = f();
    return Array.from(t.data.subarray(0, t.size));
  }));
}

/** A sub-module by its dotted name (private fields of a model are reachable this way). */
export function subModule<M extends Module>(model: Module, name: string): M {
  const found = model.namedModules().find(([n]) => n === name);
  if (!found) throw new Error(`no sub-module '${name}' (have: ${model.namedModules().map(([n]) => n).join(', ')})`);
  return found[1] as M;
}
