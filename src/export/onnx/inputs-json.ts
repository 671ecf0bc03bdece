// inputs.json: what another stack needs to feed the exported graphs: every input's name, dtype and shape per file,
// how a raw value becomes that input (the vocabularies and scalers travel in encoders.json, the bundle's encoder
// format), and a worked example: one real row's raw values, the values fed, and the score prerank gives it.
import type { EncodersJson, FeatureInfo } from '../../data/index.js';
import type { FeatureSpec } from '../../data/spec.js';
import type { Dim, ElemType } from './graph.js';
import type { InputSpec } from './features.js';

export const ONNX_FORMAT = 'prerank-onnx';
export const ONNX_FORMAT_VERSION = 1;

export interface OnnxInputsJson {
  format: typeof ONNX_FORMAT;
  version: number;
  model: string;
  opset: number;
  /** The vocabularies and scalers (FeatureEncoders JSON). */
  encoders: 'encoders.json';
  ids: string;
  files: Record<string, { doc: string; inputs: (InputSpec & { doc: string })[]; outputs: { name: string; dtype: ElemType; shape: Dim[]; doc: string }[] }>;
  /** Per feature: how a raw value becomes the graph input. */
  features: Record<string, { kind: FeatureInfo['kind']; source: FeatureInfo['source']; encoding: string; vocabSize?: number; maxLen?: number; pooling?: string }>;
  example?: OnnxExample;
}

export interface OnnxExample {
  /** What the row is. */
  about: string;
  /** Per feature: the raw value(s) behind the fed ids (tokens from the vocabulary), or the scaled dense value. */
  raw: Record<string, string | number | (string | number)[]>;
  /** model.onnx's inputs for that row (batch of one). */
  feeds: Record<string, number[]>;
  /** prerank's logit for the row: model.onnx gives the same within float rounding. */
  score: number;
}

export const IDS_RULE = 'ids are int64 rows of the feature\'s vocabulary (encoders.json vocabularies[table].tokens): the '
  + 'value at index i has id i + 2; id 0 is padding and id 1 out of vocabulary (a value the vocabulary lacks, unless the '
  + 'vocabulary has hashBuckets: then 2 + tokens.length + fnv1a(value) % hashBuckets, FNV-1a 32-bit over UTF-16 code units)';

/** How feature f's raw value becomes its graph input, from the encoders' own spec. */
export function encodingOf(f: FeatureInfo, enc: EncodersJson): string {
  const spec = [...enc.features, ...enc.derived].find((s) => s.name === f.name) as (FeatureSpec & { column?: string; separator?: string; flagColumns?: string[] }) | { kind: string; column?: string } | undefined;
  const col = spec && 'column' in spec && spec.column ? spec.column : f.name;
  if (f.derived === 'history') {
    return `the user's last ${f.maxLen} items (encoders.json history.${f.name}[user key], oldest first) as ids of vocabularies.${f.table}, `
      + `left-aligned and padded with 0; ${f.name}_length = their count`;
  }
  if (f.derived === 'stat') return `encoders.json stats.${f.name}: the value at the entity key's index (fallback when absent), then scalers.${f.name}`;
  if (f.kind === 'dense') return `column '${col}' as a number, then scalers.${f.name}: (v or fill when missing, log1p first when kind is log1p) - shift, times scale`;
  if (f.kind === 'sparse') return `column '${col}' as text -> id in vocabularies.${f.table}`;
  const s = spec as { flagColumns?: string[]; separator?: string };
  const from = s.flagColumns ? `the names of the set flag columns ${JSON.stringify(s.flagColumns)}` : `column '${col}' split on '${s.separator ?? '|'}'`;
  return `${from} -> ids in vocabularies.${f.table} (first ${f.maxLen}), left-aligned and padded with 0; ${f.name}_length = their count`;
}

export function featureEntries(features: readonly FeatureInfo[], enc: EncodersJson): OnnxInputsJson['features'] {
  return Object.fromEntries(features.map((f) => [f.name, {
    kind: f.kind, source: f.source, encoding: encodingOf(f, enc),
    ...(f.kind !== 'dense' ? { vocabSize: f.vocabSize } : {}),
    ...(f.kind === 'sequence' ? { maxLen: f.maxLen, pooling: f.pooling ?? 'mean' } : {}),
  }]));
}
