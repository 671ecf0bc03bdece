// Query results -> typed arrays, chunk by chunk (no row objects), plus SQL quoting helpers.
import type { DuckDBConnection } from '@duckdb/node-api';

export type ColumnKind = 'i32' | 'f64' | 'f32' | 'str';
export type ColumnArray = Int32Array | Float64Array | Float32Array | (string | null)[];
type Out<K extends readonly ColumnKind[]> = { [I in keyof K]: K[I] extends 'i32' ? Int32Array
  : K[I] extends 'f64' ? Float64Array : K[I] extends 'f32' ? Float32Array : (string | null)[] };

/** Runs `sql` and returns its columns as typed arrays (NULL numbers -> NaN, or -1 for i32). */
export async function readColumns<K extends readonly ColumnKind[]>(con: DuckDBConnection, sql: string, kinds: K,
  rowCount?: number): Promise<Out<K>> {
  const n = rowCount ?? Number((await con.runAndReadAll(`SELECT count(*) FROM (${sql})`)).getRows()[0][0]);
  const out = kinds.map((k) => (k === 'i32' ? new Int32Array(n) : k === 'f64' ? new Float64Array(n)
    : k === 'f32' ? new Float32Array(n) : new Array<string | null>(n).fill(null)));
  const result = await con.run(sql);
  let off = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const m = chunk.rowCount;
    if (off + m > n) throw new Error(`query returned more rows than the ${n} counted`);
    for (let c = 0; c < kinds.length; c++) {
      const vec = chunk.getColumnVector(c);
      const dst = out[c];
      if (kinds[c] === 'str') {
        const s = dst as (string | null)[];
        for (let i = 0; i < m; i++) {
          const v = vec.getItem(i);
          s[off + i] = v === null ? null : String(v);
        }
      } else {
        const a = dst as Int32Array | Float64Array | Float32Array;
        const miss = kinds[c] === 'i32' ? -1 : NaN;
        for (let i = 0; i < m; i++) {
          const v = vec.getItem(i);
          a[off + i] = v === null ? miss : Number(v);
        }
      }
    }
    off += m;
  }
  if (off !== n) throw new Error(`query returned ${off} rows, ${n} expected`);
  return out as unknown as Out<K>;
}

/** All rows of a small query as plain values. */
export async function readRows(con: DuckDBConnection, sql: string): Promise<unknown[][]> {
  return (await con.runAndReadAll(sql)).getRows() as unknown[][];
}

export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
