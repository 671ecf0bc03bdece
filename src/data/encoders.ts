// Every fitted transform from raw values to model inputs, fitted on the train split only; serializes to JSON and
// encodes single rows at serving time (unknown values -> OOV, counted per feature).
import { fitHistory, fitStat, type FittedHistory } from './derived.js';
import { JsonEntityFeatures, type EntityFeatures, type HistoryJson, type StatJson } from './entity-features.js';
import { countTokens, countValues, emptyTable, encodeDense, encodeSequence, encodeSparse, numeric, sequenceTokens,
  sparseValues, splitTokens, type EncodedTable } from './encode-table.js';
import type { RawData } from './ingest.js';
import { Scaler, type ScalerJson } from './scaler.js';
import { featureColumn, type DataConfig, type DerivedSpec, type FeatureSpec, type Pooling } from './spec-schema.js';
import { rawKey, Vocabulary, type RawValue, type VocabularyJson } from './vocabulary.js';
import { own } from '../util/own.js';

export interface FeatureInfo {
  name: string;
  kind: 'sparse' | 'dense' | 'sequence';
  source: 'user' | 'item' | 'context';
  /** Embedding table (the owning feature's name; shared tables appear under several features). */
  table?: string;
  /** Rows of that table, reserved ids 0 (pad) and 1 (OOV) included; 0 for dense features. */
  vocabSize: number;
  dim?: number;
  maxLen?: number;
  pooling?: Pooling;
  derived?: 'stat' | 'history';
}

export interface EncodersJson {
  version: 1;
  name: string;
  keys: { user: string; item: string; usersKey?: string; itemsKey?: string };
  features: FeatureSpec[];
  derived: DerivedSpec[];
  vocabularies: Record<string, VocabularyJson>;
  scalers: Record<string, ScalerJson>;
  stats: Record<string, StatJson>;
  /** Per history feature: user key -> item tokens, oldest first. Keys are data values: read into Maps, never indexed. */
  history: HistoryJson;
}

/** What encoders are besides their fitted tables: the feature spec and key columns. */
export type EncodersSpec = Pick<EncodersJson, 'name' | 'keys' | 'features' | 'derived'>;

export interface EncodedRow {
  sparse: Record<string, number>;
  dense: Record<string, number>;
  sequence: Record<string, Int32Array>;
}

export interface FitResult {
  encoders: FeatureEncoders;
  user: EncodedTable;
  item: EncodedTable;
  context: EncodedTable;
  history: Map<string, FittedHistory>;
}

type Counter = { lookups: number; oov: number };

export class FeatureEncoders {
  /** Serving-time lookups and OOV results per sparse/sequence feature (see `encodeRow`). */
  readonly oov: Record<string, Counter> = {};
  /** Statistics and histories by entity key; from j unless the encoders were built over other tables. */
  private readonly entities: EntityFeatures;
  private readonly tablesInJson: boolean;

  /** `entities` given: j holds only the spec; toJSON asks `entities` for its tables. */
  private constructor(private readonly j: EncodersJson, readonly vocabs: Map<string, Vocabulary>,
    readonly scalers: Map<string, Scaler>, entities?: EntityFeatures) {
    for (const f of [...j.features, ...j.derived]) if (f.kind !== 'dense' && f.kind !== 'stat') this.oov[f.name] = { lookups: 0, oov: 0 };
    this.entities = entities ?? new JsonEntityFeatures(j.stats, j.history, (f) => this.vocabulary(f));
    this.tablesInJson = !entities;
  }

  /** Encoders over tables kept elsewhere (a bundle's binary encoders); toJSON works when `entities` can list its tables. */
  static over(spec: EncodersSpec, vocabs: Map<string, Vocabulary>, scalers: Map<string, Scaler>, entities: EntityFeatures): FeatureEncoders {
    const j: EncodersJson = { version: 1, name: spec.name, keys: spec.keys, features: spec.features, derived: spec.derived,
      vocabularies: {}, scalers: {}, stats: {}, history: {} };
    return new FeatureEncoders(j, vocabs, scalers, entities);
  }

