// A bundle's encoders in binary form: encoders.json keeps what is small (feature spec, key columns, scalers, the
// statistics' fallbacks, and where each table sits), encoders.bin holds every vocabulary, the per-entity key tables,
// statistics and histories, read in place at serving time (encoders-bin-read.ts). Byte layout: docs/SERVING.md,
// "Bundle format". Shape letters: N keys of a table, E entities of one side, H history entries.
import { closeSync, openSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import type { EncodersJson, EncodersSpec, FeatureEncoders, ScalerJson, Vocabulary } from '../data/index.js';
import { align8, buildStringTable, type StringTableDesc } from './string-table.js';
import { ENCODERS_LAYOUT, ENCODERS_MAGIC, ENCODERS_META_VERSION, HEADER_BYTES, type BinHistory, type BinStat, type EncodersBinMeta, type Side } from './encoders-bin-format.js';

export * from './encoders-bin-format.js';

/** Appends 8-byte aligned sections to a file, tracking where each starts. */
export class SectionWriter {
  private readonly fd: number;
  at = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  /** Writes bytes (zero-padded to 8) and returns their offset. */
  put(bytes: Uint8Array): number {
    const start = this.at;
    for (let done = 0; done < bytes.byteLength;) done += writeSync(this.fd, bytes, done, bytes.byteLength - done);
    this.at += bytes.byteLength;
    const pad = align8(this.at) - this.at;
    if (pad) writeSync(this.fd, new Uint8Array(pad));
    this.at += pad;
    return start;
  }

  /** Writes `keys` as a string table; `what` names it in errors. */
  table(keys: readonly string[], what: string): StringTableDesc {
    const t = buildStringTable(keys, what);
    return { at: this.put(t.bytes), ...t.desc };
  }

  close(): void {
    closeSync(this.fd);
  }
}

export const asBytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Opens encoders.bin at `binPath`, writes its header, runs `body` over it and closes it. */
export function withEncodersBin<T>(binPath: string, body: (w: SectionWriter) => T): T {
  if (endianness() !== 'LE') throw new Error('binary encoders are written little-endian: this host is big-endian');
  const w = new SectionWriter(binPath);
  try {
    const header = new Uint8Array(HEADER_BYTES);
    Buffer.from(header.buffer).write(ENCODERS_MAGIC, 0, 'latin1');
    new DataView(header.buffer).setUint32(8, ENCODERS_LAYOUT, true);
    w.put(header);
    return body(w);
  } finally {
    w.close();
  }
}

/** Writes encoders.bin at `binPath` from fitted encoders; returns encoders.json's content. */
export function writeEncodersBin(enc: FeatureEncoders, binPath: string, binFile: string): EncodersBinMeta {
  const j = enc.toJSON();
  return withEncodersBin(binPath, (w) => {
    const vocabularies: EncodersBinMeta['vocabularies'] = {};
    for (const [name, v] of Object.entries(j.vocabularies)) vocabularies[name] = { hashBuckets: v.hashBuckets, table: w.table(v.tokens, `vocabulary '${name}'`) };
    const keys = entityKeys(j);
    const entities: EncodersBinMeta['entities'] = {};
    for (const side of ['user', 'item'] as const) if (keys[side].size) entities[side] = w.table([...keys[side].keys()], `${side} entity keys`);
    const stats: Record<string, BinStat> = {};
    const histories: Record<string, BinHistory> = {};
    for (const d of j.derived) {
      const at = keys[d.source];
      if (d.kind === 'stat') {
        const st = j.stats[d.name];
        const present = new Uint32Array(Math.ceil(at.size / 32));
        const values = new Float64Array(at.size).fill(NaN);
        st.keys.forEach((k, i) => {
          const e = at.get(k)!;
          present[e >>> 5] |= 1 << (e & 31);
          values[e] = st.values[i] ?? NaN; // JSON wrote NaN as null; both scale to the fill value
        });
        stats[d.name] = { source: d.source, fallback: st.fallback, present: w.put(asBytes(present)), values: w.put(asBytes(values)) };
      } else {
        const h = historyArrays(j.history[d.name] ?? {}, enc.vocabulary(d.name), d.name, at);
        histories[d.name] = { source: d.source, vocabulary: d.shareWith, offsets: w.put(asBytes(h.offsets)), ids: w.put(asBytes(h.ids)), length: h.ids.length };
      }
    }
    const { name, keys: keyCols, features, derived, scalers } = j;
    return { version: ENCODERS_META_VERSION, name, keys: keyCols, features, derived, scalers, binary: { file: binFile, bytes: w.at },
      vocabularies, entities, stats, histories };
  });
}

/** Per side, the keys of every entity with a statistic or a history, in first-seen order -> entity index. */
function entityKeys(j: EncodersJson): Record<Side, Map<string, number>> {
  const out: Record<Side, Map<string, number>> = { user: new Map(), item: new Map() };
  const add = (side: Side, k: string) => {
    const m = out[side];
    if (!m.has(k)) m.set(k, m.size);
  };
  for (const d of j.derived) {
    if (d.kind === 'stat') for (const k of j.stats[d.name].keys) add(d.source, k);
    else for (const k of Object.keys(j.history[d.name] ?? {})) add(d.source, k);
  }
  return out;
}

/** A history as CSR over the side's entities, items resolved to ids of the shared vocabulary ('' and unknown: OOV). */
function historyArrays(perUser: Record<string, string[]>, vocab: Vocabulary, name: string, at: Map<string, number>): { offsets: Uint32Array; ids: Int32Array } {
  const lengths = new Uint32Array(at.size);
  let total = 0;
  for (const [k, items] of Object.entries(perUser)) {
    lengths[at.get(k)!] = items.length;
    total += items.length;
  }
  if (total > 0xffffffff) throw new Error(`history '${name}': ${total} entries exceed the u32 offsets`);
  const offsets = new Uint32Array(at.size + 1);
  for (let e = 0; e < at.size; e++) offsets[e + 1] = offsets[e] + lengths[e];
  const ids = new Int32Array(total);
  for (const [k, items] of Object.entries(perUser)) {
    const e = at.get(k)!;
    for (let i = 0; i < items.length; i++) ids[offsets[e] + i] = vocab.peek(items[i]);
  }
  return { offsets, ids };
}
