// Item attributes for people to read (titles, genres...): the text of the items file's own columns, per item key, so
// a bundle can show what an item is (the model explorer page). Not features: nothing here is encoded or scored.
import { readRows, ident } from './duck-read.js';
import { openDuckDB } from './duck-db.js';
import { fileColumns } from './file-columns.js';
import { loadTable, type SqlType } from './duck-source.js';
import type { DataConfig } from './spec.js';

export interface ItemAttributes {
  /** Column names of the items file, in file order (without the key and 0/1 flag columns). */
  columns: string[];
  /** Per item key: one value per column (null: empty), each at most `maxChars` characters. */
  values: Map<string, (string | null)[]>;
}

export interface ItemAttributeOptions {
  /** Columns kept, the first ones of the file (default 8). */
  maxColumns?: number;
  /** Characters kept of a value (default 200). */
  maxChars?: number;
  /**
   * Attributes whose text would take more than this many bytes (estimated in DuckDB before any row is read, scaled to
   * the keys asked for) are not read: the answer says why instead. Default: unlimited.
   */
  maxBytes?: number;
}

/** Why no attributes were read (too large for maxBytes). */
export interface SkippedAttributes {
  skipped: string;
}

/**
 * The attributes of the given item keys from the data config's items file, or null when the config has none. The
 * flag columns of a sequence feature (ML-100K's 19 genre columns) are left out: the feature's name stands for them.
 */
export async function readItemAttributes(cfg: DataConfig, keys: readonly string[], o: ItemAttributeOptions = {}): Promise<ItemAttributes | SkippedAttributes | null> {
  const src = cfg.sources.items;
  const key = src?.key ?? cfg.keys.item;
  if (!src) return null;
  const maxColumns = o.maxColumns ?? 8, maxChars = o.maxChars ?? 200;
  const flags = new Set(cfg.features.flatMap((f) => (f.kind === 'sequence' ? f.flagColumns ?? [] : [])));
  const db = await openDuckDB(':memory:', cfg.duckdb);
  const con = await db.connect();
  try {
    const all = await fileColumns(con, src);
    if (!all.includes(key)) throw new Error(`${src.path}: no column '${key}' (the items key); columns: ${all.join(', ')}`);
    const columns = all.filter((c) => c !== key && !flags.has(c)).slice(0, maxColumns);
    const wanted = new Map<string, SqlType>([key, ...columns].map((c) => [c, 'VARCHAR']));
    const t = await loadTable(con, src, 'attrs_t', all, wanted);
    if (o.maxBytes !== undefined) {
      // the JSON's size without reading the rows into JS: every value's characters plus quotes and separators
      const chars = [key, ...columns].map((c) => `coalesce(least(length(${ident(c)}), ${maxChars}), 0) + 4`).join(' + ');
      const [[rows, bytes]] = await readRows(con, `SELECT count(*), coalesce(sum(${chars}), 0) FROM ${t.table}`);
      const estimate = Math.round(Number(bytes) * Math.min(1, keys.length / Math.max(1, Number(rows))));
      if (estimate > o.maxBytes) {
        return { skipped: `item attributes of ${keys.length} items would take about ${estimate} bytes of JSON, more than ${o.maxBytes}: not written` };
      }
    }
    // only the rows of the keys asked for reach JS (a 10k-item bundle of a 10M-item catalogue reads 10k rows)
    await con.run('CREATE TEMP TABLE attrs_keys (k VARCHAR)');
    const app = await con.createAppender('attrs_keys');
    for (const k of keys) {
      app.appendVarchar(k);
      app.endRow();
    }
    app.flushSync();
    app.closeSync();
    const rows = await readRows(con, `SELECT ${[key, ...columns].map(ident).join(', ')} FROM ${t.table} ` +
      `WHERE ${ident(key)} IN (SELECT k FROM attrs_keys) ORDER BY rowid`);
    const byKey = new Map<string, (string | null)[]>();
    for (const [k, ...vals] of rows) {
      if (k === null || byKey.has(String(k))) continue; // the first row of a key, as the ingest keeps it
      byKey.set(String(k), vals.map((v) => (v === null || v === '' ? null : String(v).slice(0, maxChars))));
    }
    const values = new Map<string, (string | null)[]>();
    for (const k of keys) {
      const v = byKey.get(k);
      if (v) values.set(k, v);
    }
    return { columns, values };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}