  static fit(cfg: DataConfig, raw: RawData, train: Int32Array): FitResult {
    const userW = new Float64Array(raw.users.keys.length);
    const itemW = new Float64Array(raw.items.keys.length);
    const rowW = new Float64Array(raw.rows);
    for (const r of train) {
      userW[raw.user[r]]++;
      itemW[raw.item[r]]++;
      rowW[r] = 1;
    }
    const side = (f: { source: string }) => (f.source === 'user' ? { cols: raw.users.columns, w: userW,
      n: userW.length } : f.source === 'item' ? { cols: raw.items.columns, w: itemW, n: itemW.length }
      : { cols: raw.rowColumns, w: rowW, n: raw.rows });
    const tokens = new Map<string, string[][]>();
    const counts = new Map<string, Map<string, number>>();
    for (const f of cfg.features) {
      if (f.kind === 'dense') continue;
      const s = side(f);
      const owner = f.shareWith ?? f.name;
      const into = counts.get(owner) ?? new Map<string, number>();
      counts.set(owner, into);
      if (f.kind === 'sparse') for (const [k, c] of countValues(sparseValues(f, s.cols), s.w)) into.set(k, (into.get(k) ?? 0) + c);
      else {
        const t = sequenceTokens(f, s.cols, s.n);
        tokens.set(f.name, t);
        countTokens(t, s.w, into);
      }
    }
    const vocabs = new Map<string, Vocabulary>();
    for (const f of cfg.features) {
      if (f.kind !== 'dense' && !f.shareWith) vocabs.set(f.name, Vocabulary.fit(counts.get(f.name)!, f));
    }
    const scalers = new Map<string, Scaler>();
    const tables = { user: emptyTable(userW.length), item: emptyTable(itemW.length), context: emptyTable(raw.rows) };
    for (const f of cfg.features) {
      const s = side(f);
      const out = tables[f.source];
      if (f.kind === 'dense') {
        const v = numeric(s.cols, featureColumn(f));
        const sc = Scaler.fit(f.scaler, v, s.w, f.fillNaN);
        scalers.set(f.name, sc);
        out.dense.set(f.name, encodeDense(v, sc));
      } else if (f.kind === 'sparse') out.sparse.set(f.name, encodeSparse(sparseValues(f, s.cols), vocabs.get(f.shareWith ?? f.name)!));
      else out.sequence.set(f.name, encodeSequence(tokens.get(f.name)!, vocabs.get(f.shareWith ?? f.name)!));
    }
    const j: EncodersJson = { version: 1, name: cfg.name, keys: { user: cfg.keys.user, item: cfg.keys.item,
      usersKey: cfg.sources.users?.key, itemsKey: cfg.sources.items?.key }, features: cfg.features, derived: cfg.derived,
      vocabularies: {}, scalers: {}, stats: {}, history: {} };
    const history = new Map<string, FittedHistory>();
    for (const d of cfg.derived) {
      if (d.kind === 'stat') {
        const st = fitStat(d, raw, train);
        const sc = Scaler.fit(d.scaler, st.perEntity, st.trainCount, 0);
        scalers.set(d.name, sc);
        tables[d.source].dense.set(d.name, encodeDense(st.perEntity, sc));
        const keys = (d.source === 'user' ? raw.users : raw.items).keys;
        j.stats[d.name] = { keys: [], values: [], fallback: st.fallback };
        for (let e = 0; e < keys.length; e++) {
          if (st.trainCount[e] > 0) {
            j.stats[d.name].keys.push(keys[e]);
            j.stats[d.name].values.push(st.perEntity[e]);
          }
        }
      } else {
        const owner = cfg.features.find((f) => f.name === d.shareWith)!;
        const vocab = vocabs.get(d.shareWith)!;
        const itemIds = tables.item.sparse.get(owner.name) ?? encodeSparse(sparseValues(owner, raw.items.columns), vocab);
        const h = fitHistory(d, raw, train, itemIds, d.causal ?? raw.time !== undefined);
        history.set(d.name, h);
        const perUser: [string, string[]][] = [];
        raw.users.keys.forEach((key, u) => {
          const ids = h.ids.subarray(Math.max(h.start[u], h.start[u + 1] - d.maxLen), h.start[u + 1]);
          if (ids.length) perUser.push([key, Array.from(ids, (id) => vocab.token(id) ?? '')]);
        });
        j.history[d.name] = Object.fromEntries(perUser); // own properties: a user keyed '__proto__' is kept
      }
    }
    const encoders = new FeatureEncoders(j, vocabs, scalers);
    return { encoders, ...tables, history };
  }

  static fromJSON(j: EncodersJson): FeatureEncoders {
    if (j.version !== 1) throw new Error(`unsupported encoders version ${String(j.version)}`);
    const vocabs = new Map(Object.entries(j.vocabularies).map(([k, v]) => [k, Vocabulary.fromJSON(v)]));
    const scalers = new Map(Object.entries(j.scalers).map(([k, v]) => [k, Scaler.fromJSON(v)]));
    return new FeatureEncoders(j, vocabs, scalers);
  }

  toJSON(): EncodersJson {
    const tables = this.tablesInJson ? null : this.entities.tables?.((f) => this.vocabulary(f));
    if (!this.tablesInJson && !tables) throw new Error(`encoders '${this.j.name}' were read from binary tables: they encode rows but are not written back as JSON`);
    const vocabularies = Object.fromEntries([...this.vocabs].map(([k, v]) => [k, v.toJSON()]));
    const scalers = Object.fromEntries([...this.scalers].map(([k, v]) => [k, v.toJSON()]));
    return { ...this.j, vocabularies, scalers, ...tables };
  }

  get name(): string {
    return this.j.name;
  }

  get spec(): EncodersSpec {
    const { name, keys, features, derived } = this.j;
    return { name, keys, features, derived };
  }

