// How the Redis item store lays a model's table out in Redis, single node or Redis Cluster alike (format
// prerank-redis-items/2). Items are split into B buckets by a hash of their id; every key of bucket b carries the
// hash tag {tag_b}, so a bucket lives in one cluster slot and is read with one MGET, whatever node serves it. The
// tags are chosen so that bucket b's slot falls in the b-th of B equal ranges of the 16,384 slots: the buckets are
// spread evenly over any cluster whose masters own contiguous equal slot ranges (what `redis-cli --cluster create`
// and rebalancing produce). Each bucket has a marker key written after its items: a read that finds its bucket's
// marker gone knows that bucket's data is gone (its node restarted empty), in the same command.
//   <prefix>:<model>:meta              JSON Meta, written last (readers never see half a table)
//   <prefix>:<model>:{<tag_b>}:m        bucket b's marker
//   <prefix>:<model>:{<tag_b>}:i:<id>   the item's stored bytes (rowBlob: float32, float16/bfloat16, int8 + scale)
import { ITEM_DTYPES, type ItemDType, type ItemTable } from '../../export/item-table.js';

export const FORMAT = 'prerank-redis-items/2';
export const SLOTS = 16384;
/** More buckets cost a search for their tags at open (~B^2 CRC16s) and more commands per request. */
export const MAX_BUCKETS = 1024;

export interface Meta {
  format: typeof FORMAT;
  dim: number;
  dtype: ItemDType;
  size: number;
  buckets: number;
}

const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** The Redis Cluster slot of a hash tag (CRC16/XMODEM of its bytes mod 16384; tags here are ASCII). */
export function slotOf(tag: string): number {
  let crc = 0;
  for (let i = 0; i < tag.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ tag.charCodeAt(i)) & 0xff];
  return crc % SLOTS;
}

/** Bucket of an item id: FNV-1a over its UTF-16 code units, mod B. */
export function bucketOf(id: string, buckets: number): number {
  if (buckets === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % buckets;
}

const tagCache = new Map<number, string[]>();

/** Tag of each bucket: `b`, or `b.n` with the least n whose slot lands in bucket b's slot range. */
export function bucketTags(buckets: number): string[] {
  if (!(Number.isInteger(buckets) && buckets >= 1 && buckets <= MAX_BUCKETS)) throw new Error(`redis store: buckets must be an integer in 1..${MAX_BUCKETS}, got ${buckets}`);
  const hit = tagCache.get(buckets);
  if (hit) return hit;
  const tags: string[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * SLOTS) / buckets), hi = Math.floor(((b + 1) * SLOTS) / buckets);
    let tag = String(b);
    for (let n = 0; slotOf(tag) < lo || slotOf(tag) >= hi; n++) tag = `${b}.${n}`;
    tags.push(tag);
  }
  tagCache.set(buckets, tags);
  return tags;
}

/** Key names of one model's table. */
export class Layout {
  readonly tags: string[];

  /** space: `<prefix>:<model>:`. */
  constructor(readonly space: string, readonly buckets: number) {
    this.tags = bucketTags(buckets);
  }

  get metaKey(): string {
    return `${this.space}meta`;
  }

  marker(b: number): string {
    return `${this.space}{${this.tags[b]}}:m`;
  }

  item(b: number, id: string): string {
    return `${this.space}{${this.tags[b]}}:i:${id}`;
  }

  bucketOf(id: string): number {
    return bucketOf(id, this.buckets);
  }
}

/** The part of an ioredis client (Redis or Cluster) publishing needs. */
export interface Writer {
  mset(...kv: (string | Buffer)[]): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
}

/** Reads and checks a meta key's JSON (null: absent, or an older format to publish again). */
export function parseMeta(raw: string | null, key: string): Meta | null {
  if (raw === null) return null;
  let m: Partial<Meta>;
  try {
    m = JSON.parse(raw);
  } catch {
    throw new Error(`${key} is not JSON: '${raw.slice(0, 80)}'`);
  }
  if (m.format !== FORMAT) return null;
  const bad = !(Number.isInteger(m.dim) && m.dim! > 0) ? 'dim' : !ITEM_DTYPES.includes(m.dtype!) ? 'dtype'
    : !(Number.isInteger(m.size) && m.size! >= 0) ? 'size' : !(Number.isInteger(m.buckets) && m.buckets! >= 1 && m.buckets! <= MAX_BUCKETS) ? 'buckets' : null;
  if (bad) throw new Error(`${key}: field '${bad}' is invalid (${JSON.stringify(m[bad])})`);
  return m as Meta;
}

/** Rows of the table by bucket (only buckets in `only`, when given). */
function rowsByBucket(t: ItemTable, layout: Layout, only?: ReadonlySet<number>): Map<number, number[]> {
  const by = new Map<number, number[]>();
  for (let r = 0; r < t.ids.size; r++) {
    const b = layout.bucketOf(t.ids.keyAt(r));
    if (only && !only.has(b)) continue;
    let rows = by.get(b);
    if (!rows) by.set(b, (rows = []));
    rows.push(r);
  }
  return by;
}

/** Runs tasks with at most `width` in flight; the first failure rejects. */
async function bounded(tasks: (() => Promise<unknown>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

/**
 * Writes the table's items (one MSET per bucket and up to `chunk` items: every key of it in one slot), then each
 * bucket's marker, then the meta key (last). `only`: rewrite just those buckets (their data was lost) and the meta key.
 */
export async function publishTable(w: Writer, layout: Layout, t: ItemTable, o: { only?: ReadonlySet<number>; chunk?: number } = {}): Promise<Meta> {
  const chunk = o.chunk ?? 500;
  const by = rowsByBucket(t, layout, o.only);
  const writes: (() => Promise<unknown>)[] = [];
  for (const [b, rows] of by) {
    for (let at = 0; at < rows.length; at += chunk) {
      const part = rows.slice(at, at + chunk);
      writes.push(() => w.mset(...part.flatMap((r) => [layout.item(b, t.ids.keyAt(r)), rowBlob(t, r)])));
    }
  }
  // 32 commands in flight: enough to keep every node of a cluster busy, little memory held in unsent blobs
  await bounded(writes, 32);
  const buckets = o.only ? [...o.only] : Array.from({ length: layout.buckets }, (_, b) => b);
  await bounded(buckets.map((b) => () => w.set(layout.marker(b), '1')), 32);
  const meta: Meta = { format: FORMAT, dim: t.dim, dtype: t.dtype, size: t.ids.size, buckets: layout.buckets };
  await w.set(layout.metaKey, JSON.stringify(meta));
  return meta;
}

/** One row as a standalone blob (what the Redis store keeps per item). */
export function rowBlob(t: ItemTable, row: number): Buffer {
  const { dim } = t;
  const bytes = t.data.BYTES_PER_ELEMENT;
  const src = Buffer.from(t.data.buffer, t.data.byteOffset + row * dim * bytes, dim * bytes);
  if (t.dtype !== 'int8') return Buffer.from(src);
  const out = Buffer.alloc(4 + dim);
  out.writeFloatLE(t.scales![row], 0);
  src.copy(out, 4);
  return out;
}
