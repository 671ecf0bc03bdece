// Builds a data cache folder: DuckDB (a database file in the folder, spilling beyond its memory limit) stages the
// sources, fits the encoders (sql-fit.ts, sql-history.ts) and encodes every row; the rows stream out chunk by chunk
// into one binary file per column and split. Train rows are written in a seeded hash order (a shuffle done once, on
// disk, by DuckDB's sort), val and test rows in row order. JavaScript holds entity-sized arrays, never row-sized ones.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ColumnSink, FileSink, ROWS_DIR, rowFile, type DType, type FileEntry, type TypedColumn } from './column-cache.js';
import { openDuckDB } from './duck-db.js';
import type { EncodedTable } from './encode-table.js';
import { featureInfoOf, type EncodersJson, type FeatureInfo } from './encoders.js';
import { stageIngest, type IngestReport, type StagedIngest } from './ingest.js';
import { fitInDuckDB, sparseKey, type Side, type SqlFit } from './sql-fit.js';
import { fitHistories, type SqlHistory } from './sql-history.js';
import type { DataConfig } from './spec.js';
import { SPLIT_NAMES, type SplitName } from './split.js';

export interface RowColumn {
  name: string;
  dtype: DType;
}

export interface CacheMeta {
  name: string;
  rows: number;
  splits: Record<SplitName, number>;
  entities: Record<Side, number>;
  features: FeatureInfo[];
  /** Per-row columns of every split: rows/<split>.<name>.bin. */
  columns: RowColumn[];
  /** Encoded entity features by kind: <side>.<name>.bin (sequences: .offsets.bin and .ids.bin). */
  entity: Record<Side, { sparse: string[]; dense: string[]; sequence: string[] }>;
  history: { name: string; maxLen: number; causal: boolean; positives: number }[];
  /** The encoders' JSON without vocabularies, stats and histories (files beside it), and each vocabulary's size. */
  encoders: EncodersJson;
  vocabs: Record<string, number>;
  statFallback: Record<string, number>;
  withWeight: boolean;
  report: IngestReport;
  timings: { ingest: number; fit: number; write: number };
}

/** DuckDB's memory limit while building, unless set: what it holds beyond spills to the cache folder. */
const BUILD_MEMORY = '2.5GB';

/** Builds the cache into `dir` (an empty folder); returns its manifest's meta and files. */
export async function buildCache(cfg: DataConfig, dir: string, chunkRows: number): Promise<{ meta: CacheMeta; files: Record<string, FileEntry> }> {
  const t0 = performance.now();
  const memoryLimit = cfg.duckdb?.memoryLimit ?? (process.env.PRERANK_DUCKDB_MEMORY || BUILD_MEMORY);
  const db = await openDuckDB(join(dir, 'work.duckdb'), { ...cfg.duckdb, memoryLimit, tempDirectory: join(dir, 'work.tmp') });
  const con = await db.connect();
  try {
    const st = await stageIngest(con, cfg);
    const t1 = performance.now();
    const fit = await fitInDuckDB(con, cfg, st);
    const hist = await fitHistories(con, cfg, st, fit);
    const t2 = performance.now();
    const files: Record<string, FileEntry> = {};
    const put = (name: string, data: TypedColumn): void => {
      const s = new FileSink(join(dir, name));
      s.write(data);
      files[name] = s.close();
    };
    const entity = { user: writeEntity(put, 'user', fit.tables.user), item: writeEntity(put, 'item', fit.tables.item) };
    for (const side of ['user', 'item'] as const) {
      put(`${side}.train-rows.bin`, fit.trainRows[side]);
      files[`${side}.keys.jsonl`] = await writeStrings(con, join(dir, `${side}.keys.jsonl`), `SELECT k FROM ${side}_keys ORDER BY ent`);
    }
    for (const [owner, v] of fit.vocabs) {
      files[`vocab.${owner}.jsonl`] = await writeStrings(con, join(dir, `vocab.${owner}.jsonl`), `SELECT token FROM ${v.table} ORDER BY id`);
    }
    for (const [name, s] of fit.stats) put(`stat.${name}.bin`, s.perEntity);
    if (hist.length) put('history.start.bin', hist[0].start);
    for (const h of hist) put(`history.${h.name}.ids.bin`, h.ids);
    const { columns, splits } = await writeRows(con, cfg, st, fit, hist, dir, files, chunkRows);
    const vocabs = Object.fromEntries([...fit.vocabs].map(([k, v]) => [k, v.tokens]));
    const encoders: EncodersJson = { version: 1, name: cfg.name, keys: { user: cfg.keys.user, item: cfg.keys.item,
      usersKey: cfg.sources.users?.key, itemsKey: cfg.sources.items?.key }, features: cfg.features, derived: cfg.derived,
      vocabularies: {}, scalers: Object.fromEntries([...fit.scalers].map(([k, s]) => [k, s.toJSON()])), stats: {}, history: {} };
    const meta: CacheMeta = {
      name: cfg.name, rows: st.rows.rows, splits, entities: { user: fit.trainRows.user.length, item: fit.trainRows.item.length },
      features: featureInfoOf(cfg.features, cfg.derived, (t) => vocabs[t] + 2), columns, entity,
      history: hist.map((h) => ({ name: h.name, maxLen: h.maxLen, causal: h.causal, positives: h.ids.length })),
      encoders, vocabs, statFallback: Object.fromEntries([...fit.stats].map(([k, s]) => [k, s.fallback])),
      withWeight: !!st.rows.weight, report: { ...st.report, seconds: (t1 - t0) / 1000 },
      timings: { ingest: (t1 - t0) / 1000, fit: (t2 - t1) / 1000, write: (performance.now() - t2) / 1000 },
    };
    return { meta, files };
  } finally {
    con.closeSync();
    db.closeSync();
    rmSync(join(dir, 'work.duckdb'), { force: true });
    rmSync(join(dir, 'work.duckdb.wal'), { force: true });
    rmSync(join(dir, 'work.tmp'), { recursive: true, force: true });
  }
}

