// The bundle manifest's format: what a bundle holds and where (FILES), the formats this prerank reads, and the
// manifest's types, without file access or hashing (pages read manifests too: prerank/web). manifest.ts adds the
// sha256 of files and of the model.
import type { FeatureInfo } from '../data/encoders.js';
import type { ItemDType } from './item-table.js';
import type { ItemAttributesInfo } from './item-attributes.js';

export const BUNDLE_FORMAT = 'prerank-bundle/3';
/**
 * Formats Bundle.load reads: /1 kept every encoder table in encoders.json; /2 keeps them in encoders.bin; /3 also
 * keeps the item and user ids as binary id tables (ids.bin) instead of JSON arrays (ids.json).
 */
export const READABLE_FORMATS: readonly string[] = ['prerank-bundle/1', 'prerank-bundle/2', BUNDLE_FORMAT];

/** Files every bundle part needs (paths relative to the bundle directory). */
export const FILES = {
  /** Format /2: the feature spec, scalers and where each table sits in encoders.bin; /1: every table as JSON. */
  encoders: 'encoders.json',
  /** Vocabularies, per-entity keys, statistics and histories, read in place (format /2). */
  encodersBin: 'encoders.bin',
  weightsManifest: 'weights/manifest.json',
  weightsBin: 'weights/tensors.bin',
  /** Item ids in row order, an id table read in place (format /3; id-table.ts). */
  itemIds: 'items/ids.bin',
  /** Formats /1 and /2: the item ids as a JSON array. */
  itemIdsJson: 'items/ids.json',
  itemReps: 'items/reps.bin',
  itemScales: 'items/scales.bin',
  /** HNSW index over the (decoded) item table, when the score is an inner product and usearch loaded at export. */
  itemAnn: 'items/ann.usearch',
  /** HNSW index over every item head vector (max-sim models: IntTower, RankTower), key = row * H + head. */
  itemHeadsAnn: 'items/heads.usearch',
  /** Centroids of every item head vector with inverted lists (max-sim models; head-centroids.ts). */
  itemHeadsIvf: 'items/heads.ivf',
  itemFeaturesManifest: 'items/features/manifest.json',
  itemFeaturesBin: 'items/features/tensors.bin',
  userIds: 'users/ids.bin',
  userIdsJson: 'users/ids.json',
  userEncodings: 'users/encodings.bin',
  /** What people read about each item (titles, genres), when the data has an items file (item-attributes.ts). */
  itemAttributes: 'items/attributes.json',
} as const;

/** True for the formats that keep ids as JSON arrays (ids.json) rather than id tables (ids.bin). */
export const jsonIds = (format: string): boolean => format === 'prerank-bundle/1' || format === 'prerank-bundle/2';

/** Files a training strategy added, part of the model's identity (hashed into `hash` when present). */
export const strategyFiles = (format: string): string[] => [jsonIds(format) ? FILES.userIdsJson : FILES.userIds, FILES.userEncodings];

/** Stored per-user reps that serving uses instead of the user tower (OneBP); other users are scored by the tower. */
export interface UserEncodingsInfo {
  /** Users with a stored rep (rows of users/encodings.bin, keys in users/ids.bin). */
  count: number;
  /** U: must equal the user tower's rep width. */
  dim: number;
  dtype: 'float32';
  /** How users without a stored rep are scored. */
  cold: 'tower';
}

/** What the training strategy added to the bundle (absent: the model alone serves). */
export interface StrategyInfo {
  kind: string;
  userEncodings?: UserEncodingsInfo;
  [fact: string]: unknown;
}

/** Score error of a quantized table against float32, on sampled (user, item) pairs. */
export interface AccuracyCost {
  dtype: ItemDType;
  maxAbsScoreError: number;
  meanAbsScoreError: number;
  pairs: number;
}

/** Scores are `scale * <user, item> + offset` (checked on sampled pairs): an inner-product ANN index is exact in order. */
export interface RetrievalInfo {
  metric: 'ip';
  scale: number;
  offset: number;
  maxResidual: number;
}

/** Per-request search settings of a retrieval index, with the defaults the bundle records (measured: docs/SERVING.md). */
export interface SearchDefaults {
  /** k': vectors fetched per query vector (inner product: items fetched, at least k; 0: that default). */
  perHead: number;
  /**
   * Multi-vector: vectors fetched for the sum of the query vectors (<sum_a u_a, v_b> = sum_a <u_a, v_b>, a lower
   * bound of the max-sim score over item head b); 0: none. Absent in bundles that predate it: 0.
   */
  sumDepth?: number;
  /**
   * Multi-vector: the summed query is one per group of consecutive query vectors (G groups: G searches of sumDepth
   * each, every group's sum a lower bound of that group's part of the score). Absent in bundles that predate it: 1.
   */
  sumGroups?: number;
  /** HNSW search breadth (usearch's expansion_search; a search fetches max(ef, k') and keeps k'). */
  ef: number;
  /** Candidate items rescored exactly at most. */
  maxCandidates: number;
  /** Centroid index: the lists probed per query vector (its best-scoring centroids). */
  nprobe?: number;
}

/**
 * Where a score's item-side vectors sit in a cached rep and which user vectors query them (max-sim models).
 * Item head h of row r is rep[offset + h*size, +size); query q is userRep[userOffset + q*size, +size).
 */
