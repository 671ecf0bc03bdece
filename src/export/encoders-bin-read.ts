// Reads a bundle's binary encoders (encoders-bin.ts): checks encoders.json's shape and that every table it names
// lies inside encoders.bin, then serves lookups from the bytes in place. Nothing is parsed per key at load, so the
// load time does not grow with the vocabularies; small tables of a file read lazily are copied into memory.
import { z } from 'zod';
import { FeatureEncoders } from '../data/encoders.js';
import type { EntityFeatures, HistoryJson, StatJson } from '../data/entity-features.js';
import { Scaler, type ScalerJson } from '../data/scaler.js';
import { Vocabulary } from '../data/vocabulary.js';
import { MemoryBytes, type ByteSource } from './byte-source.js';
import { ENCODERS_LAYOUT, ENCODERS_MAGIC, ENCODERS_META_VERSION, HEADER_BYTES, type EncodersBinMeta, type Side } from './encoders-bin-format.js';
import { StringTable, tableLayout, type StringTableDesc } from './string-table.js';

/** Key tables of at most this many bytes are copied into memory when the file is read lazily (default). */
export const SMALL_TABLE = 1 << 20;

const offset = z.number().int().min(0);
const TableSchema = z.object({ at: offset, count: offset, capacity: z.number().int().min(8), blobBytes: offset })
  .refine((t) => (t.capacity & (t.capacity - 1)) === 0 && t.capacity > t.count, 'capacity must be a power of two above count');
const SideSchema = z.enum(['user', 'item']);
const MetaSchema = z.object({
  version: z.literal(ENCODERS_META_VERSION),
  name: z.string(),
  keys: z.object({ user: z.string(), item: z.string(), usersKey: z.string().optional(), itemsKey: z.string().optional() }),
  features: z.array(z.object({ name: z.string(), kind: z.string() }).passthrough()),
  derived: z.array(z.object({ name: z.string(), kind: z.string() }).passthrough()),
  scalers: z.record(z.string(), z.object({ kind: z.string(), fill: z.number(), shift: z.number(), scale: z.number() })),
  binary: z.object({ file: z.string(), bytes: offset }),
  vocabularies: z.record(z.string(), z.object({ hashBuckets: offset, table: TableSchema })),
  entities: z.object({ user: TableSchema.optional(), item: TableSchema.optional() }),
  stats: z.record(z.string(), z.object({ source: SideSchema, fallback: z.number(), present: offset, values: offset })),
  histories: z.record(z.string(), z.object({ source: SideSchema, vocabulary: z.string(), offsets: offset, ids: offset, length: offset })),
});

export class EncodersFormatError extends Error {}

