// Which candidate generator a bundle ships for /v1/retrieve, and the multi-vector (max-sim) one built at export.
// A max-sim score (IntTower: sum over user heads of the max over item heads of <u, v>) is large when some item head
// is close to many user heads, so every item head vector goes into one HNSW index (key = row * H + head) and a query
// searches it with each user head (ColBERT's gather step); the union of the items found is rescored exactly by the
// serving plan. RankTower's scored vectors depend on the pair (cross-attention), so its index holds a proxy: each
// item's vectors as its cross-attention branch gives them against the mean user rep, queried with the user's vectors
// against the mean item rep (the model's anchoredVectors; the two mean reps are the layout's anchors). Bundles written
// before anchors hold the normalised MHGN sub-spaces E_i and query with E_u.
// The layout comes from the plan's score kind, not from the model's name: a wrapper (CS3) scores like its base.
// Every index's default search settings are measured on the export's sampled users through the generator serving
// opens (search-calibration.ts), against the model's exact scores.
// Shape letters: N items, H item heads, P head size, Q query vectors, I item rep width.
import { join } from 'node:path';
import { scoreReps } from '../models/common/base.js';
import type { ServingPlanSpec } from '../models/common/serving.js';
import type { RecModel } from '../models/types.js';
import { saveAnnIndex } from './ann-index.js';
import { withSharedRows, type CandidateSource } from './candidate-source.js';
import { CentroidSource } from './centroid-source.js';
import { inference } from './export-items.js';
import { MultiVectorSource, usearchHeads } from './multi-vector-source.js';
import { calibrateInnerProduct, calibrateMultiVector, calibrateWithShared, ExactTargets, multiVectorLadder, SHARED_K, sharedRows, sharedUsers } from './search-calibration.js';
import { FILES, type IndexVectors, type ItemsInfo, type MultiVectorLayout, type RetrievalIndexInfo, type SearchDefaults, type SharedRows } from './manifest.js';
import { augmentedVectors, innerProducts } from './mips.js';
import { columnMeans } from '../util/stats.js';
import { buildHeadCentroids, defaultCentroids, saveHeadCentroids } from './head-centroids.js';

/**
 * Defaults recorded in new bundles (measured on synthetic corpora, docs/SERVING.md "Retrieval"). Inner product:
 * k' = the request's k, searched ef = 1,024 deep (recall@100 at 1M items 0.971 at 512, 0.984 at 1,024, 0.985 at 2,048),
 * unless the export calibrates ef on its sampled users (writeRetrievalIndex).
 */
export const INNER_PRODUCT_DEFAULTS: SearchDefaults = { perHead: 0, ef: 1024, maxCandidates: 4096 };

/** What bundles written before the retrievalIndex entry searched with: their index's build-time ef of 512. */
const LEGACY_INNER_PRODUCT_DEFAULTS: SearchDefaults = { perHead: 0, ef: 512, maxCandidates: 4096 };
/**
 * Multi-vector: k' = 256 per query vector plus 1,024 per summed query (IntTower at 1M items: recall@100 0.41 with
 * one summed query of 256, 0.59 with one per layer of 1,024; docs/SERVING.md "Retrieval at 1M items").
 */
export const MULTI_VECTOR_DEFAULTS: SearchDefaults = { perHead: 256, sumDepth: 1024, ef: 256, maxCandidates: 4096 };

/** Multiply-adds the exact rescoring of a multi-vector query may cost by default (~3 ms on two AVX-512 cores). */
export const RESCORE_BUDGET_MACS = 512e6;

/**
 * A layout's defaults: the candidate cap is the rescoring budget over a candidate's max-sim cost (Q x H x P), as a
 * power of two in [1,024, 8,192] (IntTower with 8 heads of 64 and 3 layers: 8,192; 32 x 64: 2,048).
 */
export function multiVectorDefaults(l: MultiVectorLayout): SearchDefaults {
  const cap = 2 ** Math.round(Math.log2(RESCORE_BUDGET_MACS / (l.queries * l.heads * l.size)));
  // one summed query per group of H query vectors: IntTower's layers (its user has H heads per layer, as the item)
  const sumGroups = Number.isInteger(l.queries / l.heads) ? l.queries / l.heads : 1;
  return { ...MULTI_VECTOR_DEFAULTS, sumGroups, maxCandidates: Math.min(8192, Math.max(1024, cap)) };
}

