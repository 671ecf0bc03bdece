// encoders.bin from the fitted encoders as arrays (an out-of-core dataset's EncoderTables): the same bytes and the
// same encoders.json as writeEncodersBin writes from their JSON form, without that form's per-entity strings and
// Maps. Entities are handled by index: slot[e] is entity e's place in the side's entity table. Shape letters: E
// entities of one side, K entities in the side's table, U users, H history entries.
import type { EncoderTables, EntitySide, HistoryTable } from '../data/index.js';
import { asBytes, ENCODERS_META_VERSION, withEncodersBin, type BinHistory, type BinStat, type EncodersBinMeta } from './encoders-bin.js';

const RESERVED = 2;
const OOV = 1;

/** A side's entity table: its entities in table order and each entity's place (-1: not in the table). */
interface SideTable {
  order: number[];
  slot: Int32Array;
}

/** Writes encoders.bin at `binPath` from the fitted encoders' arrays; returns encoders.json's content. */
export function writeEncodersBinFromTables(t: EncoderTables, binPath: string, binFile: string): EncodersBinMeta {
  return withEncodersBin(binPath, (w) => {
    const vocabularies: EncodersBinMeta['vocabularies'] = {};
    for (const [name, v] of Object.entries(t.vocabularies)) vocabularies[name] = { hashBuckets: v.hashBuckets, table: w.table(v.tokens, `vocabulary '${name}'`) };
    const sides = entityTables(t);
    const entities: EncodersBinMeta['entities'] = {};
    for (const side of ['user', 'item'] as const) {
      const s = sides[side];
      if (!s?.order.length) continue;
      const keys = t.keys(side);
      const all = s.order.length === keys.length && s.order.every((e, i) => e === i);
      entities[side] = w.table(all ? keys : s.order.map((e) => keys[e]), `${side} entity keys`);
    }
    const stats: Record<string, BinStat> = {};
    const histories: Record<string, BinHistory> = {};
    for (const d of t.spec.derived) {
      const s = sides[d.source] ?? { order: [], slot: new Int32Array(0) };
      if (d.kind === 'stat') {
        const st = t.stats[d.name];
        const k = s.order.length;
        const present = new Uint32Array(Math.ceil(k / 32));
        const values = new Float64Array(k).fill(NaN);
        for (let e = 0; e < st.trainRows.length; e++) {
          if (!(st.trainRows[e] > 0)) continue;
          const at = s.slot[e];
          present[at >>> 5] |= 1 << (at & 31);
          values[at] = st.values[e];
        }
        stats[d.name] = { source: d.source, fallback: st.fallback, present: w.put(asBytes(present)), values: w.put(asBytes(values)) };
      } else {
        const v = t.vocabularies[d.shareWith];
        if (!v) throw new Error(`history '${d.name}': no vocabulary '${d.shareWith}' among the encoders' tables`);
        const h = historyArrays(t.histories[d.name], d.maxLen, v.tokens, s, d.name);
        histories[d.name] = { source: d.source, vocabulary: d.shareWith, offsets: w.put(asBytes(h.offsets)), ids: w.put(asBytes(h.ids)), length: h.ids.length };
      }
    }
    const { name, keys, features, derived } = t.spec;
    return { version: ENCODERS_META_VERSION, name, keys, features, derived, scalers: t.scalers, binary: { file: binFile, bytes: w.at },
      vocabularies, entities, stats, histories };
  });
}

/**
 * Per side, the entities with a statistic or a history, in the order the JSON form lists them: by derived feature;
 * a statistic's entities in entity order; a history's users in JavaScript's property order of its per-user object
 * (keys that are array indices, ascending by value, then the others in entity order).
 */
function entityTables(t: EncoderTables): Partial<Record<EntitySide, SideTable>> {
  const out: Partial<Record<EntitySide, SideTable>> = {};
  const sideOf = (side: EntitySide, n: number): SideTable => (out[side] ??= { order: [], slot: new Int32Array(n).fill(-1) });
  for (const d of t.spec.derived) {
    if (d.kind === 'stat') {
      const rows = t.stats[d.name].trainRows;
      const s = sideOf(d.source, rows.length);
      for (let e = 0; e < rows.length; e++) if (rows[e] > 0 && s.slot[e] < 0) s.slot[e] = s.order.push(e) - 1;
    } else {
      const { start } = t.histories[d.name];
      const s = sideOf(d.source, start.length - 1);
      const fresh: number[] = [];
      for (let u = 0; u + 1 < start.length; u++) if (start[u + 1] > start[u] && s.slot[u] < 0) fresh.push(u);
      if (!fresh.length) continue;
      const keys = t.keys(d.source);
      const index = fresh.filter((u) => isArrayIndex(keys[u])).sort((a, b) => Number(keys[a]) - Number(keys[b]));
      for (const u of index.length ? [...index, ...fresh.filter((x) => !isArrayIndex(keys[x]))] : fresh) s.slot[u] = s.order.push(u) - 1;
    }
  }
  return out;
}

/** A key JavaScript orders first among an object's properties: an array index, 0 .. 2^32 - 2 in canonical form. */
function isArrayIndex(k: string): boolean {
  if (k.length === 0 || k.length > 10 || (k.length > 1 && k.charCodeAt(0) === 48)) return false;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return Number(k) <= 0xfffffffe;
}

/**
 * Each user's last maxLen history items as CSR over the side's entity table. An id keeps its value when it names a
 * kept token, and becomes OOV otherwise (reserved ids, hash buckets, an empty token): what the JSON form's round trip
 * through the token text gives.
 */
function historyArrays(h: HistoryTable, maxLen: number, tokens: readonly string[], s: SideTable, name: string): { offsets: Uint32Array; ids: Int32Array } {
  const { start, ids: all } = h;
  const k = s.order.length;
  const from = (u: number): number => Math.max(start[u], start[u + 1] - maxLen);
  const offsets = new Uint32Array(k + 1);
  for (let at = 0; at < k; at++) {
    const u = s.order[at];
    offsets[at + 1] = offsets[at] + (u + 1 < start.length ? start[u + 1] - from(u) : 0);
  }
  let counted = 0;
  for (let u = 0; u + 1 < start.length; u++) counted += start[u + 1] - from(u);
  if (counted > 0xffffffff) throw new Error(`history '${name}': ${counted} entries exceed the u32 offsets`);
  const total = offsets[k];
  if (counted !== total) throw new Error(`history '${name}': ${counted - total} entries belong to users outside the entity table`);
  const top = RESERVED + tokens.length;
  const empty = tokens.indexOf('') + RESERVED;
  const ids = new Int32Array(total);
  for (let at = 0; at < k; at++) {
    const u = s.order[at];
    for (let i = from(u), o = offsets[at]; i < start[u + 1]; i++, o++) {
      const id = all[i];
      ids[o] = id >= RESERVED && id < top && id !== empty ? id : OOV;
    }
  }
  return { offsets, ids };
}
