// `prerank data synth`: a synthetic interaction log of any size with the statistics of real data (long-tailed users
// and items, a daily cycle, user and item features, clicks from a hidden model; src/data/synth-sql.ts), generated and
// written by DuckDB as Parquet (events, users, items) plus the data config that reads them. Rows are computed in
// parallel from hashes of their ids and streamed to the files; JavaScript never holds the log.
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbThreads, openDuckDB } from './duck-db.js';
import { makeTempBeside, swapInto } from '../util/atomic-dir.js';
import { literal } from './duck-read.js';
import { parseDataConfig, type DataConfig, type DataConfigInput } from './spec.js';
import { DEFAULT_SYNTH_PARAMS, SynthSql, layered, type SynthParams } from './synth-sql.js';

export const SYNTH_SIZES = {
  S: { events: 1_000_000, items: 100_000, users: 200_000 },
  M: { events: 10_000_000, items: 1_000_000, users: 2_000_000 },
  L: { events: 100_000_000, items: 10_000_000, users: 5_000_000 },
} as const;
export type SynthSize = keyof typeof SYNTH_SIZES;

export interface SynthOptions {
  events: number;
  users: number;
  items: number;
  seed?: number;
  /** DuckDB threads; default: the machine's available parallelism. The files do not depend on it. */
  threads?: number;
  /** Rows per Parquet row group (default 1M). */
  rowGroupSize?: number;
  params?: Partial<SynthParams>;
  onProgress?: (p: SynthProgress) => void;
}

export interface SynthProgress {
  file: 'users' | 'items' | 'events';
  rows: number;
  total: number;
  seconds: number;
  done: boolean;
}

export interface SynthFileReport {
  file: string;
  rows: number;
  bytes: number;
  seconds: number;
}

export interface SynthResult {
  dir: string;
  config: string;
  files: SynthFileReport[];
  seconds: number;
}

/**
 * Rows per entry of the table that drives a generating query: DuckDB scans a table in parallel by row groups of
 * 122,880 rows (range() it scans on one thread), so the table keeps at least ~64 row groups (for many cores) and at
 * most n / 16 rows (its memory). A function of n only: the files must not depend on the thread count.
 */
const blockOf = (n: number): number => Math.max(1, Math.min(16, Math.floor(n / (64 * 122_880))));
const SYNTH_FILES = ['users', 'items', 'events'] as const;
const ROW_GROUP = 1_000_000;

/** Writes events.parquet, users.parquet, items.parquet, config.json and synth.json into `dir` (replaced whole). */
export async function writeSynthLog(dir: string, opts: SynthOptions): Promise<SynthResult> {
  for (const k of ['events', 'users', 'items'] as const) {
    if (!Number.isSafeInteger(opts[k]) || opts[k] < 1 || opts[k] > 2 ** 31 - 1) throw new Error(`synth: ${k} must be an integer in 1..2^31-1, got ${opts[k]}`);
  }
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) throw new Error(`synth: seed must be an integer in 0..2^31-1, got ${seed}`);
  if (opts.threads !== undefined && (!Number.isSafeInteger(opts.threads) || opts.threads < 1)) {
    throw new Error(`synth: threads must be a positive integer, got ${opts.threads}`);
  }
  const threads = duckdbThreads(opts.threads);
  const params: SynthParams = { ...DEFAULT_SYNTH_PARAMS, ...opts.params };
  const t0 = performance.now();
  const tmp = await makeTempBeside(dir);
  const db = await openDuckDB(':memory:', { threads });
  const con = await db.connect();
  let files: SynthFileReport[];
  try {
    files = await writeFiles(con, tmp, new SynthSql(seed, params), opts);
    const version = String((await con.runAndReadAll('SELECT version()')).getRows()[0][0]);
    const { events, users, items } = opts;
    await writeFile(join(tmp, 'config.json'), `${JSON.stringify(synthDataConfig('.', synthName({ events, users, items, seed })), null, 2)}\n`);
    await writeFile(join(tmp, 'synth.json'), `${JSON.stringify({ events, users, items, seed, rowGroupSize: opts.rowGroupSize ?? ROW_GROUP,
      params, duckdb: version }, null, 2)}\n`);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    con.closeSync();
    db.closeSync();
  }
  await swapInto(tmp, dir);
  return { dir, config: join(dir, 'config.json'), files, seconds: (performance.now() - t0) / 1000 };
}

