// Raw files -> RawData: DuckDB reads, joins and aggregates; TypeScript receives typed columns. Nothing is fitted here.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ident, readColumns, readRows } from './duck-read.js';
import { DataError, formatBadRow, type BadRow } from './data-error.js';
import { loadTable, type LoadedTable, type SqlType } from './duck-source.js';
import { fileColumns } from './file-columns.js';
import { planIngest, type EntitySide, type IngestPlan } from './ingest-plan.js';
import type { DataConfig } from './spec.js';

export type RawColumn = { kind: 'str'; values: (string | null)[] } | { kind: 'num'; values: Float64Array };

/** One row per user (or item) entity; entity ids index `keys` and every column. */
export interface RawEntities {
  keys: string[];
  columns: Map<string, RawColumn>;
}

export interface SourceReport {
  file: string;
  rowsRead: number;
  rowsSkipped: number;
}

export interface IngestReport {
  rowsRead: number;
  rowsSkipped: number;
  rowsDropped: number;
  badRows: BadRow[];
  sources: SourceReport[];
  seconds: number;
}

export interface RawData {
  name: string;
  rows: number;
  user: Int32Array;
  item: Int32Array;
  time?: Float64Array;
  label: Float32Array;
  weight?: Float32Array;
  /** split.method 'column': 0 train, 1 val, 2 test. */
  fold?: Int8Array;
  rowColumns: Map<string, RawColumn>;
  users: RawEntities;
  items: RawEntities;
  report: IngestReport;
}

