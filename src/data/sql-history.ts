// Histories of positive train items computed by DuckDB (fitHistory's rules): each user's positive train rows in
// (time, row) order as one list per user (held in memory: 4 bytes per train positive), and per row the part of its
// user's list it may see, as window functions over table r: _hn, the user's positives strictly before the row's time
// (causal), or _hs, the row's own place in its user's list (-1 if it is not a positive train row; non-causal).
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from './data-error.js';
import { readColumns, readRows } from './duck-read.js';
import { gatherHistory, type FittedHistory } from './derived.js';
import type { StagedIngest } from './ingest.js';
import type { SqlFit } from './sql-fit.js';
import type { DataConfig, HistorySpec } from './spec.js';

export interface SqlHistory {
  name: string;
  maxLen: number;
  causal: boolean;
  /** User u's positives are ids[start[u] .. start[u+1]), oldest first; start is shared by every history. */
  start: Int32Array;
  ids: Int32Array;
}

const POSITIVE = 'r._f = 0 AND r._y::FLOAT > 0.5';

/** Fits every history and creates table rx: r plus _hn and/or _hs. */
export async function fitHistories(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest, fit: SqlFit): Promise<SqlHistory[]> {
  const specs = cfg.derived.filter((d): d is HistorySpec => d.kind === 'history');
  const time = st.rows.time;
  const order = time ? `r.${time}, r._r` : 'r._r';
  const causal = (d: HistorySpec): boolean => d.causal ?? time !== undefined;
  for (const d of specs) if (causal(d) && !time) throw new DataError(`history '${d.name}': causal history needs keys.time`);
  const extra: string[] = [];
  if (specs.some(causal)) {
    extra.push(`coalesce(sum(CASE WHEN ${POSITIVE} THEN 1 ELSE 0 END) OVER (PARTITION BY r._u ORDER BY r.${time}
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP), 0)::INTEGER AS _hn`);
  }
  if (specs.some((d) => !causal(d))) {
    extra.push(`(CASE WHEN ${POSITIVE} THEN row_number() OVER (PARTITION BY r._u, (${POSITIVE}) ORDER BY ${order}) - 1
      ELSE -1 END)::INTEGER AS _hs`);
  }
  await con.run(`CREATE TEMP TABLE rx AS SELECT r.*${extra.map((e) => `, ${e}`).join('')} FROM r`);
  if (!specs.length) return [];
  const [[p]] = await readRows(con, `SELECT count(*) FROM r WHERE ${POSITIVE}`);
  const [user, item] = await readColumns(con, `SELECT r._u, r._i FROM r WHERE ${POSITIVE} ORDER BY r._u, ${order}`,
    ['i32', 'i32'] as const, Number(p));
  const users = fit.trainRows.user.length;
  const start = new Int32Array(users + 1);
  for (let k = 0; k < user.length; k++) start[user[k] + 1]++;
  for (let u = 0; u < users; u++) start[u + 1] += start[u];
  return specs.map((d) => {
    const itemIds = fit.tables.item.sparse.get(d.shareWith);
    if (!itemIds) throw new DataError(`history '${d.name}': with cache, shareWith must name a sparse item feature`);
    const ids = new Int32Array(item.length);
    for (let k = 0; k < item.length; k++) ids[k] = itemIds[item[k]];
    return { name: d.name, maxLen: d.maxLen, causal: causal(d), start, ids };
  });
}

/**
 * Gathers one row's history into out[at ..] (gatherHistory's rules) from its user, the per-row value (_hn when
 * causal, _hs otherwise) and the user's list; returns its length.
 */
export class HistoryGather {
  private readonly one: FittedHistory;

  constructor(readonly lists: SqlHistory) {
    const h = lists;
    this.one = { maxLen: h.maxLen, start: h.start, ids: h.ids, end: new Int32Array(1), skip: new Int32Array(1) };
  }

  fill(user: number, perRow: number, out: Int32Array, at: number): number {
    const { start, causal } = this.lists;
    const first = start[user];
    this.one.end[0] = causal ? first + perRow : start[user + 1];
    this.one.skip[0] = causal || perRow < 0 ? -1 : first + perRow;
    return gatherHistory(this.one, 0, user, out, at);
  }
}
