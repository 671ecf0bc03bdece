// An out-of-core dataset: encoded once into an on-disk columnar cache (cache-build.ts), reused while the config and
// the source files are unchanged, checked against its checksums when opened (a damaged cache is rebuilt), and read
// back in chunks (cache-stream.ts). In memory: the user/item tables, per-user histories (4 bytes per train positive)
// and a stream's buffers; the vocabularies and entity keys load only when `encoders` / `itemKeys` are first used.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { writeDirAtomic } from '../util/atomic-dir.js';
import { allocBatch, BatchFiller, headOf, type Batch } from './batch.js';
import { buildCache, type CacheMeta } from './cache-build.js';
import { CacheBatchStream } from './cache-stream.js';
import { CACHE_FORMAT, CACHE_VERSION, cacheFolder, cacheKey, ColumnReader, readManifest, readStrings, readWhole,
  isRowFile, rowFile, verifyFiles, type CacheManifest } from './column-cache.js';
import { emptyTable, type EncodedTable } from './encode-table.js';
import type { EncoderTables } from './encoder-tables.js';
import { FeatureEncoders, type EncodersJson, type FeatureInfo } from './encoders.js';
import type { IngestReport } from './ingest.js';
import { Scaler } from './scaler.js';
import type { Side } from './sql-fit.js';
import { HistoryGather } from './sql-history.js';
import { loadDataConfig, type DataConfig } from './spec.js';
import { SPLIT_NAMES, type SplitName } from './split.js';
import type { BatchOptions, TrainingData } from './training-data.js';

export interface CacheInfo {
  dir: string;
  key: string;
  /** True when an existing cache was used; false when it was built by this call. */
  reused: boolean;
  /** Why an existing cache folder was not used (a checksum or format mismatch). */
  rebuiltBecause?: string;
  seconds: number;
}

export interface OpenOptions {
  /**
   * Check files' SHA-256 against the manifest before use (default true: every file). 'entities': every file but the
   * splits' rows (rows/, most of the cache's bytes), for a reader that reads few rows (an export); a split's row
   * files are checked before that split's first row is read.
   */
  verify?: boolean | 'entities';
  /** Called with a line about what happens (building, reusing, rebuilding and why). */
  log?: (line: string) => void;
}

export class CachedDataset implements TrainingData {
  readonly name: string;
  readonly size: number;
  readonly features: FeatureInfo[];
  readonly tables: Record<Side, EncodedTable>;
  readonly report: IngestReport;
  /** Seconds of this open: reading and joining the sources, then fitting and writing (0 and the open's time when reused). */
  timings: { ingest: number; fit: number } = { ingest: 0, fit: 0 };
  private readonly gathers = new Map<string, { gather: HistoryGather; column: string }>();
  private lazyEncoders?: FeatureEncoders;
  private lazyKeys: Partial<Record<Side, string[]>> = {};
  private itemFiller?: BatchFiller;
  private readonly entityFiller: BatchFiller;
  /** The splits whose rows/ files are still to be checked against the manifest before their first read. */
  private unchecked = new Set<SplitName>();

  private constructor(readonly config: DataConfig, readonly dir: string, readonly meta: CacheMeta, readonly cache: CacheInfo) {
    this.name = meta.name;
    this.size = meta.rows;
    this.features = meta.features;
    this.report = meta.report;
    this.tables = { user: this.loadTable('user'), item: this.loadTable('item') };
    const start = meta.history.length ? readWhole(join(dir, 'history.start.bin'), 'i32') as Int32Array : new Int32Array(0);
    for (const h of meta.history) {
      const ids = readWhole(join(dir, `history.${h.name}.ids.bin`), 'i32') as Int32Array;
      this.gathers.set(h.name, { gather: new HistoryGather({ ...h, start, ids }), column: h.causal ? 'hist.before' : 'hist.self' });
    }
    const entityFeatures = meta.features.filter((f) => f.source !== 'context' && f.derived !== 'history');
    this.entityFiller = new BatchFiller({ features: entityFeatures, tables: { ...this.tables, context: emptyTable(0) },
      history: new Map(), label: new Float32Array(0), rowUser: new Int32Array(0), rowItem: new Int32Array(0) });
  }