export async function ingest(cfg: DataConfig): Promise<RawData> {
  const t0 = performance.now();
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await db.connect();
  try {
    const s = cfg.sources;
    const av = {
      interactions: await fileColumns(con, s.interactions),
      users: s.users ? await fileColumns(con, s.users) : undefined,
      items: s.items ? await fileColumns(con, s.items) : undefined,
      lists: await Promise.all(s.lists.map((l) => fileColumns(con, l))),
    };
    const plan = planIngest(cfg, av);
    const loaded: LoadedTable[] = [];
    const load = async (t: typeof s.interactions, name: string, cols: string[], w: Map<string, SqlType>) => {
      const lt = await loadTable(con, t, name, cols, w);
      if (lt.bad.length && cfg.onBadRow === 'error') throw badRowError(lt.bad);
      loaded.push(lt);
      return lt;
    };
    const ev = await load(s.interactions, 'ev', av.interactions, plan.interactions);
    if (s.users && av.users) await load(s.users, 'users_t', av.users, plan.users);
    if (s.items && av.items) await load(s.items, 'items_t', av.items, plan.items);
    for (let i = 0; i < s.lists.length; i++) await load(s.lists[i], `list_${i}`, av.lists[i], plan.lists[i]);
    const { bad: nullBad, count: nullCount } = await requiredNulls(con, cfg, ev, av.interactions);
    if (nullBad.length && cfg.onBadRow === 'error') throw badRowError(nullBad);
    await createEntityKeys(con, cfg);
    const users = await readEntities(con, cfg, plan, 'user');
    const items = await readEntities(con, cfg, plan, 'item');
    const rows = await readRowsTable(con, cfg, plan);
    const bad = [...loaded.flatMap((l) => l.bad), ...nullBad];
    const sources = loaded.map((l) => ({ file: l.file, rowsRead: l.rowsRead, rowsSkipped: l.rowsRead - l.rows }));
    const skipped = ev.rowsRead - ev.rows + nullCount;
    const report: IngestReport = { rowsRead: ev.rowsRead, rowsSkipped: skipped,
      rowsDropped: ev.rows - nullCount - rows.rows, badRows: bad.slice(0, 1000), sources,
      seconds: (performance.now() - t0) / 1000 };
    return { name: cfg.name, ...rows, users, items, report };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

function badRowError(bad: BadRow[]): DataError {
  const more = bad.length > 1 ? ` (and ${bad.length - 1} more bad rows; onBadRow: "skip" skips and counts them)` : '';
  return new DataError(`${formatBadRow(bad[0])}${more}`, bad);
}

/** Rows whose key, label or timestamp is empty cannot be used: they are bad rows like malformed ones. */
async function requiredNulls(con: DuckDBConnection, cfg: DataConfig, ev: LoadedTable,
  cols: string[]): Promise<{ bad: BadRow[]; count: number }> {
  const req = [cfg.keys.user, cfg.keys.item, cfg.keys.time, cfg.label.column].filter((c): c is string => !!c);
  const anyNull = req.map((c) => `${ident(c)} IS NULL`).join(' OR ');
  const count = Number((await readRows(con, `SELECT count(*) FROM ev WHERE ${anyNull}`))[0][0]);
  const rows = await readRows(con, `SELECT rowid, ${req.map((c) => `${ident(c)} IS NULL`).join(', ')} FROM ev
    WHERE ${anyNull} ORDER BY rowid LIMIT 1000`);
  const bad = rows.map((r) => {
    const c = req[r.slice(1).findIndex((v) => v === true)];
    return { file: ev.file, line: ev.lineOf(Number(r[0])), column: cols.indexOf(c) + 1, columnName: c, value: '',
      error: 'empty value in a required column' };
  });
  if (count) await con.run(`DELETE FROM ev WHERE ${anyNull}`);
  return { bad, count };
}

async function createEntityKeys(con: DuckDBConnection, cfg: DataConfig): Promise<void> {
  for (const side of ['user', 'item'] as const) {
    const key = side === 'user' ? cfg.keys.user : cfg.keys.item;
    const table = side === 'user' ? cfg.sources.users : cfg.sources.items;
    const tname = side === 'user' ? 'users_t' : 'items_t';
    let union = `SELECT ${ident(key)} AS k FROM ev`;
    if (table?.key) {
      const [[n, d, dup]] = await readRows(con, `SELECT count(*), count(DISTINCT ${ident(table.key)}),
        (SELECT ${ident(table.key)} FROM ${tname} GROUP BY 1 HAVING count(*) > 1 LIMIT 1) FROM ${tname}`);
      if (n !== d) throw new DataError(`${table.path}: key "${table.key}" is not unique (e.g. "${dup}")`);
      union += ` UNION SELECT ${ident(table.key)} FROM ${tname} WHERE ${ident(table.key)} IS NOT NULL`;
    }
    await con.run(`CREATE TEMP TABLE ${side}_keys AS SELECT k, (row_number() OVER (ORDER BY TRY_CAST(k AS DOUBLE)
      NULLS LAST, k) - 1)::INTEGER AS ent FROM (SELECT DISTINCT k FROM (${union}))`);
  }
}

async function readEntities(con: DuckDBConnection, cfg: DataConfig, plan: IngestPlan, side: EntitySide): Promise<RawEntities> {
  const keyCol = side === 'user' ? cfg.keys.user : cfg.keys.item;
  const table = side === 'user' ? cfg.sources.users : cfg.sources.items;
  const cols = [...plan.entity[side]];
  const joins: string[] = [];
  const select: string[] = ['e.k'];
  const evCols = cols.filter(([, u]) => u.origin.from === 'events').map(([c]) => c);
  if (table?.key) joins.push(`LEFT JOIN ${side}s_t t ON t.${ident(table.key)} = e.k`);
  if (evCols.length) {
    const aggs = evCols.map((c) => `first(${ident(c)} ORDER BY rowid) FILTER (WHERE ${ident(c)} IS NOT NULL) AS ${ident(c)}`);
    joins.push(`LEFT JOIN (SELECT ${ident(keyCol)} AS k, ${aggs.join(', ')} FROM ev GROUP BY 1) x ON x.k = e.k`);
  }
  cfg.sources.lists.forEach((l, i) => {
    if (l.side !== side || !cols.some(([c]) => c === l.as)) return;
    const v = l.lowercase ? `lower(${ident(l.column)})` : ident(l.column);
    joins.push(`LEFT JOIN (SELECT ${ident(l.key)} AS k, string_agg(DISTINCT ${v}, chr(31) ORDER BY ${v}) AS ${ident(l.as)}
      FROM list_${i} WHERE ${ident(l.column)} IS NOT NULL GROUP BY 1) l${i} ON l${i}.k = e.k`);
  });
  for (const [c, u] of cols) {
    const o = u.origin;
    if (o.from === 'key') select.push('e.k');
    else select.push(`${o.from === 'table' ? 't' : o.from === 'events' ? 'x' : `l${o.list}`}.${ident(c)}`);
  }
  const sql = `SELECT ${select.join(', ')} FROM ${side}_keys e ${joins.join(' ')} ORDER BY e.ent`;
  const kinds = ['str', ...cols.map(([, u]) => (u.type === 'DOUBLE' ? 'f64' : 'str'))] as ('str' | 'f64')[];
  const arrays = await readColumns(con, sql, kinds);
  const columns = new Map<string, RawColumn>();
  cols.forEach(([c, u], i) => {
    const a = arrays[i + 1] as unknown;
    columns.set(c, u.type === 'DOUBLE' ? { kind: 'num', values: a as Float64Array }
      : { kind: 'str', values: a as (string | null)[] });
  });
  return { keys: arrays[0] as string[], columns };
}

async function readRowsTable(con: DuckDBConnection, cfg: DataConfig, plan: IngestPlan) {
  const lab = cfg.label;
  const lc = lab.column ? `ev.${ident(lab.column)}` : undefined;
  const labelExpr = !lc ? '1.0' : lab.rule ? `CASE WHEN ${lc} ${lab.rule.op === '==' ? '=' : lab.rule.op} ${lab.rule.value}
    THEN 1.0 ELSE 0.0 END` : lc;
  const where = lc && lab.drop.length ? `WHERE ${lc} NOT IN (${lab.drop.join(', ')})` : '';
  const extra: [string, 'f64' | 'f32' | 'str'][] = [];
  if (cfg.keys.time) extra.push([`ev.${ident(cfg.keys.time)}`, 'f64']);
  if (cfg.weight) extra.push([`ev.${ident(cfg.weight.column)}`, 'f32']);
  if (cfg.split.method === 'column' && cfg.split.column) extra.push([`ev.${ident(cfg.split.column)}`, 'str']);
  const rc = [...plan.rowColumns];
  for (const [c, t] of rc) extra.push([`ev.${ident(c)}`, t === 'DOUBLE' ? 'f64' : 'str']);
  await con.run(`CREATE TEMP TABLE rows_t AS SELECT u.ent AS _u, i.ent AS _i, ${labelExpr} AS _y
    ${extra.map(([e], k) => `, ${e} AS _c${k}`).join('')}
    FROM ev JOIN user_keys u ON u.k = ev.${ident(cfg.keys.user)} JOIN item_keys i ON i.k = ev.${ident(cfg.keys.item)}
    ${where} ORDER BY ev.rowid`);
  const n = Number((await readRows(con, 'SELECT count(*) FROM rows_t'))[0][0]);
  const kinds = ['i32', 'i32', 'f32', ...extra.map(([, k]) => k)] as const;
  const cols = await readColumns(con, 'SELECT * FROM rows_t ORDER BY rowid',
    kinds as readonly ('i32' | 'f32' | 'f64' | 'str')[], n) as unknown[];
  let k = 3;
  const time = cfg.keys.time ? (cols[k++] as Float64Array) : undefined;
  const weight = cfg.weight ? (cols[k++] as Float32Array) : undefined;
  let fold: Int8Array | undefined;
  if (cfg.split.method === 'column') fold = foldCodes(cols[k++] as (string | null)[], cfg.split.column ?? '');
  const rowColumns = new Map<string, RawColumn>();
  for (const [c, t] of rc) {
    const a = cols[k++];
    rowColumns.set(c, t === 'DOUBLE' ? { kind: 'num', values: a as Float64Array } : { kind: 'str', values: a as (string | null)[] });
  }
  return { rows: n, user: cols[0] as Int32Array, item: cols[1] as Int32Array, label: cols[2] as Float32Array,
    time, weight, fold, rowColumns };
}

function foldCodes(values: (string | null)[], column: string): Int8Array {
  const codes = new Map([['train', 0], ['val', 1], ['valid', 1], ['validation', 1], ['test', 2]]);
  const out = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = codes.get((values[i] ?? '').toLowerCase());
    if (c === undefined) throw new DataError(`split column "${column}" holds "${values[i]}"; expected train, val or test`);
    out[i] = c;
  }
  return out;
}