/**
 * The centroid index's defaults: at least 16 lists probed in all, nprobe = ceil(16 / Q) per query vector (IntTower's
 * 24 or 96 query vectors: 1; RankTower's 4: 4), and the candidate cap of the layout's rescoring budget
 * (multiVectorDefaults); the HNSW fields are unused. IntTower at 1M items (synthetic M corpus, 2,048 centroids):
 * recall@100 0.981 at 1, 2, 4 or 8 lists with the cap at 8,192, 0.947 with 4,096, 0.999 with 16,384: the cap, not
 * the probes, limits it. 16,384 centroids need 4 lists for 0.95 and were no faster there. RankTower at 100k items
 * (synthetic S corpus, anchored vectors): 0.76 with 1 list per query vector, 0.91 with 2, 0.94 with 4: with 4 query
 * vectors the lists probed, not the cap, limit it (docs/SERVING.md, "Retrieval").
 */
export function centroidDefaults(l: MultiVectorLayout): SearchDefaults {
  return { perHead: 0, ef: 0, nprobe: Math.max(1, Math.ceil(16 / l.queries)), maxCandidates: multiVectorDefaults(l).maxCandidates };
}

/** The head index's usearch settings: small build breadth (it holds N*H vectors), ef chosen per request. */
export const HEAD_INDEX_PARAMS = { connectivity: 16, expansion_add: 64, expansion_search: 16 } as const;

/** The multi-vector layout of a plan's score, or null when its score is not a max over item vectors. */
export function multiVectorLayout(spec: ServingPlanSpec): MultiVectorLayout | null {
  const s = spec.score;
  if (s.kind === 'maxsim' && s.scale > 0) {
    return { heads: s.heads, size: s.headSize, offset: 0, queries: spec.repLength / s.headSize, userOffset: 0, normalize: false, fidelity: 'exact' };
  }
  if (s.kind === 'rankTower' && s.scale > 0) {
    return { heads: s.itemHeads, size: s.headSize, offset: 0, queries: s.userHeads, userOffset: 0, normalize: true, fidelity: s.crossAttention ? 'proxy' : 'exact' };
  }
  return null;
}

/** What a bundle's manifest says about retrieval, for bundles written with or before the retrievalIndex entry. */
export function retrievalIndexOf(items: ItemsInfo, hasIpFile: boolean): RetrievalIndexInfo {
  if (!items.cached) return { kind: 'none', reason: 'single-tower model: no cached item reps' };
  if (items.retrievalIndex) return items.retrievalIndex;
  if (items.retrieval) return { kind: 'inner-product', file: hasIpFile ? 'items/ann.usearch' : null, defaults: LEGACY_INNER_PRODUCT_DEFAULTS };
  return { kind: 'none', reason: 'written before multi-vector retrieval (exact full-corpus mode only)' };
}