/** Parses encoders.json of a binary bundle; `where` prefixes errors (the file's path). */
export function parseEncodersMeta(j: unknown, where: string): EncodersBinMeta {
  const version = (j as { version?: unknown } | null)?.version;
  if (version !== ENCODERS_META_VERSION) throw new EncodersFormatError(`${where}: encoders version ${String(version)}, this reader expects ${ENCODERS_META_VERSION} (binary tables beside it)`);
  const r = MetaSchema.safeParse(j);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new EncodersFormatError(`${where}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data as unknown as EncodersBinMeta;
}

/**
 * Binary encoders over `src` (encoders.bin's bytes). Throws EncodersFormatError naming the table that does not fit.
 * `copyBelow`: key tables up to this many bytes of a lazily read file are copied into memory (default SMALL_TABLE).
 */
export function readEncodersBin(meta: EncodersBinMeta, src: ByteSource, where: string, copyBelow = SMALL_TABLE): FeatureEncoders {
  checkHeader(meta, src, where);
  const within = (what: string, at: number, bytes: number) => {
    if (at % 8 !== 0 || at < HEADER_BYTES || at + bytes > meta.binary.bytes) {
      throw new EncodersFormatError(`${where}: ${what} (${bytes} bytes at ${at}) does not lie 8-aligned inside its ${meta.binary.bytes} bytes`);
    }
  };
  const table = (d: StringTableDesc, what: string): StringTable => {
    const bytes = tableLayout(d).bytes;
    within(what, d.at, bytes);
    if (src.lazy && bytes <= copyBelow) {
      return new StringTable(new MemoryBytes(src.read(d.at, new Uint8Array(bytes))), { ...d, at: 0 }, `${where} ${what}`);
    }
    return new StringTable(src, d, `${where} ${what}`);
  };
  const vocabs = new Map<string, Vocabulary>();
  for (const [name, v] of Object.entries(meta.vocabularies)) vocabs.set(name, Vocabulary.over(table(v.table, `vocabulary '${name}'`), v.hashBuckets));
  const entities: Partial<Record<Side, StringTable>> = {};
  for (const side of ['user', 'item'] as const) {
    const d = meta.entities[side];
    if (d) entities[side] = table(d, `${side} entity keys`);
  }
  const count = (side: Side, what: string): number => {
    const t = entities[side];
    if (!t) throw new EncodersFormatError(`${where}: ${what} needs ${side} entity keys, and encoders.json has none`);
    return t.size;
  };
  for (const [name, s] of Object.entries(meta.stats)) {
    const e = count(s.source, `stat '${name}'`);
    within(`stat '${name}' presence bits`, s.present, 4 * Math.ceil(e / 32));
    within(`stat '${name}' values`, s.values, 8 * e);
  }
  for (const [name, h] of Object.entries(meta.histories)) {
    const e = count(h.source, `history '${name}'`);
    within(`history '${name}' offsets`, h.offsets, 4 * (e + 1));
    within(`history '${name}' ids`, h.ids, 4 * h.length);
    if (!vocabs.has(h.vocabulary)) throw new EncodersFormatError(`${where}: history '${name}' names vocabulary '${h.vocabulary}', which encoders.json does not list`);
  }
  const scalers = new Map(Object.entries(meta.scalers).map(([k, v]) => [k, Scaler.fromJSON(v as ScalerJson)]));
  const spec = { name: meta.name, keys: meta.keys, features: meta.features, derived: meta.derived };
  return FeatureEncoders.over(spec, vocabs, scalers, new BinEntityFeatures(meta, src, entities, where));
}

function checkHeader(meta: EncodersBinMeta, src: ByteSource, where: string): void {
  if (src.byteLength !== meta.binary.bytes) throw new EncodersFormatError(`${where}: ${meta.binary.file} has ${src.byteLength} bytes, encoders.json says ${meta.binary.bytes} (truncated or replaced)`);
  if (src.byteLength < HEADER_BYTES) throw new EncodersFormatError(`${where}: ${meta.binary.file} is shorter than its header`);
  const head = src.read(0, new Uint8Array(HEADER_BYTES));
  if (String.fromCharCode(...head.subarray(0, 8)) !== ENCODERS_MAGIC) throw new EncodersFormatError(`${where}: ${meta.binary.file} does not start with ${ENCODERS_MAGIC}`);
  const layout = new DataView(head.buffer).getUint32(8, true);
  if (layout !== ENCODERS_LAYOUT) throw new EncodersFormatError(`${where}: ${meta.binary.file} has layout ${layout}; this prerank reads layout ${ENCODERS_LAYOUT} (re-export the bundle)`);
}

const EMPTY = new Int32Array(0);

/** Statistics and histories read in place; the last entity found per side is remembered (a request asks for a user's
 * statistics and history in a row). */
class BinEntityFeatures implements EntityFeatures {
  private readonly last: Record<Side, { key: string | null; at: number }> = { user: { key: null, at: -1 }, item: { key: null, at: -1 } };

  constructor(private readonly meta: EncodersBinMeta, private readonly src: ByteSource,
    private readonly entities: Partial<Record<Side, StringTable>>, private readonly where: string) {}

  private find(side: Side, key: string): number {
    const m = this.last[side];
    if (m.key !== key) {
      m.at = this.entities[side]?.indexOf(key) ?? -1;
      m.key = key;
    }
    return m.at;
  }

  stat(name: string, key: string): number | undefined {
    const s = this.meta.stats[name];
    const e = this.find(s.source, key);
    if (e < 0 || ((this.src.u32(s.present + 4 * (e >>> 5)) >>> (e & 31)) & 1) === 0) return undefined;
    return this.src.f64(s.values + 8 * e);
  }

  fallback(name: string): number {
    return this.meta.stats[name].fallback;
  }

  /** The statistics and histories as the fitted JSON has them: entities in table order, histories as item tokens. */
  tables(vocabulary: (feature: string) => Vocabulary): { stats: Record<string, StatJson>; history: HistoryJson } {
    const stats: Record<string, StatJson> = {};
    for (const [name, s] of Object.entries(this.meta.stats)) {
      const keys = this.entities[s.source]!;
      const st: StatJson = (stats[name] = { keys: [], values: [], fallback: s.fallback });
      for (let e = 0; e < keys.size; e++) {
        if (((this.src.u32(s.present + 4 * (e >>> 5)) >>> (e & 31)) & 1) === 0) continue;
        st.keys.push(keys.keyAt(e));
        st.values.push(this.src.f64(s.values + 8 * e));
      }
    }
    const history: HistoryJson = {};
    for (const [name, h] of Object.entries(this.meta.histories)) {
      const keys = this.entities[h.source]!;
      const vocab = vocabulary(name);
      const perUser: Record<string, string[]> = (history[name] = {});
      for (let e = 0; e < keys.size; e++) {
        const ids = this.history(name, keys.keyAt(e), Infinity);
        if (ids.length) perUser[keys.keyAt(e)] = Array.from(ids, (id) => vocab.token(id) ?? '');
      }
    }
    return { stats, history };
  }

  history(name: string, key: string, maxLen: number): Int32Array {
    const h = this.meta.histories[name];
    const e = this.find(h.source, key);
    if (e < 0) return EMPTY;
    const a = this.src.u32(h.offsets + 4 * e), b = this.src.u32(h.offsets + 4 * e + 4);
    if (!(a <= b && b <= h.length)) throw new EncodersFormatError(`${this.where}: corrupt history '${name}' (entity ${e} spans ${a}..${b} of ${h.length})`);
    const from = Math.max(a, b - maxLen);
    const out = new Int32Array(b - from);
    this.src.read(h.ids + 4 * from, new Uint8Array(out.buffer));
    return out;
  }
}
