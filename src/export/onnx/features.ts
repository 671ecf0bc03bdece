// Graph inputs for a tower's features and the field embeddings computed from them, as FieldEmbedder does:
//   sparse feature f:   input `f` int64 [B] (ids from the feature's vocabulary) -> Gather -> [B, D]
//   sequence feature f: inputs `f` int64 [B, L] (left-aligned ids, any L) and `f_length` int64 [B] (real ids per row)
//                       -> Gather -> [B, L, D] -> pooled over the first length slots (mean, sum or max; 0 when empty)
//   dense feature f:    input `f` float32 [B] (already scaled) -> a column of the dense block [B, nDense]
// Shape letters: B batch, L sequence length, F fields, D embedding dim.
import type { FeatureInfo } from '../../data/index.js';
import { flatWidth, type FieldEmbedder, type Source } from '../../models/common/field-embedder.js';
import type { Dim, ElemType, OnnxGraph } from './graph.js';

/** Masked slots of a max-pooled sequence, as FieldEmbedder pushes them down. */
const MASKED = -1e9;

/** One graph input as inputs.json describes it. */
export interface InputSpec {
  name: string;
  dtype: ElemType;
  shape: Dim[];
  feature: string;
  source: FeatureInfo['source'];
  role: 'ids' | 'lengths' | 'value';
}

export interface TowerInput {
  /** Field embeddings [B, F, D] (null when the side has no embedded feature). */
  fields: string | null;
  /** Dense features [B, nDense] (null when there are none). */
  dense: string | null;
  fieldCount: number;
  width: number;
}

/** The graph input name of a sequence feature's lengths. */
export function lengthInput(feature: string): string {
  return `${feature}_length`;
}

/** Declares the inputs of these sources' features (once per graph) and returns the specs, in feature order. */
export function featureInputs(g: OnnxGraph, embed: FieldEmbedder, sources: readonly Source[]): InputSpec[] {
  const specs: InputSpec[] = [];
  const add = (s: InputSpec, doc: string): void => {
    if (!g.inputs.some((i) => i.name === s.name)) g.input(s.name, s.dtype, s.shape, doc);
    specs.push(s);
  };
  for (const f of [...embed.fieldsOf(sources), ...embed.denseOf(sources)]) {
    const base = { feature: f.name, source: f.source };
    if (f.kind === 'sparse') specs.push(idInput(g, f));
    else if (f.kind === 'dense') add({ ...base, name: f.name, dtype: 'float32', shape: ['batch'], role: 'value' }, `${f.name}: scaled value`);
    else {
      add({ ...base, name: f.name, dtype: 'int64', shape: ['batch', `${f.name}_len`], role: 'ids' }, `${f.name}: ids left-aligned, padded with 0`);
      add({ ...base, name: lengthInput(f.name), dtype: 'int64', shape: ['batch'], role: 'lengths' }, `${f.name}: real ids per row`);
    }
  }
  return specs;
}

/** A sparse feature's ids int64 [B] as a graph input (declared once per graph); models that look ids up themselves. */
export function idInput(g: OnnxGraph, f: FeatureInfo): InputSpec {
  if (f.kind !== 'sparse') throw new Error(`onnx export: feature '${f.name}' is ${f.kind}, not a sparse id feature`);
  const spec: InputSpec = { name: f.name, dtype: 'int64', shape: ['batch'], role: 'ids', feature: f.name, source: f.source };
  if (!g.inputs.some((i) => i.name === f.name)) g.input(f.name, 'int64', ['batch'], `${f.name}: ids, vocabulary of ${f.vocabSize} (0 pad, 1 OOV)`);
  return spec;
}

/** The tower input of these sources: field embeddings [B, F, D] and dense features [B, nDense]. */
export function towerInput(g: OnnxGraph, embed: FieldEmbedder, sources: readonly Source[], what: string): TowerInput {
  const fields = fieldEmbeddings(g, embed, sources, what);
  return { fields, dense: denseBlock(g, embed, sources), fieldCount: embed.fieldsOf(sources).length, width: flatWidth(embed, sources) };
}

/** A FieldEmbedder's `transform` in graph form: rewrites the field embeddings [B, F, D] of these sources. */
export type GraphFieldTransform = (g: OnnxGraph, fields: string, sources: readonly Source[]) => string;

const transforms = new WeakMap<OnnxGraph, Map<FieldEmbedder, GraphFieldTransform>>();
/** Per graph and embedder: the field embeddings already built for a set of sources (a second pass reuses them). */
const built = new WeakMap<OnnxGraph, Map<FieldEmbedder, Map<string, string | null>>>();