/** users, items, events: each one COPY from its generating query, polled for progress. */
async function writeFiles(con: DuckDBConnection, out: string, sql: SynthSql, opts: SynthOptions): Promise<SynthFileReport[]> {
  await con.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET preserve_insertion_order = true');
  const layers = {
    users: () => [sql.userLayers('i'), sql.userOutput('i')] as const,
    items: () => [sql.itemLayers('i'), sql.itemOutput('i')] as const,
    events: () => [[...sql.eventLayers('i', opts.events, opts.users), ...sql.userLayers('uid'),
      ...sql.exposureLayers('i', opts.items), ...sql.itemLayers('iid'), ...sql.labelLayers()], sql.eventOutput()] as const,
  };
  const files: SynthFileReport[] = [];
  for (const name of SYNTH_FILES) {
    const path = join(out, `${name}.parquet`);
    const total = opts[name];
    const t1 = performance.now();
    const [l, cols] = layers[name]();
    const query = layered(await source(con, name, total), l, cols);
    const report = (done: boolean, rows: number) =>
      opts.onProgress?.({ file: name, rows, total, seconds: (performance.now() - t1) / 1000, done });
    const timer = setInterval(() => {
      const p = con.progress;
      if (p.percentage > 0) report(false, Math.min(total, Math.round((p.percentage / 100) * total)));
    }, 1000);
    try {
      await con.run(`COPY (${query}) TO ${literal(path)} (FORMAT parquet, COMPRESSION zstd,
        ROW_GROUP_SIZE ${opts.rowGroupSize ?? ROW_GROUP})`);
      await con.run(`DROP TABLE ${name}_blocks`);
    } finally {
      clearInterval(timer);
    }
    report(true, total);
    files.push({ file: `${name}.parquet`, rows: total, bytes: (await stat(path)).size, seconds: (performance.now() - t1) / 1000 });
  }
  return files;
}

/** A table of n / blockOf(n) rows and the query that expands it into row numbers 0..n-1, in order. */
async function source(con: DuckDBConnection, name: string, n: number): Promise<string> {
  const k = blockOf(n);
  await con.run(`CREATE TABLE ${name}_blocks AS SELECT range AS b FROM range(${Math.ceil(n / k)})`);
  return `(SELECT unnest(range(b * ${k}, least(b * ${k} + ${k}, ${n}))) AS i FROM ${name}_blocks)`;
}

/** The dataset name a synthetic log's config carries. */
export function synthName(o: { events: number; users: number; items: number; seed: number }): string {
  return `synth (${o.events} events, ${o.users} users, ${o.items} items, seed ${o.seed})`;
}

/** The data config of a synthetic log whose files are in `dir` (relative paths resolve against the config file). */
export function synthDataConfig(dir: string, name = 'synth'): DataConfigInput {
  const file = (f: string) => (dir === '.' ? f : `${dir}/${f}`);
  return {
    name,
    seed: 42,
    sources: {
      interactions: { path: file('events.parquet') },
      users: { path: file('users.parquet'), key: 'user_id' },
      items: { path: file('items.parquet'), key: 'item_id' },
    },
    keys: { user: 'user_id', item: 'item_id', time: 'ts' },
    label: { column: 'click' },
    features: [
      { kind: 'sparse', name: 'user_id', source: 'user' },
      { kind: 'sparse', name: 'gender', source: 'user' },
      { kind: 'sparse', name: 'age', source: 'user' },
      { kind: 'sparse', name: 'region', source: 'user', minFreq: 2 },
      { kind: 'sequence', name: 'interests', source: 'user', maxLen: 4, pooling: 'mean' },
      { kind: 'dense', name: 'account_age_days', source: 'user', scaler: 'log1p' },
      { kind: 'sparse', name: 'item_id', source: 'item' },
      { kind: 'sparse', name: 'category', source: 'item' },
      { kind: 'sparse', name: 'subcategory', source: 'item' },
      { kind: 'sparse', name: 'brand', source: 'item' },
      { kind: 'sequence', name: 'tags', source: 'item', maxLen: 4, pooling: 'mean' },
      { kind: 'dense', name: 'price', source: 'item', scaler: 'log1p' },
      { kind: 'sparse', name: 'device', source: 'context' },
      { kind: 'sparse', name: 'hour', source: 'context' },
    ],
    derived: [
      { kind: 'stat', name: 'user_events', source: 'user', stat: 'count', scaler: 'log1p' },
      { kind: 'stat', name: 'item_events', source: 'item', stat: 'count', scaler: 'log1p' },
      { kind: 'history', name: 'clicked_items', shareWith: 'item_id', maxLen: 20, pooling: 'mean' },
    ],
    split: { method: 'temporal', val: 0.1, test: 0.1 },
    cache: {},
  };
}

/** The parsed config of the synthetic log in `dir`. */
export function synthConfig(dir: string): DataConfig {
  return parseDataConfig(synthDataConfig(dir));
}
