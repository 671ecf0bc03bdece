// One source file -> one DuckDB table holding the wanted columns (numbers as DOUBLE, the rest as VARCHAR; list values
// joined by LIST_SEP), in file order, with every malformed row found, located (file:line:column) and left out.
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal, readRows } from './duck-read.js';
import { delimiterOf, fileFormat, quoteOf } from './file-columns.js';
import type { TableSpec } from './spec.js';

export const LIST_SEP = '\x1f';
export type SqlType = 'DOUBLE' | 'VARCHAR';

export interface BadRow {
  file: string;
  line: number;
  /** 1-based field index. */
  column: number;
  columnName: string;
  value: string;
  error: string;
}

export class DataError extends Error {
  constructor(message: string, readonly badRows: BadRow[] = []) {
    super(message);
    this.name = 'DataError';
  }
}

export function formatBadRow(b: BadRow): string {
  const col = b.columnName ? ` column "${b.columnName}"` : '';
  return `${b.file}:${b.line}:${b.column}: ${b.error};${col} value ${JSON.stringify(clip(b.value))}`;
}

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

/** Loads the wanted columns of `t` into table `name`; `columns` are all the file's columns in order. */
export async function loadTable(con: DuckDBConnection, t: TableSpec, name: string, columns: string[],
  wanted: Map<string, SqlType>): Promise<LoadedTable> {
  const format = fileFormat(t);
  if (format === 'csv' || format === 'tsv') return loadCsv(con, t, name, columns, wanted);
  const raw = `${name}__raw`;
  const headerLines = 0;
  const bad: BadRow[] = [];
  if (format === 'jsonl') {
    await con.run(`CREATE TEMP TABLE ${raw}__lines AS SELECT j FROM read_csv(${literal(t.path)}, header=false,
      auto_detect=false, delim=chr(31), quote='', escape='', columns={'j': 'VARCHAR'}, encoding=${literal(t.encoding)})`);
    for (const [rid, text] of await readRows(con, `SELECT rowid, j FROM ${raw}__lines WHERE NOT json_valid(j)`)) {
      bad.push({ file: t.path, line: Number(rid) + 1, column: 1, columnName: '', value: String(text),
        error: 'malformed JSON' });
    }
    const cols = [...wanted.keys()].map((c) => {
      const p = literal(`$.${JSON.stringify(c)}`);
      return `CASE WHEN json_type(j, ${p}) = 'ARRAY' THEN array_to_string(CAST(json_extract(j, ${p}) AS VARCHAR[]),
        chr(31)) ELSE json_extract_string(j, ${p}) END AS ${ident(c)}`;
    });
    await con.run(`CREATE TEMP TABLE ${raw} AS SELECT rowid AS _rid, ${cols.join(', ')} FROM ${raw}__lines
      WHERE json_valid(j) ORDER BY rowid`);
  } else {
    const types = new Map((await readRows(con, `DESCRIBE SELECT * FROM read_parquet(${literal(t.path)})`))
      .map((r) => [String(r[0]), String(r[1])]));
    const cols = [...wanted.keys()].map((c) => (types.get(c)?.endsWith('[]')
      ? `array_to_string(${ident(c)}, chr(31)) AS ${ident(c)}` : `CAST(${ident(c)} AS VARCHAR) AS ${ident(c)}`));
    await con.run(`CREATE TEMP TABLE ${raw} AS SELECT file_row_number AS _rid, ${cols.join(', ')}
      FROM read_parquet(${literal(t.path)}, file_row_number=true) ORDER BY _rid`);
  }
  for (const [c, type] of wanted) {
    if (type !== 'DOUBLE') continue;
    const q = `SELECT _rid, ${ident(c)} FROM ${raw} WHERE ${ident(c)} IS NOT NULL
      AND TRY_CAST(${ident(c)} AS DOUBLE) IS NULL ORDER BY _rid LIMIT 10000`;
    for (const [rid, v] of await readRows(con, q)) {
      bad.push({ file: t.path, line: Number(rid) + 1 + headerLines, column: columns.indexOf(c) + 1, columnName: c,
        value: String(v), error: `not a number (column is numeric)` });
    }
  }
  bad.sort((a, b) => a.line - b.line);
  const badRids = [...new Set(bad.map((b) => b.line - 1 - headerLines))].sort((a, b) => a - b);
  await con.run(`CREATE TEMP TABLE ${name}__bad AS SELECT unnest(${`[${badRids.join(',')}]::BIGINT[]`}) AS _rid`);
  const typed = [...wanted].map(([c, ty]) => `TRY_CAST(${ident(c)} AS ${ty}) AS ${ident(c)}`);
  await con.run(`CREATE TEMP TABLE ${name} AS SELECT ${typed.join(', ')} FROM ${raw}
    WHERE _rid NOT IN (SELECT _rid FROM ${name}__bad) ORDER BY _rid`);
  const rows = await countRows(con, name);
  const rowsRead = format === 'jsonl' ? await countRows(con, `${raw}__lines`) : rows + badRids.length;
  return { table: name, file: t.path, rows, rowsRead, bad, lineOf: lineMapper(badRids, headerLines + 1) };
}