  /**
   * What the encoders hold about one user (or item) key, for people to read: each derived statistic's raw value (null:
   * none, the fallback is used) and each history as tokens, oldest first. Counts no lookup.
   */
  entityFeatures(source: 'user' | 'item', key: string): { stats: Record<string, number | null>; history: Record<string, string[]> } {
    const stats: Record<string, number | null> = {};
    const history: Record<string, string[]> = {};
    for (const d of this.j.derived) {
      if (d.source !== source) continue;
      if (d.kind === 'stat') stats[d.name] = this.entities.stat(d.name, key) ?? null;
      else history[d.name] = Array.from(this.entities.history(d.name, key, d.maxLen), (id) => this.vocabulary(d.name).token(id) ?? '(unknown)');
    }
    return { stats, history };
  }

  /** The vocabulary a sparse/sequence/history feature looks ids up in (its own or the shared one). */
  vocabulary(feature: string): Vocabulary {
    const f = [...this.j.features, ...this.j.derived].find((x) => x.name === feature);
    const owner = f && f.kind !== 'dense' && f.kind !== 'stat' ? f.shareWith ?? f.name : undefined;
    const v = owner ? this.vocabs.get(owner) : undefined;
    if (!v) throw new Error(`no vocabulary for feature '${feature}'`);
    return v;
  }

  featureInfo(): FeatureInfo[] {
    return featureInfoOf(this.j.features, this.j.derived, (table) => this.vocabs.get(table)!.size);
  }

  /**
   * Encodes one raw row (column name -> value) the way the training data was encoded. `sources` limits the
   * features (e.g. ['item'] for the item tower). Histories and statistics come from the fitted train data. Only the
   * row's own properties are read (a request's row is parsed JSON).
   */
  encodeRow(raw: Record<string, unknown>, sources: ('user' | 'item' | 'context')[] = ['user', 'item', 'context']): EncodedRow {
    const out: EncodedRow = { sparse: {}, dense: {}, sequence: {} };
    const k = this.j.keys;
    const get = (c: string): unknown => own(raw, c) ?? (c === k.usersKey ? own(raw, k.user) : c === k.itemsKey ? own(raw, k.item) : undefined);
    const look = (name: string, vocab: Vocabulary, v: RawValue): number => {
      const id = vocab.id(v);
      this.oov[name].lookups++;
      if (id === 1) this.oov[name].oov++;
      return id;
    };
    for (const f of this.j.features) {
      if (!sources.includes(f.source)) continue;
      if (f.kind === 'dense') {
        const v = get(featureColumn(f));
        out.dense[f.name] = this.scalers.get(f.name)!.transform(v === null || v === undefined || v === '' ? NaN : Number(v));
      } else if (f.kind === 'sparse') out.sparse[f.name] = look(f.name, this.vocabulary(f.name), get(featureColumn(f)) as RawValue);
      else {
        const toks = f.flagColumns ? f.flagColumns.filter((c) => Number(get(c)) !== 0 && Number.isFinite(Number(get(c))))
          : splitTokens(get(featureColumn(f)), f.separator);
        const vocab = this.vocabulary(f.name);
        out.sequence[f.name] = Int32Array.from(toks.slice(0, f.maxLen), (t) => look(f.name, vocab, t));
      }
    }
    for (const d of this.j.derived) {
      if (!sources.includes(d.source)) continue;
      const key = rawKey(own(raw, d.source === 'user' ? k.user : k.item) as RawValue) ?? '';
      if (d.kind === 'stat') {
        const v = this.entities.stat(d.name, key);
        out.dense[d.name] = this.scalers.get(d.name)!.transform(v === undefined ? this.entities.fallback(d.name) : v);
      } else {
        const vocab = this.vocabulary(d.name);
        const ids = this.entities.history(d.name, key, d.maxLen);
        const c = this.oov[d.name];
        for (const id of ids) {
          vocab.tally(id);
          c.lookups++;
          if (id === 1) c.oov++;
        }
        out.sequence[d.name] = ids;
      }
    }
    return out;
  }
}

/** The features models see, from the configured features and the size of each vocabulary (by owning feature). */
export function featureInfoOf(features: FeatureSpec[], derived: DerivedSpec[], vocabSize: (table: string) => number): FeatureInfo[] {
  const byName = new Map(features.map((f) => [f.name, f]));
  const out: FeatureInfo[] = features.map((f) => {
    if (f.kind === 'dense') return { name: f.name, kind: 'dense', source: f.source, vocabSize: 0 };
    const table = f.shareWith ?? f.name;
    const dim = f.dim ?? (byName.get(table) as { dim?: number } | undefined)?.dim;
    const base = { name: f.name, source: f.source, table, vocabSize: vocabSize(table), dim };
    return f.kind === 'sparse' ? { ...base, kind: 'sparse' }
      : { ...base, kind: 'sequence', maxLen: f.maxLen, pooling: f.pooling };
  });
  for (const d of derived) {
    if (d.kind === 'stat') out.push({ name: d.name, kind: 'dense', source: d.source, vocabSize: 0, derived: 'stat' });
    else {
      out.push({ name: d.name, kind: 'sequence', source: 'user', table: d.shareWith, vocabSize: vocabSize(d.shareWith),
        dim: (byName.get(d.shareWith) as { dim?: number } | undefined)?.dim, maxLen: d.maxLen, pooling: d.pooling,
        derived: 'history' });
    }
  }
  return out.map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as FeatureInfo);
}
