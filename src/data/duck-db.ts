// The one way DuckDB is opened: threads default to the machine's core count, PRERANK_DUCKDB_THREADS (or an explicit
// setting, e.g. a data config's duckdb.threads) overrides; memoryLimit and tempDirectory bound what a large ingest
// holds in memory (DuckDB spills sorts, joins and temporary tables to the temp directory beyond the limit).
import { availableParallelism } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';

export interface DuckSettings {
  threads?: number;
  /** DuckDB's memory_limit, e.g. '2GB'; default DuckDB's own (80% of RAM), or PRERANK_DUCKDB_MEMORY. */
  memoryLimit?: string;
  tempDirectory?: string;
}

/** The DuckDB thread count: the explicit value, else PRERANK_DUCKDB_THREADS, else the core count. */
export function duckdbThreads(explicit?: number): number {
  const env = process.env.PRERANK_DUCKDB_THREADS;
  const n = explicit ?? (env !== undefined && env !== '' ? Number(env) : availableParallelism());
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`DuckDB threads must be a positive integer, got ${explicit ?? `PRERANK_DUCKDB_THREADS=${env}`}`);
  }
  return n;
}

/** Opens a DuckDB database (':memory:' or a file) with the shared settings. */
export async function openDuckDB(path = ':memory:', s: DuckSettings = {}): Promise<DuckDBInstance> {
  const opts: Record<string, string> = { threads: String(duckdbThreads(s.threads)) };
  const mem = s.memoryLimit ?? process.env.PRERANK_DUCKDB_MEMORY;
  if (mem) opts.memory_limit = mem;
  if (s.tempDirectory) opts.temp_directory = s.tempDirectory;
  return DuckDBInstance.create(path, opts);
}