  /** Opens the config's cache, building it first when it is missing, stale or damaged. */
  static async open(config: DataConfig | string, opts: OpenOptions = {}): Promise<CachedDataset> {
    const t0 = performance.now();
    const cfg = typeof config === 'string' ? loadDataConfig(config) : config;
    const key = cacheKey(cfg);
    const dir = cacheFolder(cfg, key);
    const log = opts.log ?? (() => {});
    const verify = opts.verify ?? true;
    const why = usable(dir, key, verify);
    if (why === null) {
      log(`data cache: reusing ${dir}`);
      const ds = CachedDataset.load(cfg, dir, key, true, undefined, t0);
      if (verify === 'entities') ds.unchecked = new Set(SPLIT_NAMES);
      return ds;
    }
    const rebuiltBecause = why === 'missing' ? undefined : why;
    log(rebuiltBecause ? `data cache: rebuilding ${dir}: ${rebuiltBecause}` : `data cache: building ${dir}`);
    await writeDirAtomic(dir, async (tmp) => {
      const { meta, files } = await buildCache(cfg, tmp, cfg.cache?.chunkRows ?? 65536);
      const manifest: CacheManifest<CacheMeta> = { format: CACHE_FORMAT, version: CACHE_VERSION, key,
        created: new Date().toISOString(), files, meta };
      writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest));
    });
    return CachedDataset.load(cfg, dir, key, false, rebuiltBecause, t0);
  }

  private static load(cfg: DataConfig, dir: string, key: string, reused: boolean, rebuiltBecause: string | undefined,
    t0: number): CachedDataset {
    const m = readManifest<CacheMeta>(dir)!;
    const info: CacheInfo = { dir, key, reused, rebuiltBecause, seconds: 0 };
    const ds = new CachedDataset(cfg, dir, m.meta, info);
    info.seconds = (performance.now() - t0) / 1000;
    const t = m.meta.timings;
    ds.timings = reused ? { ingest: 0, fit: info.seconds } : { ingest: t.ingest, fit: info.seconds - t.ingest };
    return ds;
  }

  private loadTable(side: Side): EncodedTable {
    const t = emptyTable(this.meta.entities[side]);
    const file = (name: string): string => join(this.dir, `${side}.${name}.bin`);
    for (const name of this.meta.entity[side].sparse) t.sparse.set(name, readWhole(file(name), 'i32') as Int32Array);
    for (const name of this.meta.entity[side].dense) t.dense.set(name, readWhole(file(name), 'f32') as Float32Array);
    for (const name of this.meta.entity[side].sequence) {
      t.sequence.set(name, { offsets: readWhole(file(`${name}.offsets`), 'i32') as Int32Array,
        ids: readWhole(file(`${name}.ids`), 'i32') as Int32Array });
    }
    return t;
  }

  get userCount(): number {
    return this.meta.entities.user;
  }

  get itemCount(): number {
    return this.meta.entities.item;
  }

  get userKeys(): string[] {
    return (this.lazyKeys.user ??= readStrings(join(this.dir, 'user.keys.jsonl')));
  }

  get itemKeys(): string[] {
    return (this.lazyKeys.item ??= readStrings(join(this.dir, 'item.keys.jsonl')));
  }

  /** The fitted encoders (vocabularies, scalers, statistics, last histories), read from the cache on first use. */
  get encoders(): FeatureEncoders {
    return (this.lazyEncoders ??= FeatureEncoders.fromJSON(this.encodersJson()));
  }

  /** The fitted encoders as the cache keeps them (token lists, per-entity arrays), without the JSON form's Maps. */
  encoderTables(): EncoderTables {
    const m = this.meta;
    const { name, keys, features, derived, scalers } = m.encoders;
    const vocabularies: EncoderTables['vocabularies'] = {};
    for (const owner of Object.keys(m.vocabs)) vocabularies[owner] = { tokens: readStrings(join(this.dir, `vocab.${owner}.jsonl`)), hashBuckets: 0 };
    const scalerJson = Object.fromEntries(Object.entries(scalers).map(([k, v]) => [k, Scaler.fromJSON(v).toJSON()]));
    const t: EncoderTables = { spec: { name, keys, features, derived }, scalers: scalerJson, vocabularies, stats: {}, histories: {},
      keys: (side) => (side === 'user' ? this.userKeys : this.itemKeys) };
    for (const d of derived) {
      if (d.kind === 'stat') {
        t.stats[d.name] = { trainRows: readWhole(join(this.dir, `${d.source}.train-rows.bin`), 'f64') as Float64Array,
          values: readWhole(join(this.dir, `stat.${d.name}.bin`), 'f64') as Float64Array, fallback: m.statFallback[d.name] };
      } else t.histories[d.name] = this.gathers.get(d.name)!.gather.lists;
    }
    return t;
  }

  private encodersJson(): EncodersJson {
    const m = this.meta;
    const j: EncodersJson = { ...m.encoders, vocabularies: {}, stats: {}, history: {} };
    for (const owner of Object.keys(m.vocabs)) {
      j.vocabularies[owner] = { tokens: readStrings(join(this.dir, `vocab.${owner}.jsonl`)), hashBuckets: 0 };
    }
    for (const d of m.encoders.derived) {
      if (d.kind === 'stat') {
        const keys = d.source === 'user' ? this.userKeys : this.itemKeys;
        const counts = readWhole(join(this.dir, `${d.source}.train-rows.bin`), 'f64');
        const values = readWhole(join(this.dir, `stat.${d.name}.bin`), 'f64');
        const st = { keys: [] as string[], values: [] as number[], fallback: m.statFallback[d.name] };
        for (let e = 0; e < keys.length; e++) if (counts[e] > 0) (st.keys.push(keys[e]), st.values.push(values[e]));
        j.stats[d.name] = st;
      } else {
        const tokens = j.vocabularies[d.shareWith].tokens;
        const h = this.gathers.get(d.name)!.gather.lists;
        const perUser: [string, string[]][] = [];
        this.userKeys.forEach((key, u) => {
          const ids = h.ids.subarray(Math.max(h.start[u], h.start[u + 1] - d.maxLen), h.start[u + 1]);
          if (ids.length) perUser.push([key, Array.from(ids, (id) => (id >= 2 ? tokens[id - 2] : ''))]);
        });
        j.history[d.name] = Object.fromEntries(perUser);
      }
    }
    return j;
  }

  splitSize(split: SplitName): number {
    return this.meta.splits[split];
  }

  batches(split: SplitName, opts: BatchOptions): CacheBatchStream {
    if (typeof split !== 'string') throw new Error('a cached dataset streams whole splits (train, val, test), not row lists');
    this.checkRows(split);
    const o = { shuffle: true, seed: this.config.seed, dropLast: false, ...opts, chunkRows: this.config.cache?.chunkRows ?? 65536 };
    return new CacheBatchStream({ dir: this.dir, features: this.features, columns: this.meta.columns, histories: this.gathers,
      entityFiller: this.entityFiller, withWeight: this.meta.withWeight }, split, this.meta.splits[split], o);
  }

  trainItemCounts(): Float64Array {
    return readWhole(join(this.dir, 'item.train-rows.bin'), 'f64') as Float64Array;
  }

  keptValues(feature: string): number {
    const table = this.features.find((f) => f.name === feature)?.table;
    if (table === undefined) throw new Error(`no vocabulary for feature '${feature}'`);
    return this.meta.vocabs[table];
  }

  /** Mean label of a split, read in chunks. */
  labelRate(split: SplitName): number {
    this.checkRows(split);
    const n = this.meta.splits[split];
    const r = new ColumnReader(join(this.dir, rowFile(split, 'label')), 'f32');
    const buf = new Float32Array(1 << 16);
    let s = 0;
    try {
      for (let at = 0; at < n; at += buf.length) {
        const k = Math.min(buf.length, n - at);
        r.read(at, k, buf);
        for (let i = 0; i < k; i++) s += buf[i];
      }
    } finally {
      r.close();
    }
    return n ? s / n : NaN;
  }

  /** Checks a split's rows/ files once, before its first row is read, when the open left them unchecked. */
  private checkRows(split: SplitName): void {
    if (!this.unchecked.has(split)) return;
    const why = verifyFiles(this.dir, readManifest<CacheMeta>(this.dir)!.files, (name) => isRowFile(name, split));
    if (why) throw new Error(`data cache ${this.dir}: ${why}; delete the folder and it is built again`);
    this.unchecked.delete(split);
  }

  itemBatch(capacity: number): Batch {
    return allocBatch(this.features.filter((f) => f.source === 'item'), capacity);
  }

  fillItems(b: Batch, items: ArrayLike<number>, n = items.length): Batch {
    for (let i = 0; i < n; i++) b.item[i] = items[i];
    (this.itemFiller ??= new BatchFiller({ features: this.features.filter((f) => f.source === 'item'),
      tables: { ...this.tables, context: emptyTable(0) }, history: new Map(), label: new Float32Array(0),
      rowUser: new Int32Array(0), rowItem: new Int32Array(0) }, ['item'])).fillEntities(b, n);
    return n === b.label.length ? b : headOf(b, n);
  }
}

/** null when the folder holds a sound cache for this key; else 'missing' or why it cannot be used. */
function usable(dir: string, key: string, verify: boolean | 'entities'): string | null {
  let m: CacheManifest<CacheMeta> | null;
  try {
    m = readManifest<CacheMeta>(dir);
  } catch (e) {
    return `unreadable manifest (${(e as Error).message})`;
  }
  if (!m) return 'missing';
  if (m.version !== CACHE_VERSION) return `format version ${m.version}, this build reads ${CACHE_VERSION}`;
  if (m.key !== key) return `key ${m.key} differs from ${key}`;
  return verify ? verifyFiles(dir, m.files, verify === 'entities' ? (name) => !isRowFile(name) : undefined) : null;
}
