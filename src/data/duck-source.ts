// One source file -> one DuckDB table holding the wanted columns (numbers as DOUBLE, the rest as VARCHAR; list values
// joined by LIST_SEP), in file order, with every malformed row found, located (file:line:column) and left out.
//
// CSV/TSV are read first by DuckDB's strict reader with its reject tables (parallel, typed, exact lines). When that
// reader refuses the file as a whole (DuckDB's strict mode rejects files whose lines end in both CRLF and LF with
// "The CSV Parser state machine reached an invalid state"), the file is read again leniently, every field as text, and
// the rows are checked here: field counts through a sentinel column, numbers through TRY_CAST, lines counted from
// the rows (quoted line breaks included). JSON Lines and Parquet go through the same checks.
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal, readRows } from './duck-read.js';
import { delimiterOf, fileFormat, quoteOf } from './file-columns.js';
import { DataError, type BadRow } from './data-error.js';
import type { TableSpec } from './spec.js';
import { LIST_SEP } from './list-sep.js';

export { LIST_SEP };
export type SqlType = 'DOUBLE' | 'VARCHAR';

export interface LoadedTable {
  /** DuckDB table; its rowid is the order of the kept rows in the file. */
  table: string;
  file: string;
  rows: number;
  rowsRead: number;
  bad: BadRow[];
  /** File line of a kept row (by rowid), for errors found after loading. */
  lineOf(rowid: number): number;
}

const NOT_A_NUMBER = 'expected a number';
/** Stands for NULL in the lenient CSV read, so that an empty field ('') and a missing one (NULL) differ. */
const LENIENT_NULL = '\x1e';
const EXTRA = 'extra_field';
/** Bad rows listed per check; the rest are counted. */
const LIST_LIMIT = 10_000;

/** A text-typed copy of the file: `_rid` (data row index, file order), `_line` (its first line) and the columns. */
interface RawTable {
  table: string;
  bad: BadRow[];
  rowsRead: number;
  firstLine: number;
}