function writeEntity(put: (name: string, d: TypedColumn) => void, side: Side, t: EncodedTable): CacheMeta['entity'][Side] {
  for (const [name, v] of t.sparse) put(`${side}.${name}.bin`, v);
  for (const [name, v] of t.dense) put(`${side}.${name}.bin`, v);
  for (const [name, v] of t.sequence) {
    put(`${side}.${name}.offsets.bin`, v.offsets);
    put(`${side}.${name}.ids.bin`, v.ids);
  }
  return { sparse: [...t.sparse.keys()], dense: [...t.dense.keys()], sequence: [...t.sequence.keys()] };
}

/** One JSON string per line from a one-column query, streamed chunk by chunk. */
async function writeStrings(con: DuckDBConnection, path: string, sql: string): Promise<FileEntry> {
  const sink = new FileSink(path);
  const result = await con.run(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const vec = chunk.getColumnVector(0);
    let text = '';
    for (let i = 0; i < chunk.rowCount; i++) text += `${JSON.stringify(String(vec.getItem(i)))}\n`;
    sink.write(text);
  }
  return sink.close();
}

/** Streams every encoded row into rows/<split>.<column>.bin; returns the columns and the rows per split. */
async function writeRows(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest, fit: SqlFit, hist: SqlHistory[],
  dir: string, files: Record<string, FileEntry>, chunkRows: number): Promise<{ columns: RowColumn[]; splits: Record<SplitName, number> }> {
  const select = ['r._f', 'r._r', 'r._u', 'r._i', 'r._y'];
  const columns: RowColumn[] = [{ name: 'row', dtype: 'i32' }, { name: 'user', dtype: 'i32' }, { name: 'item', dtype: 'i32' },
    { name: 'label', dtype: 'f32' }];
  const transforms: (((v: number) => number) | null)[] = [null, null, null, null];
  if (st.rows.weight) {
    select.push(`r.${st.rows.weight}`);
    columns.push({ name: 'weight', dtype: 'f32' });
    transforms.push(null);
  }
  const joins: string[] = [];
  for (const f of cfg.features) {
    if (f.source !== 'context') continue;
    if (f.kind === 'sparse') {
      const v = `v${joins.length}`;
      joins.push(`LEFT JOIN ${fit.vocabs.get(f.shareWith ?? f.name)!.table} ${v} ON ${v}.token = ${sparseKey(cfg, st, f)}`);
      select.push(`coalesce(${v}.id, 1)`);
      columns.push({ name: `ctx.${f.name}`, dtype: 'i32' });
      transforms.push(null);
    } else if (f.kind === 'dense') {
      select.push(`r.${st.rows.columns.get(f.column ?? f.name)!.col}`);
      columns.push({ name: `ctx.${f.name}`, dtype: 'f32' });
      const sc = fit.scalers.get(f.name)!;
      transforms.push((v) => sc.transform(v));
    }
  }
  for (const c of ['_hn', '_hs'] as const) {
    if (!hist.some((h) => h.causal === (c === '_hn'))) continue;
    select.push(`r.${c}`);
    columns.push({ name: c === '_hn' ? 'hist.before' : 'hist.self', dtype: 'i32' });
    transforms.push(null);
  }
  const order = `r._f, CASE WHEN r._f = 0 THEN hash(r._r::BIGINT * 40503 + ${cfg.seed}) END, r._r`;
  const result = await con.run(`SELECT ${select.join(', ')} FROM rx r ${joins.join(' ')} ORDER BY ${order}`);
  const splits: Record<SplitName, number> = { train: 0, val: 0, test: 0 };
  let sinks: ColumnSink[] | null = null;
  let split = -1;
  const close = (): void => {
    sinks?.forEach((s, k) => (files[rowFile(SPLIT_NAMES[split], columns[k].name)] = s.close()));
  };
  const open = (f: number): ColumnSink[] => columns.map((c) => new ColumnSink(join(dir, rowFile(SPLIT_NAMES[f], c.name)), c.dtype, chunkRows));
  mkdirSync(join(dir, ROWS_DIR), { recursive: true });
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const fold = chunk.getColumnVector(0);
    const vecs = columns.map((_, k) => chunk.getColumnVector(k + 1));
    for (let i = 0; i < chunk.rowCount; i++) {
      const f = Number(fold.getItem(i));
      if (f !== split) {
        close();
        split = f;
        sinks = open(f);
      }
      for (let k = 0; k < vecs.length; k++) {
        const v = vecs[k].getItem(i);
        const x = v === null ? NaN : Number(v);
        sinks![k].put(transforms[k] ? transforms[k]!(x) : x);
      }
      splits[SPLIT_NAMES[f]]++;
    }
  }
  close();
  for (const [f, name] of SPLIT_NAMES.entries()) {
    if (splits[name] === 0) {
      sinks = open(f);
      split = f;
      close();
    }
  }
  return { columns, splits };
}
