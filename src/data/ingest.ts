// Raw files -> RawData: DuckDB reads, joins and aggregates; TypeScript receives typed columns. Nothing is fitted here.
import type { DuckDBConnection } from '@duckdb/node-api';
import { openDuckDB } from './duck-db.js';
import { ident, readColumns, readRows } from './duck-read.js';
import { DataError, formatBadRow, type BadRow } from './data-error.js';
import { loadTable, type LoadedTable, type SqlType } from './duck-source.js';
import { fileColumns } from './file-columns.js';
import { planIngest, type EntitySide, type IngestPlan } from './ingest-plan.js';
import type { DataConfig, FilterSpec } from './spec.js';

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
  /** Rows removed by label.drop. */
  rowsDropped: number;
  /** Rows label.drop kept that the config's filter removed (users or items with too few interactions). */
  rowsFiltered: number;
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
  const db = await openDuckDB(':memory:', cfg.duckdb);
  const con = await db.connect();
  try {
    const staged = await stageIngest(con, cfg);
    const users = await readEntities(con, cfg, staged.plan, 'user');
    const items = await readEntities(con, cfg, staged.plan, 'item');
    const rows = await readRowsTable(con, cfg, staged);
    return { name: cfg.name, ...rows, users, items, report: { ...staged.report, seconds: (performance.now() - t0) / 1000 } };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** Where the kept interaction rows are in DuckDB: table rows_t, one row per kept interaction. */
export interface StagedRows {
  rows: number;
  /** rows_t's own columns (_r row index, _u user entity, _i item entity, _y label) and these optional ones. */
  time?: string;
  weight?: string;
  fold?: string;
  /** Per-row columns (context features, numeric columns of statistics): config column -> rows_t column. */
  columns: Map<string, { col: string; type: SqlType }>;
}

export interface StagedIngest {
  plan: IngestPlan;
  report: IngestReport;
  rows: StagedRows;
}

/**
 * Loads every source into DuckDB and leaves there: user_keys / item_keys (k, ent) and rows_t (the kept rows, their
 * entities, label and extra columns). Nothing row-sized reaches JavaScript.
 */
export async function stageIngest(con: DuckDBConnection, cfg: DataConfig): Promise<StagedIngest> {
  const t0 = performance.now();
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
  const labelKept = await countLabelKept(con, cfg);
  const rowsFiltered = cfg.filter ? labelKept - await filterRows(con, cfg, cfg.filter, labelKept) : 0;
  await createEntityKeys(con, cfg);
  const rows = await createRowsTable(con, cfg, plan);
  const bad = [...loaded.flatMap((l) => l.bad), ...nullBad];
  const sources = loaded.map((l) => ({ file: l.file, rowsRead: l.rowsRead, rowsSkipped: l.rowsRead - l.rows }));
  const skipped = ev.rowsRead - ev.rows + nullCount;
  const report: IngestReport = { rowsRead: ev.rowsRead, rowsSkipped: skipped,
    rowsDropped: ev.rows - nullCount - labelKept, rowsFiltered, badRows: bad.slice(0, 1000), sources,
    seconds: (performance.now() - t0) / 1000 };
  return { plan, report, rows };
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

/** The SQL condition a row of ev must meet to survive label.drop (undefined: every row does). */
function labelKeepSql(cfg: DataConfig): string | undefined {
  const { column, drop } = cfg.label;
  return column && drop.length ? `ev.${ident(column)} NOT IN (${drop.join(', ')})` : undefined;
}

async function countLabelKept(con: DuckDBConnection, cfg: DataConfig): Promise<number> {
  const keep = labelKeepSql(cfg);
  return Number((await readRows(con, `SELECT count(*) FROM ev${keep ? ` WHERE ${keep}` : ''}`))[0][0]);
}

/**
 * Removes from ev the rows of users and items with fewer rows than the filter's minimums, counting the rows label.drop
 * keeps (`kept` of them before); with `repeat`, again until both minimums hold at once. Returns how many remain.
 */
async function filterRows(con: DuckDBConnection, cfg: DataConfig, f: FilterSpec, kept: number): Promise<number> {
  const keep = labelKeepSql(cfg);
  const where = keep ? `WHERE ${keep}` : '';
  // NOT IN those with enough rows: a key whose rows label.drop removes all has none, and goes too
  const few = (col: string, min: number): string => min <= 1 ? 'false'
    : `${ident(col)} NOT IN (SELECT ${ident(col)} FROM ev ${where} GROUP BY 1 HAVING count(*) >= ${min})`;
  let now = kept;
  for (;;) {
    await con.run(`DELETE FROM ev WHERE ${few(cfg.keys.user, f.minUserInteractions)} OR ${few(cfg.keys.item, f.minItemInteractions)}`);
    const after = await countLabelKept(con, cfg);
    const changed = after !== now;
    now = after;
    if (!f.repeat || !changed) break;
  }
  return now;
}

async function createEntityKeys(con: DuckDBConnection, cfg: DataConfig): Promise<void> {
  for (const side of ['user', 'item'] as const) {
    const key = side === 'user' ? cfg.keys.user : cfg.keys.item;
    const table = side === 'user' ? cfg.sources.users : cfg.sources.items;
    const tname = side === 'user' ? 'users_t' : 'items_t';
    const min = side === 'user' ? cfg.filter?.minUserInteractions : cfg.filter?.minItemInteractions;
    let union = `SELECT ${ident(key)} AS k FROM ev`;
    if (table?.key) {
      const [[n, d, dup]] = await readRows(con, `SELECT count(*), count(DISTINCT ${ident(table.key)}),
        (SELECT ${ident(table.key)} FROM ${tname} GROUP BY 1 HAVING count(*) > 1 LIMIT 1) FROM ${tname}`);
      if (n !== d) throw new DataError(`${table.path}: key "${table.key}" is not unique (e.g. "${dup}")`);
      // A side with a minimum has no entities without interactions: the users/items file adds none.
      if ((min ?? 1) <= 1) union += ` UNION SELECT ${ident(table.key)} FROM ${tname} WHERE ${ident(table.key)} IS NOT NULL`;
    }
    await con.run(`CREATE TEMP TABLE ${side}_keys AS SELECT k, (row_number() OVER (ORDER BY TRY_CAST(k AS DOUBLE)
      NULLS LAST, k) - 1)::INTEGER AS ent FROM (SELECT DISTINCT k FROM (${union}))`);
  }
}

/** One row per entity in entity order: _ent, _key, then the side's planned columns (raw values) under their names. */
export function entitySql(cfg: DataConfig, plan: IngestPlan, side: EntitySide): string {
  const keyCol = side === 'user' ? cfg.keys.user : cfg.keys.item;
  const table = side === 'user' ? cfg.sources.users : cfg.sources.items;
  const cols = [...plan.entity[side]];
  const joins: string[] = [];
  const select: string[] = ['e.ent AS _ent', 'e.k AS _key'];
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
    const from = o.from === 'key' ? 'e.k' : `${o.from === 'table' ? 't' : o.from === 'events' ? 'x' : `l${o.list}`}.${ident(c)}`;
    select.push(`${from} AS ${ident(c)}`);
  }
  return `SELECT ${select.join(', ')} FROM ${side}_keys e ${joins.join(' ')} ORDER BY e.ent`;
}

async function readEntities(con: DuckDBConnection, cfg: DataConfig, plan: IngestPlan, side: EntitySide): Promise<RawEntities> {
  const cols = [...plan.entity[side]];
  const kinds = ['i32', 'str', ...cols.map(([, u]) => (u.type === 'DOUBLE' ? 'f64' : 'str'))] as ('i32' | 'str' | 'f64')[];
  const arrays = await readColumns(con, entitySql(cfg, plan, side), kinds);
  const columns = new Map<string, RawColumn>();
  cols.forEach(([c, u], i) => {
    const a = arrays[i + 2] as unknown;
    columns.set(c, u.type === 'DOUBLE' ? { kind: 'num', values: a as Float64Array }
      : { kind: 'str', values: a as (string | null)[] });
  });
  return { keys: arrays[1] as string[], columns };
}

async function createRowsTable(con: DuckDBConnection, cfg: DataConfig, plan: IngestPlan): Promise<StagedRows> {
  const lab = cfg.label;
  const lc = lab.column ? `ev.${ident(lab.column)}` : undefined;
  const labelExpr = !lc ? '1.0' : lab.rule ? `CASE WHEN ${lc} ${lab.rule.op === '==' ? '=' : lab.rule.op} ${lab.rule.value}
    THEN 1.0 ELSE 0.0 END` : lc;
  const keep = labelKeepSql(cfg);
  const where = keep ? `WHERE ${keep}` : '';
  const staged: StagedRows = { rows: 0, columns: new Map() };
  const extra: string[] = [];
  const add = (expr: string): string => {
    extra.push(`, ${expr} AS _c${extra.length}`);
    return `_c${extra.length - 1}`;
  };
  if (cfg.keys.time) staged.time = add(`ev.${ident(cfg.keys.time)}`);
  if (cfg.weight) staged.weight = add(`ev.${ident(cfg.weight.column)}`);
  if (cfg.split.method === 'column' && cfg.split.column) staged.fold = add(`ev.${ident(cfg.split.column)}`);
  for (const [c, type] of plan.rowColumns) staged.columns.set(c, { col: add(`ev.${ident(c)}`), type });
  await con.run(`CREATE TEMP TABLE rows_t AS SELECT (row_number() OVER (ORDER BY ev.rowid) - 1)::INTEGER AS _r,
    u.ent AS _u, i.ent AS _i, ${labelExpr} AS _y ${extra.join('')}
    FROM ev JOIN user_keys u ON u.k = ev.${ident(cfg.keys.user)} JOIN item_keys i ON i.k = ev.${ident(cfg.keys.item)}
    ${where} ORDER BY ev.rowid`);
  staged.rows = Number((await readRows(con, 'SELECT count(*) FROM rows_t'))[0][0]);
  return staged;
}

async function readRowsTable(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest) {
  const { rows: n } = st.rows;
  const extra: [string, 'f64' | 'f32' | 'str'][] = [];
  if (st.rows.time) extra.push([st.rows.time, 'f64']);
  if (st.rows.weight) extra.push([st.rows.weight, 'f32']);
  if (st.rows.fold) extra.push([st.rows.fold, 'str']);
  const rc = [...st.rows.columns];
  for (const [, { col, type }] of rc) extra.push([col, type === 'DOUBLE' ? 'f64' : 'str']);
  const kinds = ['i32', 'i32', 'f32', ...extra.map(([, k]) => k)] as const;
  const cols = await readColumns(con, `SELECT _u, _i, _y${extra.map(([c]) => `, ${c}`).join('')} FROM rows_t ORDER BY _r`,
    kinds as readonly ('i32' | 'f32' | 'f64' | 'str')[], n) as unknown[];
  let k = 3;
  const time = st.rows.time ? (cols[k++] as Float64Array) : undefined;
  const weight = st.rows.weight ? (cols[k++] as Float32Array) : undefined;
  let fold: Int8Array | undefined;
  if (st.rows.fold) fold = foldCodes(cols[k++] as (string | null)[], cfg.split.column ?? '');
  const rowColumns = new Map<string, RawColumn>();
  for (const [c, { type }] of rc) {
    const a = cols[k++];
    rowColumns.set(c, type === 'DOUBLE' ? { kind: 'num', values: a as Float64Array } : { kind: 'str', values: a as (string | null)[] });
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