/** Loads the wanted columns of `t` into table `name`; `columns` are all the file's columns in order. */
export async function loadTable(con: DuckDBConnection, t: TableSpec, name: string, columns: string[],
  wanted: Map<string, SqlType>): Promise<LoadedTable> {
  const format = fileFormat(t);
  let raw: RawTable;
  try {
    if (format === 'csv' || format === 'tsv') {
      const strict = await loadCsvStrict(con, t, name, columns, wanted).catch((e: Error) => e);
      if (!(strict instanceof Error)) return strict;
      raw = await rawCsvLenient(con, t, name, columns, wanted, strict);
    } else raw = format === 'jsonl' ? await rawJsonl(con, t, name, wanted) : await rawParquet(con, t, name, wanted);
    return await typedFromRaw(con, t, name, columns, wanted, raw);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${t.path}: cannot be read as ${format.toUpperCase()}: ${duckMessage(err)}`);
  }
}

async function loadCsvStrict(con: DuckDBConnection, t: TableSpec, name: string, columns: string[],
  wanted: Map<string, SqlType>): Promise<LoadedTable> {
  const colTypes = columns.map((c, i) => `${literal(positional(i))}: ${literal(wanted.get(c) ?? 'VARCHAR')}`).join(', ');
  const opts = [...csvOptions(t), `columns={${colTypes}}`, 'store_rejects=true', `rejects_table=${literal(`${name}__rej`)}`,
    `rejects_scan=${literal(`${name}__scan`)}`];
  const select = selectWanted(columns, wanted);
  await con.run(`CREATE TEMP TABLE ${name} AS SELECT ${select} FROM read_csv(${literal(t.path)}, ${opts.join(', ')})`);
  const rej = await readRows(con, `SELECT line, column_idx, column_name, error_type, csv_line, error_message
    FROM ${name}__rej ORDER BY line, column_idx`);
  const bad: BadRow[] = rej.map(([line, col, cname, type, csvLine, msg]) => {
    const text = String(csvLine).replace(/^[\r\n]+/, '').replace(/\r?\n$/, '');
    const found = /Found: (\d+)/.exec(String(msg))?.[1];
    const c = Number(col);
    const structural = type === 'MISSING COLUMNS' || type === 'TOO MANY COLUMNS';
    return {
      file: t.path, line: Number(line), column: type === 'MISSING COLUMNS' ? Number(found ?? c - 1) + 1 : c,
      columnName: structural || cname === null ? '' : columns[Number(String(cname).slice(1)) - 1] ?? '',
      value: type === 'CAST' ? castValue(String(msg)) ?? text : type === 'TOO MANY COLUMNS' ? extraFields(text, t, columns.length) : text,
      error: structural ? fieldCount(Number(found), columns.length) : describe(String(type), String(msg)),
    };
  });
  const headerLines = t.header ? 1 : 0;
  const badRids = [...new Set(bad.map((b) => b.line - 1 - headerLines))].sort((a, b) => a - b);
  const rows = await countRows(con, name);
  return { table: name, file: t.path, rows, rowsRead: rows + badRids.length, bad,
    lineOf: lineMapper(badRids, headerLines + 1, []) };
}

/** Every field as text, NULL only for fields the line lacks; one sentinel column catches surplus fields. */
async function rawCsvLenient(con: DuckDBConnection, t: TableSpec, name: string, columns: string[],
  wanted: Map<string, SqlType>, strictError: Error): Promise<RawTable> {
  const raw = `${name}__raw`;
  const read = `${raw}__read`;
  const all = [...columns.map((_, i) => positional(i)), EXTRA];
  const colTypes = all.map((c) => `${literal(c)}: 'VARCHAR'`).join(', ');
  const opts = [...csvOptions(t), `columns={${colTypes}}`, 'strict_mode=false', "new_line='\\r\\n'", 'null_padding=true', 'parallel=false',
    `nullstr=${literal(LENIENT_NULL)}`, 'store_rejects=true', `rejects_table=${literal(`${name}__rej`)}`,
    `rejects_scan=${literal(`${name}__scan`)}`];
  try {
    await con.run(`CREATE TEMP TABLE ${read} AS SELECT * FROM read_csv(${literal(t.path)}, ${opts.join(', ')})`);
  } catch (err) {
    throw new DataError(`${t.path}: cannot be read as CSV: ${duckMessage(strictError)}` +
      (duckMessage(err) === duckMessage(strictError) ? '' : ` (read leniently: ${duckMessage(err)})`));
  }
  const newlines = all.map((c) => `coalesce(len(${c}) - len(replace(${c}, chr(10), '')), 0)`).join(' + ');
  const firstLine = t.header ? 2 : 1;
  // a row lacking fields has NULL from the first missing one on; a row with more has the sentinel set
  const present = all.slice(0, -1).map((c) => `(${c} IS NOT NULL)::INT`).join(' + ');
  // a row's line: its index, plus the line breaks inside quoted values before it, plus the lines DuckDB rejected
  const line = await rejectedLineShift(con, name);
  await con.run(`CREATE TEMP TABLE ${raw} AS SELECT *, ${line('p')} AS _line
    FROM (SELECT rowid AS _rid, rowid + ${firstLine} + coalesce(sum(${newlines}) OVER (ORDER BY rowid ROWS BETWEEN
    UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS p, ${present} AS _fields, ${EXTRA},
    concat_ws(${literal(delimiterOf(t))}, ${all.slice(0, -1).join(', ')}) AS _text,
    ${selectWanted(columns, new Map([...wanted.keys()].map((c) => [c, 'VARCHAR'])))} FROM ${read}) ORDER BY _rid`);
  const bad: BadRow[] = [];
  for (const [line, n, extra, text] of await readRows(con, `SELECT _line, _fields, ${EXTRA}, _text FROM ${raw}
    WHERE ${EXTRA} IS NOT NULL OR _fields < ${columns.length} ORDER BY _rid LIMIT ${LIST_LIMIT}`)) {
    const count = Number(n);
    bad.push(extra === null
      ? { file: t.path, line: Number(line), column: count + 1, columnName: '', value: String(text), error: fieldCount(count, columns.length) }
      : { file: t.path, line: Number(line), column: columns.length + 1, columnName: '', value: String(extra),
        error: `more than ${columns.length} fields` });
  }
  bad.push(...await rejectedRows(con, t, name));
  const rowsRead = (await countRows(con, raw)) + (await countRows(con, `${name}__rejl`));
  return { table: raw, bad, rowsRead, firstLine };
}

async function rawJsonl(con: DuckDBConnection, t: TableSpec, name: string, wanted: Map<string, SqlType>): Promise<RawTable> {
  const raw = `${name}__raw`;
  // one text column, no quotes; not DuckDB's strict mode, which refuses files whose lines end in both CRLF and LF
  // (new_line '\r\n' outside strict mode ends a line at LF or CRLF alike; the detected default counts CR and LF apart)
  await con.run(`CREATE TEMP TABLE ${raw}__lines AS SELECT j FROM read_csv(${literal(t.path)}, header=false,
    auto_detect=false, delim=chr(31), quote='', escape='', columns={'j': 'VARCHAR'}, encoding=${literal(t.encoding)},
    strict_mode=false, new_line='\\r\\n', store_rejects=true, rejects_table=${literal(`${name}__rej`)}, rejects_scan=${literal(`${name}__scan`)})`);
  const line = await rejectedLineShift(con, name);
  // blank lines are no rows
  await con.run(`CREATE TEMP TABLE ${raw}__all AS SELECT rowid AS _rid, ${line('rowid + 1')} AS _line, j FROM ${raw}__lines
    WHERE trim(coalesce(j, '')) <> ''`);
  const bad: BadRow[] = [];
  for (const [l, text] of await readRows(con, `SELECT _line, j FROM ${raw}__all WHERE NOT json_valid(j)
    ORDER BY _rid LIMIT ${LIST_LIMIT}`)) {
    bad.push({ file: t.path, line: Number(l), column: 1, columnName: '', value: String(text), error: 'malformed JSON' });
  }
  bad.push(...await rejectedRows(con, t, name));
  const cols = [...wanted.keys()].map((c) => {
    const p = literal(`$.${JSON.stringify(c)}`);
    return `CASE WHEN json_type(j, ${p}) = 'ARRAY' THEN array_to_string(CAST(json_extract(j, ${p}) AS VARCHAR[]),
      chr(31)) ELSE json_extract_string(j, ${p}) END AS ${ident(c)}`;
  });
  await con.run(`CREATE TEMP TABLE ${raw} AS SELECT _rid, _line, ${cols.join(', ')} FROM ${raw}__all WHERE json_valid(j) ORDER BY _rid`);
  const rowsRead = (await countRows(con, `${raw}__all`)) + (await countRows(con, `${name}__rejl`));
  return { table: raw, bad, rowsRead, firstLine: 1 };
}

/**
 * Lines DuckDB rejected (e.g. undecodable text) are not rows of the read, so the lines of the rows after them shift:
 * returns the SQL for a row's line from `p`, its line counted without them. With R_j the j-th rejected line
 * (0-based), a row whose line without them is p follows #{j : R_j - j <= p} of them.
 */
async function rejectedLineShift(con: DuckDBConnection, name: string): Promise<(p: string) => string> {
  await con.run(`CREATE TEMP TABLE ${name}__rejl AS SELECT line - row_number() OVER (ORDER BY line) + 1 AS a
    FROM (SELECT DISTINCT line FROM ${name}__rej)`);
  return (p) => `${p} + (SELECT count(*) FROM ${name}__rejl WHERE a <= ${p})`;
}

async function rejectedRows(con: DuckDBConnection, t: TableSpec, name: string): Promise<BadRow[]> {
  return (await readRows(con, `SELECT line, column_idx, error_type, error_message FROM ${name}__rej ORDER BY line, column_idx`))
    .map(([line, col, type, msg]) => ({ file: t.path, line: Number(line), column: Number(col ?? 1) || 1, columnName: '', value: '',
      error: describe(String(type), String(msg)) }));
}

async function rawParquet(con: DuckDBConnection, t: TableSpec, name: string, wanted: Map<string, SqlType>): Promise<RawTable> {
  const raw = `${name}__raw`;
  const types = new Map((await readRows(con, `DESCRIBE SELECT * FROM read_parquet(${literal(t.path)})`))
    .map((r) => [String(r[0]), String(r[1])]));
  const cols = [...wanted.keys()].map((c) => (types.get(c)?.endsWith('[]')
    ? `array_to_string(${ident(c)}, chr(31)) AS ${ident(c)}` : `CAST(${ident(c)} AS VARCHAR) AS ${ident(c)}`));
  await con.run(`CREATE TEMP TABLE ${raw} AS SELECT file_row_number AS _rid, file_row_number + 1 AS _line, ${cols.join(', ')}
    FROM read_parquet(${literal(t.path)}, file_row_number=true) ORDER BY _rid`);
  return { table: raw, bad: [], rowsRead: await countRows(con, raw), firstLine: 1 };
}

/** Numbers checked with TRY_CAST (empty text is a missing value, not a bad number); bad rows left out. */
async function typedFromRaw(con: DuckDBConnection, t: TableSpec, name: string, columns: string[],
  wanted: Map<string, SqlType>, raw: RawTable): Promise<LoadedTable> {
  const bad = raw.bad;
  const value = (c: string) => `NULLIF(${ident(c)}, '')`;
  for (const [c, type] of wanted) {
    if (type !== 'DOUBLE') continue;
    const q = `SELECT _line, ${ident(c)} FROM ${raw.table} WHERE ${value(c)} IS NOT NULL
      AND TRY_CAST(${value(c)} AS DOUBLE) IS NULL ORDER BY _rid LIMIT ${LIST_LIMIT}`;
    for (const [line, v] of await readRows(con, q)) {
      bad.push({ file: t.path, line: Number(line), column: columns.indexOf(c) + 1, columnName: c, value: String(v), error: NOT_A_NUMBER });
    }
  }
  bad.sort((a, b) => a.line - b.line || a.column - b.column);
  const badLines = [...new Set(bad.map((b) => b.line))];
  await con.run(`CREATE TEMP TABLE ${name}__bad AS SELECT unnest(${`[${badLines.join(',')}]::BIGINT[]`}) AS _line`);
  const typed = [...wanted].map(([c, ty]) => `TRY_CAST(${value(c)} AS ${ty}) AS ${ident(c)}`);
  const kept = `SELECT * FROM ${raw.table} WHERE _line NOT IN (SELECT _line FROM ${name}__bad)`;
  await con.run(`CREATE TEMP TABLE ${name} AS SELECT ${typed.join(', ')} FROM (${kept}) ORDER BY _rid`);
  // kept row k is on line k + firstLine + (what the last shift before it added)
  const shifts = (await readRows(con, `SELECT k - 1, _line - k - ${raw.firstLine} FROM (SELECT k, _line, lag(_line - k, 1,
    ${raw.firstLine}) OVER (ORDER BY k) AS prev FROM (SELECT row_number() OVER (ORDER BY _rid) - 1 AS k, _line FROM (${kept})))
    WHERE _line - k <> prev ORDER BY k`)).map(([k, n]) => [Number(k), Number(n)] as [number, number]);
  const rows = await countRows(con, name);
  return { table: name, file: t.path, rows, rowsRead: raw.rowsRead, bad, lineOf: lineMapper([], raw.firstLine, shifts) };
}

/** CSV columns are named by position for DuckDB, so header names never reach SQL (empty, repeated or odd ones). */
function positional(i: number): string {
  return `c${i + 1}`;
}

/** The wanted columns out of a positional read, under their header names (the first of a repeated name). */
function selectWanted(columns: string[], wanted: Map<string, SqlType>): string {
  return [...wanted.keys()].map((c) => `${positional(columns.indexOf(c))} AS ${ident(c)}`).join(', ');
}

function csvOptions(t: TableSpec): string[] {
  const quote = quoteOf(t);
  return [`header=${t.header}`, 'auto_detect=false', `delim=${literal(delimiterOf(t))}`, `quote=${literal(quote)}`,
    `escape=${literal(quote)}`, `encoding=${literal(t.encoding)}`];
}

function fieldCount(found: number, expected: number): string {
  return `${found} field${found === 1 ? '' : 's'}, expected ${expected}`;
}

/** The fields of a CSV line past the expected ones (plain split: the value is for the reader's eyes). */
function extraFields(line: string, t: TableSpec, expected: number): string {
  const d = delimiterOf(t);
  return line.split(d).slice(expected).join(d);
}

function describe(type: string, msg: string): string {
  if (type === 'CAST') return /to '(DOUBLE|BIGINT|INTEGER)'/.test(msg) ? NOT_A_NUMBER : msg.replace(/^Error when converting column "[^"]*"\. /, '');
  if (type === 'INVALID ENCODING' || type === 'INVALID UNICODE') return 'invalid text encoding (not valid UTF-8; set "encoding")';
  if (type === 'UNQUOTED VALUE') return 'a quoted value is not closed, or text follows its closing quote';
  return `${type.toLowerCase()}: ${msg}`;
}

function castValue(msg: string): string | undefined {
  return /Could not convert string "(.*)" to/.exec(msg)?.[1];
}

/** The first line of a DuckDB error, without its class prefix. */
function duckMessage(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].replace(/^[A-Za-z ]*Error: /, '');
}

/**
 * Maps a kept row's index to its file line, given the sorted data-row indices that were removed and the rows after
 * which the lines shift ([rid, lines added up to and with it], sorted; rid -1 for a shift before the first row).
 */
function lineMapper(removed: number[], firstLine: number, breaks: [number, number][]): (rowid: number) => number {
  return (rowid) => {
    let r = rowid;
    for (const x of removed) {
      if (x <= r) r++;
      else break;
    }
    let lo = 0;
    let hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (breaks[mid][0] < r) lo = mid + 1;
      else hi = mid;
    }
    return r + firstLine + (lo > 0 ? breaks[lo - 1][1] : 0);
  };
}

async function countRows(con: DuckDBConnection, table: string): Promise<number> {
  return Number((await readRows(con, `SELECT count(*) FROM ${table}`))[0][0]);
}