async function loadCsv(con: DuckDBConnection, t: TableSpec, name: string, columns: string[],
  wanted: Map<string, SqlType>): Promise<LoadedTable> {
  const colTypes = columns.map((c) => `${literal(c)}: ${literal(wanted.get(c) ?? 'VARCHAR')}`).join(', ');
  const quote = quoteOf(t);
  const opts = [`header=${t.header}`, 'auto_detect=false', `delim=${literal(delimiterOf(t))}`,
    `quote=${literal(quote)}`, `escape=${literal(quote)}`, `encoding=${literal(t.encoding)}`,
    `columns={${colTypes}}`, 'store_rejects=true', `rejects_table=${literal(`${name}__rej`)}`,
    `rejects_scan=${literal(`${name}__scan`)}`];
  const select = [...wanted.keys()].map(ident).join(', ');
  try {
    await con.run(`CREATE TEMP TABLE ${name} AS SELECT ${select} FROM read_csv(${literal(t.path)}, ${opts.join(', ')})`);
  } catch (err) {
    throw new DataError(`${t.path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const rej = await readRows(con, `SELECT line, column_idx, column_name, error_type, csv_line, error_message
    FROM ${name}__rej ORDER BY line, column_idx`);
  const bad: BadRow[] = rej.map(([line, col, cname, type, csvLine, msg]) => ({
    file: t.path, line: Number(line), column: Number(col), columnName: cname === null ? '' : String(cname),
    value: castValue(String(msg)) ?? String(csvLine), error: describe(String(type), String(msg)),
  }));
  const headerLines = t.header ? 1 : 0;
  const badRids = [...new Set(bad.map((b) => b.line - 1 - headerLines))].sort((a, b) => a - b);
  const rows = await countRows(con, name);
  return { table: name, file: t.path, rows, rowsRead: rows + badRids.length, bad,
    lineOf: lineMapper(badRids, headerLines + 1) };
}

function describe(type: string, msg: string): string {
  if (type === 'CAST') return msg.replace(/^Error when converting column "[^"]*"\. /, '');
  if (type === 'INVALID ENCODING') return 'invalid text encoding (not valid UTF-8; set "encoding")';
  return `${type.toLowerCase()}: ${msg}`;
}

function castValue(msg: string): string | undefined {
  return /Could not convert string "(.*)" to/.exec(msg)?.[1];
}

/** Maps a kept row's index to its file line, given the sorted data-row indices that were removed. */
function lineMapper(removed: number[], firstLine: number): (rowid: number) => number {
  return (rowid) => {
    let r = rowid;
    for (const x of removed) {
      if (x <= r) r++;
      else break;
    }
    return r + firstLine;
  };
}

async function countRows(con: DuckDBConnection, table: string): Promise<number> {
  return Number((await readRows(con, `SELECT count(*) FROM ${table}`))[0][0]);
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