/** Runs `body` with `transform` applied to every field embedding `embed` gives in `g`. */
export function withFieldTransform<T>(g: OnnxGraph, embed: FieldEmbedder, transform: GraphFieldTransform, body: () => T): T {
  let m = transforms.get(g);
  if (!m) transforms.set(g, (m = new Map()));
  const prev = m.get(embed);
  m.set(embed, transform);
  try {
    return body();
  } finally {
    if (prev) m.set(embed, prev);
    else m.delete(embed);
  }
}

/**
 * Field embeddings [B, F, D] of these sources (declaring their inputs), or null when they have no embedded feature.
 * An embedder with a model transform needs that transform in graph form (withFieldTransform).
 */
export function fieldEmbeddings(g: OnnxGraph, embed: FieldEmbedder, sources: readonly Source[], what: string): string | null {
  const transform = transforms.get(g)?.get(embed);
  if (embed.transform && !transform) throw new Error(`onnx export (${what}): field embeddings rewritten by a model transform are not supported`);
  featureInputs(g, embed, sources);
  let byEmbed = built.get(g);
  if (!byEmbed) built.set(g, (byEmbed = new Map()));
  let bySources = byEmbed.get(embed);
  if (!bySources) byEmbed.set(embed, (bySources = new Map()));
  const key = sources.join(',');
  let e = bySources.get(key);
  if (e === undefined) {
    const pieces = embed.fieldsOf(sources).map((f) => g.op('Unsqueeze', [lookup(g, embed, f), g.int64s([1])])); // F x [B, 1, D]
    e = pieces.length === 0 ? null : pieces.length === 1 ? pieces[0] : g.op('Concat', pieces, { axis: 1 });
    bySources.set(key, e);
  }
  return e && transform ? transform(g, e, sources) : e;
}

/** Dense features [B, nDense] of these sources (declaring their inputs), or null when there are none. */
export function denseBlock(g: OnnxGraph, embed: FieldEmbedder, sources: readonly Source[]): string | null {
  featureInputs(g, embed, sources);
  const cols = embed.denseOf(sources).map((f) => g.op('Unsqueeze', [f.name, g.int64s([1])])); // [B, 1] each
  return cols.length === 0 ? null : cols.length === 1 ? cols[0] : g.op('Concat', cols, { axis: 1 });
}

/** [B, F, D] and [B, nDense] -> [B, F*D + nDense] (flatInput). */
export function flatten(g: OnnxGraph, fields: string | null, dense: string | null, fieldWidth: number): string {
  const parts: string[] = [];
  if (fields) parts.push(g.op('Reshape', [fields, g.int64s([-1, fieldWidth])]));
  if (dense) parts.push(dense);
  if (parts.length === 0) throw new Error('onnx export: a tower with no embedded and no dense features');
  return parts.length === 1 ? parts[0] : g.op('Concat', parts, { axis: 1 });
}

/** One field's embedding [B, D]. */
function lookup(g: OnnxGraph, embed: FieldEmbedder, f: FeatureInfo): string {
  const table = g.weight(embed.table(f).table);
  const x = g.op('Gather', [table, f.name], { axis: 0 });
  return f.kind === 'sparse' ? x : pool(g, x, f);
}

/** x [B, L, D] pooled over each row's first `length` slots -> [B, D]; a row without ids gives zeros. */
function pool(g: OnnxGraph, x: string, f: FeatureInfo): string {
  const L = g.op('Gather', [g.op('Shape', [f.name]), g.int64s([1], [])], { axis: 0 }); // scalar
  const slots = g.op('Range', [g.int64s([0], []), L, g.int64s([1], [])]); // [L]
  const lengths = g.op('Unsqueeze', [lengthInput(f.name), g.int64s([1])]); // [B, 1]
  const real = g.op('Less', [g.op('Unsqueeze', [slots, g.int64s([0])]), lengths]); // [B, L] bool
  const mask = g.op('Unsqueeze', [g.op('Cast', [real], { to: 1 }), g.int64s([2])]); // [B, L, 1] float
  const count = g.op('ReduceSum', [mask, g.int64s([1])], { keepdims: 0 }); // [B, 1]
  const pooling = f.pooling ?? 'mean';
  if (pooling === 'max') {
    const masked = g.op('Where', [g.op('Cast', [mask], { to: 9 }), x, g.floats([MASKED], [])]);
    const any = g.op('Cast', [g.op('Greater', [count, g.floats([0], [])])], { to: 1 }); // [B, 1]
    return g.op('Mul', [g.op('ReduceMax', [masked], { axes: [1], keepdims: 0 }), any]);
  }
  const sum = g.op('ReduceSum', [g.op('Mul', [x, mask]), g.int64s([1])], { keepdims: 0 }); // [B, D]
  if (pooling === 'sum') return sum;
  return g.op('Div', [sum, g.op('Max', [count, g.floats([1], [])])]);
}
