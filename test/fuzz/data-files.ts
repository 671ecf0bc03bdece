// Fuzzing data files: a small real-shaped log (the first rows of ml-latest-small's ratings plus a tag list column)
// written as CSV (LF or CRLF), TSV, JSON Lines or Parquet, plain or gzipped, then corrupted at random, field by field
// or byte by byte, and ingested in both bad-row modes. The rule: the load succeeds (in "error" mode only when no row
// was bad; in "skip" mode with every skipped row counted), or it fails with a DataError that names the file (and the
// line, when a row is to blame). Never another error, a crash or a hang.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { DataError } from '../../src/data/data-error.js';
import { ingest } from '../../src/data/ingest.js';
import { REPO_ROOT } from '../../src/data/recipes.js';
import { parseDataConfig } from '../../src/data/spec.js';

export interface FuzzReport {
  target: string;
  cases: number;
  /** Counterexample and the property's error, when one was found. */
  failure?: string;
}

type Format = 'csv' | 'csv-crlf' | 'tsv' | 'jsonl' | 'parquet';
const FORMATS: Format[] = ['csv', 'csv-crlf', 'tsv', 'jsonl', 'parquet'];
const COLUMNS = ['userId', 'movieId', 'rating', 'timestamp', 'tags'];

/** Header + rows as fields: 24 rows of the shipped ratings, with a few tags. */
function baseRows(): string[][] {
  const text = gunzipSync(readFileSync(join(REPO_ROOT, 'data/ml-latest-small/ratings.csv.gz'))).toString('utf8');
  const tags = ['funny', 'dark', 'classic|war', '', 'sci-fi'];
  return text.split(/\r?\n/).slice(1, 25).map((l, i) => [...l.split(','), tags[i % tags.length]]);
}

/** A corruption of the table's fields, applied before the file is written. */
type FieldEdit =
  | { kind: 'set'; row: number; col: number; value: string }
  | { kind: 'drop'; row: number; col: number }
  | { kind: 'add'; row: number; value: string }
  | { kind: 'empty'; row: number; col: number };
/** A corruption of the written (possibly compressed) bytes. */
type ByteEdit = { kind: 'flip'; at: number; byte: number } | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number } | { kind: 'truncate'; at: number };

interface Case {
  format: Format;
  gz: boolean;
  onBadRow: 'error' | 'skip';
  fields: FieldEdit[];
  bytes: ByteEdit[];
}

const nastyText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', ' ', '"', '""', '"x', 'x"', ',', '\t', '\n', '\r\n', '\r', '|', 'NaN', 'inf', '-0', '1e999', '0x10',
    '\uFEFF', '\u0000', '\\', '{"a":', '[1,2]', 'null', 'true', '__proto__', 'toString', '4.0.0', '１２'),
);
const fieldEdit: fc.Arbitrary<FieldEdit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), row: fc.nat(23), col: fc.nat(4), value: nastyText }),
  fc.record({ kind: fc.constant('drop' as const), row: fc.nat(23), col: fc.nat(4) }),
  fc.record({ kind: fc.constant('add' as const), row: fc.nat(23), value: nastyText }),
  fc.record({ kind: fc.constant('empty' as const), row: fc.nat(23), col: fc.nat(4) }),
);
// positions as fractions of the file, so one arbitrary fits every file size
const at = fc.double({ min: 0, max: 1, noNaN: true });
const byteEdit = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at, byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at }),
);
const caseArb: fc.Arbitrary<Case> = fc.record({
  format: fc.constantFrom(...FORMATS),
  gz: fc.boolean(),
  onBadRow: fc.constantFrom('error' as const, 'skip' as const),
  fields: fc.array(fieldEdit, { maxLength: 3 }),
  bytes: fc.array(byteEdit, { maxLength: 2 }),
}).map((c) => (c.format === 'parquet' ? { ...c, gz: false } : c));

function applyFields(rows: string[][], edits: FieldEdit[]): string[][] {
  const out = rows.map((r) => r.slice());
  for (const e of edits) {
    const r = out[e.row % out.length];
    if (e.kind === 'set') r[e.col % r.length] = e.value;
    else if (e.kind === 'drop') r.splice(e.col % r.length, 1);
    else if (e.kind === 'add') r.push(e.value);
    else r[e.col % r.length] = '';
  }
  return out;
}

function applyBytes(buf: Buffer, edits: ByteEdit[]): Buffer {
  let b = buf;
  for (const e of edits) {
    const i = Math.min(b.length - 1, Math.floor(e.at * b.length));
    if (e.kind === 'flip') {
      b = Buffer.from(b);
      b[i] = e.byte;
    } else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(e.bytes), b.subarray(i)]);
    else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + e.count)]);
    else b = b.subarray(0, i);
  }
  return b;
}

