// Turns a batch into model inputs: one embedding table per FeatureInfo `table` (features sharing a table share its
// rows), field embeddings [B, F, D] for any set of sources (sequences pooled over their real ids), and the dense
// features [B, nDense]. Shape letters: B batch, F fields, D embedding dim, L sequence length.
import { Tensor } from '../../core/tensor.js';
import type { Rng } from '../../core/random.js';
import * as ops from '../../core/ops/index.js';
import { Embedding } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { Batch, FeatureInfo, SequenceBatch } from '../../data/index.js';

export type Source = 'user' | 'item' | 'context';
/** The user tower sees user and context (request-time) features. */
export const USER_SIDE: readonly Source[] = ['user', 'context'];
export const ITEM_SIDE: readonly Source[] = ['item'];
export const ALL_SOURCES: readonly Source[] = ['user', 'item', 'context'];
const SIDES = [USER_SIDE, ITEM_SIDE, ALL_SOURCES];

export interface FieldEmbedderOptions {
  /** D: one width for every table (FeatureInfo.dim is ignored so fields stack into [B, F, D]). */
  dim: number;
  /** Std of the N(0, std) initialisation (1e-4: nn's default and the IntTower authors' init_std). */
  std?: number;
  /** Lazy row gradients (default true). */
  sparse?: boolean;
}

/**
 * Rewrites the field embeddings [B, F, D] of one embed() call (e.g. CS3's field gates, installed by its wrapper
 * model). Serving plans read raw rows (writeRow) and must apply the same rewrite themselves.
 */
export type FieldTransform = (fields: Tensor, batch: Batch, sources: readonly Source[]) => Tensor;

/** Padded slots of a max-pooled sequence are pushed this far down so they never win. */
const MASKED = -1e9;

export class FieldEmbedder extends Module {
  readonly dim: number;
  private readonly tables = new Map<string, Embedding>();
  /** fieldsOf / denseOf of the side constants, computed once (the per-request writeRow allocates nothing). */
  private readonly sideCache = new Map<readonly Source[], { fields: FeatureInfo[]; dense: FeatureInfo[] }>();
  /** Applied to every embed() result when set. */
  transform: FieldTransform | null = null;

  constructor(readonly features: readonly FeatureInfo[], rng: Rng, opts: FieldEmbedderOptions) {
    super();
    this.dim = opts.dim;
    for (const f of features) {
      if (f.kind === 'dense') continue;
      const name = tableOf(f);
      const prev = this.tables.get(name);
      if (prev) {
        if (prev.count !== f.vocabSize) throw new Error(`FieldEmbedder: table '${name}' has ${prev.count} rows for one feature and ${f.vocabSize} for '${f.name}'`);
        continue;
      }
      if (!(f.vocabSize >= 2)) throw new Error(`FieldEmbedder: feature '${f.name}' has vocabSize ${f.vocabSize} (pad and OOV need 2)`);
      const e = new Embedding(f.vocabSize, opts.dim, rng, { init: 'normal', scale: opts.std ?? 1e-4, sparse: opts.sparse ?? true });
      this.tables.set(name, this.addModule(name, e));
    }
  }

  /** The embedded (sparse and sequence) features of these sources, in feature order. */
  fieldsOf(sources: readonly Source[]): FeatureInfo[] {
    return this.side(sources).fields;
  }

  denseOf(sources: readonly Source[]): FeatureInfo[] {
    return this.side(sources).dense;
  }

  private side(sources: readonly Source[]): { fields: FeatureInfo[]; dense: FeatureInfo[] } {
    let s = this.sideCache.get(sources);
    if (!s) {
      const mine = this.features.filter((f) => sources.includes(f.source));
      s = { fields: mine.filter((f) => f.kind !== 'dense'), dense: mine.filter((f) => f.kind === 'dense') };
      if (SIDES.includes(sources)) this.sideCache.set(sources, s); // the constants only: callers may pass fresh arrays
    }
    return s;
  }

  table(f: FeatureInfo): Embedding {
    return this.tables.get(tableOf(f))!;
  }

  /** One field's embedding [B, D] (a sequence pooled by its feature's pooling over its real ids). */
  lookup(batch: Batch, f: FeatureInfo): Tensor {
    const B = batch.size;
    const table = this.table(f).table;
    if (f.kind === 'sparse') {
      const ids = batch.sparse[f.name];
      if (!ids) throw new Error(`FieldEmbedder: batch has no sparse feature '${f.name}'`);
      return ops.gather(table, Tensor.from(ids, [B]));
    }
    const s = batch.sequence[f.name];
    if (!s) throw new Error(`FieldEmbedder: batch has no sequence '${f.name}'`);
    const x = ops.gather(table, Tensor.from(s.ids, [B, s.maxLen])); // [B, L, D]
    return poolSequence(x, s, B, f.pooling ?? 'mean');
  }

