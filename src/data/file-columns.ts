// The columns a source file offers, learned from its first line (or its parquet schema) before any work is done.
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { literal, readRows } from './duck-read.js';
import { DataError } from './data-error.js';
import type { TableSpec } from './spec.js';

export type FileFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export function fileFormat(t: TableSpec): FileFormat {
  if (t.format) return t.format;
  const p = t.path.toLowerCase().replace(/\.gz$/, '');
  const ext = extname(p);
  if (ext === '.parquet') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.tsv') return 'tsv';
  return 'csv';
}

export function delimiterOf(t: TableSpec): string {
  return t.delimiter ?? (fileFormat(t) === 'tsv' ? '\t' : ',');
}

export function quoteOf(t: TableSpec): string {
  return t.quote ?? '"';
}

/** Column names of the file, in file order. Throws a DataError naming the file when it cannot be read. */
export async function fileColumns(con: DuckDBConnection, t: TableSpec): Promise<string[]> {
  const format = fileFormat(t);
  if (format === 'parquet') {
    try {
      const rows = await readRows(con, `DESCRIBE SELECT * FROM read_parquet(${literal(t.path)})`);
      return rows.map((r) => String(r[0]));
    } catch (err) {
      throw new DataError(`${t.path}: cannot be read as Parquet: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const line = await firstLine(t.path, t.encoding === 'latin-1' ? 'latin1' : 'utf8');
  if (format === 'jsonl') {
    try {
      return Object.keys(JSON.parse(line) as object);
    } catch {
      throw new DataError(`${t.path}:1:1: the first line is not a JSON object`);
    }
  }
  const fields = splitLine(line, delimiterOf(t), quoteOf(t));
  if (t.header) return fields;
  if (!t.columns) throw new DataError(`${t.path}: a file without a header needs "columns"`);
  if (fields.length !== t.columns.length) {
    throw new DataError(`${t.path}:1: the config names ${t.columns.length} columns (${t.columns.join(', ')}) ` +
      `but the first line has ${fields.length} fields`);
  }
  return t.columns;
}

async function firstLine(path: string, encoding: BufferEncoding): Promise<string> {
  const raw = createReadStream(path, { highWaterMark: 1 << 16 });
  const stream = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const parts: Buffer[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const nl = chunk.indexOf(10);
      if (nl >= 0) {
        parts.push(chunk.subarray(0, nl));
        break;
      }
      parts.push(chunk);
    }
  } catch (err) {
    throw new DataError(`${path}: cannot be read: ${(err as Error).message}`);
  } finally {
    raw.destroy();
  }
  return Buffer.concat(parts).toString(encoding).replace(/\r$/, '').replace(/^\uFEFF/, '');
}

function splitLine(line: string, delim: string, quote: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    if (quote && line.startsWith(quote, i)) {
      if (inQuote && line.startsWith(quote, i + 1)) {
        cur += quote;
        i++;
      } else inQuote = !inQuote;
    } else if (!inQuote && line.startsWith(delim, i)) {
      out.push(cur);
      cur = '';
      i += delim.length - 1;
    } else cur += line[i];
  }
  out.push(cur);
  return out;
}