function delimited(rows: string[][], delim: string, eol: string, quote: boolean): string {
  const q = (v: string) => (quote && /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [COLUMNS, ...rows].map((r) => r.map(q).join(delim)).join(eol) + eol;
}

/** JSON Lines keep values typed as a producer would write them: numbers as numbers where they parse. */
function jsonl(rows: string[][]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(r.map((v, i) => {
    const name = COLUMNS[i] ?? `extra${i}`;
    if (name === 'tags') return [name, v === '' ? [] : v.split('|')];
    return [name, v !== '' && Number.isFinite(Number(v)) && name !== 'movieId' ? Number(v) : v];
  })))).join('\n') + '\n';
}

async function writeCase(dir: string, n: number, c: Case, rows: string[][], con: Awaited<ReturnType<DuckDBInstance['connect']>>): Promise<string> {
  const ext = c.format === 'csv-crlf' ? 'csv' : c.format;
  const path = join(dir, `case-${n}.${ext}${c.gz ? '.gz' : ''}`);
  let bytes: Buffer;
  if (c.format === 'parquet') {
    const src = join(dir, `case-${n}.src.csv`);
    writeFileSync(src, delimited(rows.map((r) => COLUMNS.map((_, i) => r[i] ?? '')), ',', '\n', true));
    const types = COLUMNS.map((col) => `'${col}': 'VARCHAR'`).join(', ');
    await con.run(`COPY (SELECT * FROM read_csv('${src}', header=true, auto_detect=false, columns={${types}}, strict_mode=false,
      null_padding=true, parallel=false)) TO '${path}' (FORMAT parquet)`);
    bytes = readFileSync(path);
  } else {
    const text = c.format === 'jsonl' ? jsonl(rows)
      : delimited(rows, c.format === 'tsv' ? '\t' : ',', c.format === 'csv-crlf' ? '\r\n' : '\n', c.format !== 'tsv');
    bytes = Buffer.from(text, 'utf8');
    if (c.gz) bytes = gzipSync(bytes);
  }
  writeFileSync(path, applyBytes(bytes, c.bytes));
  return path;
}

/** Checks one case; throws (with the reason) when the rule above is broken. */
async function checkCase(path: string, c: Case): Promise<void> {
  const cfg = parseDataConfig({
    name: 'fuzz', onBadRow: c.onBadRow, sources: { interactions: { path } },
    keys: { user: 'userId', item: 'movieId', time: 'timestamp' },
    label: { column: 'rating', rule: { op: '>', value: 3 } },
    features: [{ kind: 'sparse', name: 'userId', source: 'user' }, { kind: 'sparse', name: 'movieId', source: 'item' },
      { kind: 'sequence', name: 'tags', source: 'context' }],
  });
  try {
    const raw = await ingest(cfg);
    const r = raw.report;
    if (c.onBadRow === 'error' && r.rowsSkipped > 0) throw new Error(`"error" mode skipped ${r.rowsSkipped} rows`);
    if (r.rowsSkipped > 0 && r.badRows.length === 0) throw new Error(`${r.rowsSkipped} rows skipped, none reported`);
    if (r.rowsRead !== raw.rows + r.rowsSkipped + r.rowsDropped + r.rowsFiltered) {
      throw new Error(`rows do not add up: read ${r.rowsRead}, kept ${raw.rows}, skipped ${r.rowsSkipped}, dropped ${r.rowsDropped}`);
    }
    for (const b of r.badRows) if (b.file !== path || !(b.line >= 1)) throw new Error(`bad row without file and line: ${JSON.stringify(b)}`);
  } catch (err) {
    if (!(err instanceof DataError)) throw new Error(`not a DataError: ${(err as Error)?.stack ?? String(err)}`);
    if (!err.message.includes(path) && !err.badRows.some((b) => b.file === path)) throw new Error(`DataError without the file: ${err.message}`);
    for (const b of err.badRows) if (!(b.line >= 1)) throw new Error(`bad row without a line: ${JSON.stringify(b)}`);
    // a text file that is still text (not a damaged gzip stream) has every problem on a line
    const text = c.format !== 'parquet' && !(c.gz && c.bytes.length > 0);
    if (text && !new RegExp(`${escapeRe(path)}:\\d+`).test(err.message)) throw new Error(`DataError without a line: ${err.message}`);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs `runs` random cases; returns the count and, if the rule broke, the shrunk counterexample. */
export async function fuzzDataFiles(dir: string, runs: number, seed = 1): Promise<FuzzReport> {
  mkdirSync(dir, { recursive: true });
  const rows = baseRows();
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  let n = 0;
  try {
    const result = await fc.check(fc.asyncProperty(caseArb, async (c) => {
      const path = await writeCase(dir, n++, c, applyFields(rows, c.fields), con);
      await checkCase(path, c);
    }), { numRuns: runs, seed, interruptAfterTimeLimit: 10 * 60_000 });
    return { target: 'data files (CSV, TSV, JSONL, Parquet; plain and gzipped)', cases: result.numRuns,
      failure: result.failed ? `${fc.stringify(result.counterexample)}: ${String(result.errorInstance)}` : undefined };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}