export interface MultiVectorLayout {
  heads: number;
  size: number;
  offset: number;
  queries: number;
  userOffset: number;
  /** Vectors are L2-normalised before indexing and querying (RankTower's sub-spaces: a cosine proxy). */
  normalize: boolean;
  /** The index vectors are the exact scored heads ('exact': IntTower) or a stand-in for pair-dependent ones ('proxy'). */
  fidelity: 'exact' | 'proxy';
  /**
   * Proxy layouts written with anchors (RankTower): the index holds each item's vectors as scored against the mean
   * user rep, queries are the user's vectors as scored against the mean item rep (the model's anchoredVectors).
   * Both reps are float32 little-endian, base64. Absent: the vectors are the rep's slices above.
   */
  anchors?: { user: string; item: string };
}

/**
 * How the index holds its vectors. 'augmented': each vector v as [v, sqrt(M^2 - |v|^2)] / M, searched with [q, 0]
 * (src/export/mips.ts: inner-product search as a search by angle), M = `maxNorm`. Absent (bundles written before):
 * the raw vectors under usearch's inner product, searched with q.
 */
export type IndexVectors = { kind: 'augmented'; maxNorm: number };

/**
 * How the export chose an index's default search settings (src/export/search-calibration.ts): recall@k of the saved
 * index's candidates against exact scoring, over `queries` sampled training users, at each setting tried in order;
 * the default is the first with recall >= target (else the best tried). A curve entry holds the settings it changed
 * from the layout's defaults (inner product: ef; head index: k' and the cap; centroids: nprobe and the cap).
 */
export interface SearchCalibration {
  queries: number;
  k: number;
  target: number;
  curve: (Partial<SearchDefaults> & { recall: number })[];
}

/**
 * Table rows every retrieval query rescores besides its index's candidates: the rows in the most exact top-`k` lists
 * of `users` sampled training users (src/export/search-calibration.ts, sharedRows). An index graph can miss the items
 * a model ranks first for nearly everyone (user reps far from every item rep); these rows put them back for the
 * cost of scoring them.
 */
export interface SharedRows {
  rows: number[];
  users: number;
  k: number;
}

/**
 * The candidate generator a bundle ships for /v1/retrieve; every kind rescores its candidates exactly, and exact
 * full-corpus scoring is available whatever the kind. Bundles without this entry: 'inner-product' when `retrieval`
 * is set, else 'none' (src/export/retrieval-index.ts, retrievalIndexOf).
 */
export type RetrievalIndexInfo =
  | { kind: 'inner-product'; file: string | null; defaults: SearchDefaults; vectors?: IndexVectors; calibration?: SearchCalibration; shared?: SharedRows }
  | { kind: 'multi-vector'; file: string | null; layout: MultiVectorLayout; quantization: 'f32' | 'f16' | 'i8'; defaults: SearchDefaults; vectors?: IndexVectors; calibration?: SearchCalibration; shared?: SharedRows }
  /**
   * Max-sim by centroids (PLAID): k-means centroids of the item head vectors and inverted lists (file: items/heads.ivf,
   * null: built when the bundle is loaded); a query probes `nprobe` lists per query vector, keeps the `maxCandidates`
   * items with the best max-sim over their heads' centroids and rescores them exactly.
   */
  | { kind: 'multi-vector-centroids'; file: string | null; layout: MultiVectorLayout; centroids: number; defaults: SearchDefaults; calibration?: SearchCalibration; shared?: SharedRows }
  | { kind: 'none'; reason: string };

export type ItemsInfo =
  | {
      cached: true;
      count: number;
      /** I: item rep width; U: user rep width. */
      dim: number;
      userDim: number;
      dtype: ItemDType;
      /** Max |score(table rows) - forward| on sampled training rows (float32 table, before quantization). */
      exportCheck: { maxAbsError: number; pairs: number };
      accuracy: AccuracyCost | null;
      retrieval: RetrievalInfo | null;
      /** Absent in bundles written before multi-vector retrieval. */
      retrievalIndex?: RetrievalIndexInfo;
    }
  | {
      /** Single-tower model: nothing per item can be cached; serving scores full (user, item) pairs. */
      cached: false;
      count: number;
      reason: string;
    };

export interface BundleManifest {
  format: string;
  createdAt: string;
  model: { kind: string; config: Record<string, unknown>; twoTower: boolean };
  /** `${kind}-${hash.slice(0, 12)}` */
  modelVersion: string;
  /** sha256 of the spec (format, model, features) and the hashes of encoders.json, encoders.bin and weights/. */
  hash: string;
  /** sha256 of every file, by path relative to the bundle. */
  files: Record<string, string>;
  data: { name: string };
  features: FeatureInfo[];
  items: ItemsInfo;
  /** What a training strategy added (OneBP: stored user encodings); part of `hash`. */
  strategy?: StrategyInfo;
  /** summary.json of the training run, when there was one. */
  training?: unknown;
  /** items/attributes.json: its columns and how many items have them (absent: the data has no items file). */
  attributes?: ItemAttributesInfo;
}

/** Stable JSON (sorted object keys) so the spec hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The text whose sha256 is the manifest's `hash`: its spec fields (and strategy entry) and its file hashes (strategy files when present). */
export function modelHashText(m: Pick<BundleManifest, 'format' | 'model' | 'features' | 'files' | 'strategy'>): string {
  const spec = canonicalJson({ format: m.format, model: m.model, features: m.features, strategy: m.strategy });
  const files = [FILES.encoders, ...(m.files[FILES.encodersBin] !== undefined ? [FILES.encodersBin] : []), FILES.weightsManifest,
    FILES.weightsBin, ...strategyFiles(m.format).filter((f) => m.files[f] !== undefined || m.strategy)];
  const parts = files.map((f) => `${f}:${m.files[f] ?? 'missing'}`);
  return `${spec}\n${parts.join('\n')}`;
}

export const modelVersionOf = (kind: string, hash: string): string => `${kind}-${hash.slice(0, 12)}`;