/** float32 values as base64 of their little-endian bytes (the layout's anchors), and back. */
export function f32ToBase64(x: Float32Array): string {
  const b = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function f32FromBase64(s: string, what: string): Float32Array {
  const bin = atob(s);
  if (bin.length % 4 !== 0) throw new Error(`${what}: ${bin.length} bytes is not a whole number of float32 values`);
  const out = new Float32Array(bin.length / 4), b = new Uint8Array(out.buffer);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return out;
}

const decodedAnchors = new WeakMap<object, { user: Float32Array; item: Float32Array }>();

/** The model and the decoded anchors of an anchored layout (decoded once per layout object). */
function anchoring(anchors: NonNullable<MultiVectorLayout['anchors']>, model: RecModel | null) {
  if (!model?.anchoredVectors) {
    throw new Error(`the retrieval index holds anchored vectors: computing them needs the model's anchoredVectors ('${model?.kind ?? 'no model'}' has none)`);
  }
  let a = decodedAnchors.get(anchors);
  if (!a) {
    a = { user: f32FromBase64(anchors.user, 'retrieval index user anchor'), item: f32FromBase64(anchors.item, 'retrieval index item anchor') };
    decodedAnchors.set(anchors, a);
  }
  return { vectors: model.anchoredVectors.bind(model), ...a };
}

/**
 * The index vectors [N*H, P] of reps [N, I]: item head h of row r at row r*H + h. Anchored layouts: the model's
 * item vectors against the user anchor. Otherwise slices of the reps: a view of reps when the heads are the whole rep
 * and need no normalising (IntTower: no copy of a table of gigabytes), else a fresh array.
 */
export function headVectors(reps: Float32Array, dim: number, l: MultiVectorLayout, model: RecModel | null = null): Float32Array {
  if (l.anchors) {
    const a = anchoring(l.anchors, model);
    return a.vectors('item', reps, a.user);
  }
  const n = reps.length / dim, w = l.heads * l.size;
  if (!l.normalize && l.offset === 0 && w === dim) return reps;
  const out = new Float32Array(n * w);
  for (let r = 0; r < n; r++) out.set(reps.subarray(r * dim + l.offset, r * dim + l.offset + w), r * w);
  if (l.normalize) normalizeRows(out, l.size);
  return out;
}

/** The query vectors [Q, P] of a user rep (a fresh array); anchored layouts: the model's user vectors against the item anchor. */
export function queryVectors(rep: Float32Array, l: MultiVectorLayout, model: RecModel | null = null): Float32Array {
  if (l.anchors) {
    const a = anchoring(l.anchors, model);
    return a.vectors('user', rep, a.item);
  }
  const q = rep.slice(l.userOffset, l.userOffset + l.queries * l.size);
  if (l.normalize) normalizeRows(q, l.size);
  return q;
}

/** L2-normalises each row of width p in place (a zero row stays zero). */
export function normalizeRows(x: Float32Array, p: number): void {
  for (let at = 0; at < x.length; at += p) {
    let s = 0;
    for (let j = 0; j < p; j++) s += x[at + j] * x[at + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < p; j++) x[at + j] *= inv;
  }
}

/** The manifest's `shared` entry for rows kept by calibrateWithShared (none: no entry). */
function sharedEntry(rows: Int32Array | null, users: Float32Array, dim: number): { shared?: SharedRows } {
  return rows ? { shared: { rows: Array.from(rows), users: sharedUsers(users, dim).length / dim, k: SHARED_K } } : {};
}

/**
 * What the export builds for retrieval: the index kind, written under dir (FILES paths), and its manifest entry.
 * `users` [S, U]: the user reps of the export's sampled training rows. The index's default search settings are
 * measured on them against exact scoring (src/export/search-calibration.ts); their mean is the user anchor of a
 * proxy layout the model can anchor.
 */
export async function writeRetrievalIndex(model: RecModel, items: Extract<ItemsInfo, { cached: true }>, reps: Float32Array, dir: string,
  o: { annIndex: boolean; headQuantization: 'f32' | 'f16' | 'i8'; headIndex?: 'hnsw' | 'centroids'; centroids?: number; users?: Float32Array }): Promise<RetrievalIndexInfo> {
  if (items.retrieval) {
    const vectors = augmentedVectors(reps, items.dim);
    const saved = o.annIndex ? await saveAnnIndex(reps, items.dim, join(dir, FILES.itemAnn), { vectors }) : null;
    const info: RetrievalIndexInfo = { kind: 'inner-product', file: saved ? FILES.itemAnn : null, defaults: INNER_PRODUCT_DEFAULTS, vectors };
    if (!saved || !o.users) return info;
    const users = o.users;
    const scores = new Float64Array(reps.length / items.dim);
    const exact = (q: Float32Array) => innerProducts(reps, items.dim, q, scores);
    const targets = ExactTargets.ofUsers(users, items.dim, exact);
    const c = calibrateWithShared((shared) => calibrateInnerProduct(saved, scores.length, targets, vectors, shared),
      () => sharedRows(exact, sharedUsers(users, items.dim), items.dim));
    return c ? { ...info, defaults: { ...INNER_PRODUCT_DEFAULTS, ef: c.result.ef }, calibration: c.result.calibration, ...sharedEntry(c.shared, users, items.dim) } : info;
  }
  let layout: MultiVectorLayout | null = null;
  try {
    layout = model.servingPlan ? multiVectorLayout(model.servingPlan().spec) : null;
  } catch {
    layout = null; // no plan for this configuration: exact mode only
  }
  if (!layout) return { kind: 'none', reason: `'${model.kind}' scores neither an inner product nor a max over item vectors: exact full-corpus mode only` };
  if (layout.fidelity === 'proxy' && model.anchoredVectors && o.users) {
    layout = { ...layout, anchors: { user: f32ToBase64(columnMeans(o.users, items.userDim)), item: f32ToBase64(columnMeans(reps, items.dim)) } };
  }
  const heads = headVectors(reps, items.dim, layout, model);
  const l = layout;
  const queries = (rep: Float32Array) => queryVectors(rep, l, model);
  // the defaults measured through the generator /v1/retrieve will use, when the index is built now
  const calibrated = <T extends Extract<RetrievalIndexInfo, { layout: MultiVectorLayout }>>(info: T, source: CandidateSource | null): T => {
    if (!source || !o.users) return info;
    const users = o.users;
    const exact = (rep: Float32Array) => inference(model, () => scoreReps(model, rep, reps, items.dim));
    const targets = ExactTargets.ofUsers(users, items.userDim, exact);
    const c = calibrateWithShared((shared) => calibrateMultiVector(withSharedRows(source, shared), targets, info.defaults,
      multiVectorLadder(info.kind, info.defaults)), () => sharedRows(exact, sharedUsers(users, items.userDim), items.userDim));
    source.close();
    return c ? { ...info, defaults: c.result.defaults, calibration: c.result.calibration, ...sharedEntry(c.shared, users, items.userDim) } : info;
  };
  if (o.headIndex === 'centroids') {
    const c = o.centroids || defaultCentroids(heads.length / layout.size);
    const info = { kind: 'multi-vector-centroids', file: o.annIndex ? FILES.itemHeadsIvf : null, layout, centroids: c, defaults: centroidDefaults(layout) } as const;
    if (!o.annIndex) return info;
    const ix = buildHeadCentroids(heads, layout.size, layout.heads, c);
    await saveHeadCentroids(ix, join(dir, FILES.itemHeadsIvf));
    return calibrated(info, new CentroidSource(ix, layout, info.defaults, queries));
  }
  const vectors = augmentedVectors(heads, layout.size);
  const params = { ...HEAD_INDEX_PARAMS, quantization: o.headQuantization };
  const saved = o.annIndex ? await saveAnnIndex(heads, layout.size, join(dir, FILES.itemHeadsAnn), { vectors, params }) : null;
  const info = { kind: 'multi-vector', file: saved ? FILES.itemHeadsAnn : null, layout, quantization: o.headQuantization, defaults: multiVectorDefaults(layout), vectors } as const;
  if (!saved) return info;
  return calibrated(info, new MultiVectorSource('usearch', layout, info.defaults, heads.length / layout.size, usearchHeads(saved, 1, vectors), queries));
}

/** One line on a bundle's retrieval index for people: its kind, default search settings and measured settings. */
export function retrievalSummary(info: RetrievalIndexInfo | undefined): string {
  return `retrieval: ${retrievalSettings(info)}`;
}

/** The index kind and its default search settings in words (retrievalSummary without its 'retrieval: '). */
export function retrievalSettings(info: RetrievalIndexInfo | undefined): string {
  if (!info) return 'exact mode only (written before retrieval indexes)';
  if (info.kind === 'none') return `exact mode only (${info.reason})`;
  const d = info.defaults;
  const saved = info.file ? '' : ', built when loaded';
  const c = info.calibration;
  const setting = (p: Partial<SearchDefaults>): string => [p.ef === undefined ? '' : String(p.ef), p.perHead === undefined ? '' : `k' ${p.perHead}`,
    p.nprobe === undefined ? '' : `nprobe ${p.nprobe}`, p.maxCandidates === undefined ? '' : `cap ${p.maxCandidates}`].filter(Boolean).join(' ');
  const shared = info.shared ? `, with ${info.shared.rows.length} shared rows` : '';
  const curve = c ? ` (recall@${c.k} on ${c.queries} sampled users${shared}: ${c.curve.map((p) => `${setting(p)} ${p.recall.toFixed(3)}`).join(', ')})` : '';
  if (info.kind === 'inner-product') return `HNSW inner product${saved}, ef ${d.ef}${curve}`;
  const l = info.layout;
  const vectors = `${l.heads} item vectors of ${l.size} per item, ${l.queries} per user${l.anchors ? ', anchored' : ''}`;
  if (info.kind === 'multi-vector') return `HNSW over ${vectors}${saved}, k' ${d.perHead}, ef ${d.ef}, cap ${d.maxCandidates}${curve}`;
  return `${info.centroids} centroids over ${vectors}${saved}, nprobe ${d.nprobe ?? 1}, cap ${d.maxCandidates}${curve}`;
}