  /** Field embeddings [B, F, D] of these sources, or null when they have no embedded feature. */
  embed(batch: Batch, sources: readonly Source[]): Tensor | null {
    const fields = this.fieldsOf(sources);
    if (fields.length === 0) return null;
    const pieces = fields.map((f) => this.lookup(batch, f)); // F x [B, D]
    const flat = pieces.length === 1 ? pieces[0] : ops.concat(pieces, 1); // [B, F*D]
    const e = ops.reshape(flat, [batch.size, fields.length, this.dim]);
    return this.transform ? this.transform(e, batch, sources) : e;
  }

  /**
   * flatInput(embed(batch), dense(batch)) of one row, written into out[offset...) without tensors (serving plans):
   * F*D field floats then the dense values. Returns the offset after the last float written.
   */
  writeRow(batch: Batch, row: number, sources: readonly Source[], out: Float32Array, offset = 0): number {
    const D = this.dim;
    let at = offset;
    for (const f of this.fieldsOf(sources)) {
      const table = this.table(f).table.f;
      if (f.kind === 'sparse') {
        const r = batch.sparse[f.name][row] * D;
        for (let d = 0; d < D; d++) out[at + d] = table[r + d];
      } else {
        const s = batch.sequence[f.name];
        const len = s.lengths[row];
        const base = row * s.maxLen;
        const max = f.pooling === 'max';
        out.fill(len === 0 ? 0 : max ? -Infinity : 0, at, at + D);
        for (let j = 0; j < len; j++) {
          const r = s.ids[base + j] * D;
          if (max) for (let d = 0; d < D; d++) out[at + d] = Math.max(out[at + d], table[r + d]);
          else for (let d = 0; d < D; d++) out[at + d] += table[r + d];
        }
        if (len > 0 && (f.pooling ?? 'mean') === 'mean') {
          const scale = 1 / len;
          for (let d = 0; d < D; d++) out[at + d] *= scale;
        }
      }
      at += D;
    }
    for (const f of this.denseOf(sources)) out[at++] = batch.dense[f.name][row];
    return at;
  }

  /** Dense features [B, nDense] of these sources (a float input, no gradient), or null when there are none. */
  dense(batch: Batch, sources: readonly Source[]): Tensor | null {
    const cols = this.denseOf(sources);
    if (cols.length === 0) return null;
    const B = batch.size;
    const n = cols.length;
    const srcs = cols.map((f) => {
      const src = batch.dense[f.name];
      if (!src) throw new Error(`FieldEmbedder: batch has no dense feature '${f.name}'`);
      return src;
    });
    if (n === 1) return Tensor.from(srcs[0], [B, 1]);
    const out = Tensor.empty([B, n]);
    const od = out.f;
    srcs.forEach((src, j) => {
      for (let i = 0; i < B; i++) od[i * n + j] = src[i];
    });
    return out;
  }
}

/** The sparse feature named `name`, or the first sparse feature of `source` when name is ''; `model` names the caller in errors. */
export function idFeature(model: string, features: readonly FeatureInfo[], source: Source, name: string): FeatureInfo {
  const f = name ? features.find((x) => x.name === name) : features.find((x) => x.kind === 'sparse' && x.source === source);
  if (!f || f.kind !== 'sparse') throw new Error(`${model}: no sparse ${source} id feature${name ? ` named '${name}'` : ''}`);
  return f;
}

function tableOf(f: FeatureInfo): string {
  return f.table ?? f.name;
}

/** x [B, L, D] pooled over each row's first lengths[b] slots -> [B, D]; a row without ids gives zeros. */
function poolSequence(x: Tensor, s: SequenceBatch, B: number, pooling: 'mean' | 'sum' | 'max'): Tensor {
  const L = s.maxLen;
  const mask = Tensor.empty([B, L]);
  const md = mask.f;
  for (let b = 0; b < B; b++) {
    const len = s.lengths[b];
    for (let l = 0; l < L; l++) md[b * L + l] = l < len ? 1 : 0;
  }
  if (pooling !== 'max') return ops.maskedPool(x, mask, pooling);
  const penalty = Tensor.empty([B, L, 1]);
  const any = Tensor.empty([B, 1]);
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) penalty.f[b * L + l] = md[b * L + l] ? 0 : MASKED;
    any.f[b] = s.lengths[b] > 0 ? 1 : 0;
  }
  return ops.mul(ops.max(ops.add(x, penalty), 1), any);
}

/** Flattens field embeddings and appends the dense features: [B, F, D] (+ [B, nDense]) -> [B, F*D + nDense]. */
export function flatInput(fields: Tensor | null, dense: Tensor | null): Tensor {
  const parts: Tensor[] = [];
  if (fields) parts.push(ops.reshape(fields, [fields.shape[0], fields.shape[1] * fields.shape[2]]));
  if (dense) parts.push(dense);
  if (parts.length === 0) throw new Error('flatInput: no embedded and no dense features');
  return parts.length === 1 ? parts[0] : ops.concat(parts, 1);
}

/** Width of flatInput's result. */
export function flatWidth(emb: FieldEmbedder, sources: readonly Source[]): number {
  return emb.fieldsOf(sources).length * emb.dim + emb.denseOf(sources).length;
}
