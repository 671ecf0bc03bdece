// Encoders fitted by DuckDB over the staged tables of stageIngest (rows_t, user_keys, item_keys): the split as a fold
// column of table r, train rows per entity, vocabularies from GROUP BY counts of train rows (table voc_<owner>),
// scalers, per-entity statistics, and the user/item tables encoded. Only entity-sized arrays reach JavaScript; the
// results equal FeatureEncoders.fit on the same rows and splits (test/data-sql-fit.test.ts).
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from './data-error.js';
import { ident, readColumns, readRows } from './duck-read.js';
import type { SqlType } from './duck-source.js';
import { emptyTable, encodeDense, type EncodedTable } from './encode-table.js';
import { entitySql, type StagedIngest } from './ingest.js';
import { Scaler } from './scaler.js';
import { featureColumn, type DataConfig, type FeatureSpec, type SequenceSpec } from './spec.js';

export type Side = 'user' | 'item';

export interface SqlFit {
  /** Train rows per user / item entity. */
  trainRows: Record<Side, Float64Array>;
  /** Per vocabulary owner: its DuckDB table (token, id) and number of kept tokens. */
  vocabs: Map<string, { table: string; tokens: number }>;
  scalers: Map<string, Scaler>;
  /** Raw per-entity statistic values and the fallback of entities without train rows. */
  stats: Map<string, { perEntity: Float64Array; fallback: number }>;
  tables: Record<Side, EncodedTable>;
}

/** JavaScript's String.prototype.trim whitespace, for DuckDB's trim(). */
const WS = [9, 10, 11, 12, 13, 32, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232,
  8233, 8239, 8287, 12288, 65279].map((c) => `chr(${c})`).join(' || ');
const LIST_SEP_SQL = 'chr(31)';

/** SQL text of a raw value as rawKey makes it (numbers as JavaScript prints integers; NaN and infinities NULL). */
function textOf(col: string, type: SqlType): string {
  if (type === 'VARCHAR') return `NULLIF(${col}, '')`;
  return `CASE WHEN NOT isfinite(${col}) THEN NULL WHEN ${col} = trunc(${col}) AND abs(${col}) < 1e15
    THEN CAST(${col}::BIGINT AS VARCHAR) ELSE CAST(${col} AS VARCHAR) END`;
}

/** Where a feature's column lives: the entity source table (alias s) or rows (alias r), and its SQL type. */
export function columnRef(cfg: DataConfig, st: StagedIngest, f: { source: string }, column: string): { expr: string; type: SqlType } {
  if (f.source === 'context') {
    const c = st.rows.columns.get(column);
    if (!c) throw new Error(`column '${column}' was not loaded`);
    return { expr: `r.${c.col}`, type: c.type };
  }
  const u = st.plan.entity[f.source as Side].get(column);
  if (!u) throw new Error(`column '${column}' was not loaded`);
  return { expr: `s.${ident(column)}`, type: u.type };
}

/** A sparse feature's value key (NULL = OOV). */
export function sparseKey(cfg: DataConfig, st: StagedIngest, f: FeatureSpec): string {
  const c = columnRef(cfg, st, f, featureColumn(f));
  return textOf(c.expr, c.type);
}

/** A sequence feature's tokens as a DuckDB list, as splitTokens / sequenceTokens make them. */
export function tokensExpr(cfg: DataConfig, st: StagedIngest, f: SequenceSpec): string {
  if (f.flagColumns) {
    const parts = f.flagColumns.map((fc) => {
      const c = columnRef(cfg, st, f, fc);
      return `CASE WHEN isfinite(${c.expr}) AND ${c.expr} <> 0 THEN '${fc.replace(/'/g, "''")}' END`;
    });
    return `list_filter([${parts.join(', ')}], x -> x IS NOT NULL)`;
  }
  const c = columnRef(cfg, st, f, featureColumn(f));
  const v = c.type === 'VARCHAR' ? c.expr : textOf(c.expr, c.type);
  const sep = `'${f.separator.replace(/'/g, "''")}'`;
  return `list_filter(list_transform(CASE WHEN contains(${v}, ${LIST_SEP_SQL}) THEN string_split(${v}, ${LIST_SEP_SQL})
    ELSE string_split(${v}, ${sep}) END, x -> trim(x, ${WS})), x -> x <> '')`;
}

/** Table r: rows_t plus _f, the fold (0 train, 1 val, 2 test), as splitRows assigns it (random splits: by hash). */
export async function createFolds(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest): Promise<void> {
  const { method, val, test } = cfg.split;
  const n = st.rows.rows;
  let fold: string;
  let from = 'rows_t';
  if (method === 'column') {
    const c = st.rows.fold!;
    fold = `CASE lower(${c}) WHEN 'train' THEN 0 WHEN 'val' THEN 1 WHEN 'valid' THEN 1 WHEN 'validation' THEN 1
      WHEN 'test' THEN 2 END`;
    const bad = await readRows(con, `SELECT ${c} FROM rows_t WHERE (${fold}) IS NULL LIMIT 1`);
    if (bad.length) {
      throw new DataError(`split column "${cfg.split.column}" holds "${bad[0][0]}"; expected train, val or test`);
    }
  } else if (method === 'random') {
    const nTest = Math.round(test * n), nVal = Math.round(val * n);
    from = `(SELECT *, row_number() OVER (ORDER BY hash(_r::BIGINT * 2654435761 + ${cfg.seed}), _r) - 1 AS _k FROM rows_t)`;
    fold = `CASE WHEN _k < ${nTest} THEN 2 WHEN _k < ${nTest + nVal} THEN 1 ELSE 0 END`;
  } else {
    const t = st.rows.time!;
    from = `(SELECT *, row_number() OVER (PARTITION BY _u ORDER BY ${t} DESC, _r DESC) - 1 AS _back,
      count(*) OVER (PARTITION BY _u) AS _n FROM rows_t)`;
    const nTest = method === 'leave-last-out' ? 'CASE WHEN _n >= 2 THEN 1 ELSE 0 END'
      : `least(floor(${test}::DOUBLE * _n + 0.5), _n - 1)`;
    const nVal = method === 'leave-last-out' ? 'CASE WHEN _n >= 3 THEN 1 ELSE 0 END'
      : `least(floor(${val}::DOUBLE * _n + 0.5), _n - 1 - (${nTest}))`;
    fold = `CASE WHEN _back < ${nTest} THEN 2 WHEN _back < (${nTest}) + (${nVal}) THEN 1 ELSE 0 END`;
  }
  await con.run(`CREATE TEMP TABLE r AS SELECT rows_t.*, f._f FROM rows_t JOIN
    (SELECT _r, (${fold})::TINYINT AS _f FROM ${from}) f USING (_r)`);
}

/** Creates user_src / item_src (raw entity columns) and returns train rows per entity. */
async function entitySources(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest): Promise<Record<Side, Float64Array>> {
  const out = {} as Record<Side, Float64Array>;
  for (const side of ['user', 'item'] as const) {
    await con.run(`CREATE TEMP TABLE ${side}_src AS ${entitySql(cfg, st.plan, side)}`);
    const col = side === 'user' ? '_u' : '_i';
    await con.run(`CREATE TEMP TABLE ${side}_w AS SELECT e.ent AS _ent, coalesce(w.w, 0)::BIGINT AS w FROM ${side}_keys e
      LEFT JOIN (SELECT ${col} AS ent, count(*) AS w FROM r WHERE _f = 0 GROUP BY 1) w ON w.ent = e.ent`);
    [out[side]] = await readColumns(con, `SELECT w FROM ${side}_w ORDER BY _ent`, ['f64'] as const);
  }
  return out;
}

/** Train counts of one feature's values (SQL yielding token, c). */
function countSql(cfg: DataConfig, st: StagedIngest, f: Exclude<FeatureSpec, { kind: 'dense' }>): string {
  const value = f.kind === 'sparse' ? sparseKey(cfg, st, f) : `unnest(${tokensExpr(cfg, st, f)})`;
  if (f.source === 'context') {
    return `SELECT token, count(*) AS c FROM (SELECT ${value} AS token FROM r WHERE r._f = 0) WHERE token IS NOT NULL GROUP BY 1`;
  }
  return `SELECT token, sum(w) AS c FROM (SELECT ${value} AS token, w.w FROM ${f.source}_src s
    JOIN ${f.source}_w w ON w._ent = s._ent WHERE w.w > 0) WHERE token IS NOT NULL GROUP BY 1`;
}

/** voc_<k> (token, id) per owner: train frequency order, ties by token, ids from 2; minFreq and maxSize applied. */
async function fitVocabularies(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest): Promise<SqlFit['vocabs']> {
  const vocabs: SqlFit['vocabs'] = new Map();
  const owners = cfg.features.filter((f) => f.kind !== 'dense' && !f.shareWith) as Exclude<FeatureSpec, { kind: 'dense' }>[];
  for (const [k, owner] of owners.entries()) {
    if (owner.hashBuckets) throw new DataError(`feature "${owner.name}": hashBuckets is not supported with cache (remove cache from the data config)`);
    const parts = cfg.features.filter((f) => f.kind !== 'dense' && (f.shareWith ?? f.name) === owner.name)
      .map((f) => countSql(cfg, st, f as Exclude<FeatureSpec, { kind: 'dense' }>));
    const table = `voc_${k}`;
    const limit = owner.maxSize !== undefined ? `WHERE id < ${owner.maxSize + 2}` : '';
    await con.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM (SELECT token, (row_number() OVER (ORDER BY c DESC, token)
      + 1)::INTEGER AS id FROM (SELECT token, sum(c) AS c FROM (${parts.join(' UNION ALL ')}) GROUP BY 1
      HAVING sum(c) >= ${owner.minFreq})) ${limit}`);
    const [[n]] = await readRows(con, `SELECT count(*) FROM ${table}`);
    vocabs.set(owner.name, { table, tokens: Number(n) });
  }
  return vocabs;
}

/** The user and item tables encoded (ids through voc_*, dense values through JS scalers fitted on train weights). */
async function encodeEntities(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest, fit: SqlFit): Promise<void> {
  for (const f of cfg.features) {
    if (f.source === 'context') continue;
    const side = f.source;
    const out = fit.tables[side];
    if (f.kind === 'dense') {
      const c = columnRef(cfg, st, f, featureColumn(f));
      const [v] = await readColumns(con, `SELECT ${c.expr} FROM ${side}_src s ORDER BY s._ent`, ['f64'] as const, out.size);
      const sc = Scaler.fit(f.scaler, v, fit.trainRows[side], f.fillNaN);
      fit.scalers.set(f.name, sc);
      out.dense.set(f.name, encodeDense(v, sc));
      continue;
    }
    const voc = fit.vocabs.get(f.shareWith ?? f.name)!.table;
    if (f.kind === 'sparse') {
      const [ids] = await readColumns(con, `SELECT coalesce(v.id, 1) FROM ${side}_src s LEFT JOIN ${voc} v
        ON v.token = ${sparseKey(cfg, st, f)} ORDER BY s._ent`, ['i32'] as const, out.size);
      out.sparse.set(f.name, ids);
      continue;
    }
    const toks = `${f.name}__toks`;
    await con.run(`CREATE TEMP TABLE ${toks} AS SELECT s._ent, ${tokensExpr(cfg, st, f)} AS toks FROM ${side}_src s`);
    const [lengths] = await readColumns(con, `SELECT coalesce(len(toks), 0) FROM ${toks} ORDER BY _ent`, ['i32'] as const, out.size);
    const offsets = new Int32Array(out.size + 1);
    for (let e = 0; e < out.size; e++) offsets[e + 1] = offsets[e] + lengths[e];
    const [ids] = await readColumns(con, `SELECT coalesce(v.id, 1) FROM (SELECT _ent, unnest(toks) AS tok,
      generate_subscripts(toks, 1) AS pos FROM ${toks}) t LEFT JOIN ${voc} v ON v.token = t.tok ORDER BY t._ent, t.pos`,
      ['i32'] as const, offsets[out.size]);
    await con.run(`DROP TABLE ${toks}`);
    out.sequence.set(f.name, { offsets, ids });
  }
}

/** Scalers of context dense features from train-row moments in SQL (equal to Scaler.fit up to summation order). */
async function fitContextScalers(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest, fit: SqlFit): Promise<void> {
  for (const f of cfg.features) {
    if (f.source !== 'context' || f.kind !== 'dense') continue;
    const x = columnRef(cfg, st, f, featureColumn(f)).expr;
    const [[n, sum]] = await readRows(con, `SELECT count(*) FILTER (WHERE isfinite(${x})),
      sum(${x} ORDER BY r._r) FILTER (WHERE isfinite(${x})) FROM r WHERE r._f = 0`);
    const fill = typeof f.fillNaN === 'number' ? f.fillNaN : f.fillNaN === 'zero' || Number(n) === 0 ? 0 : Number(sum) / Number(n);
    let shift = 0, scale = 1;
    if (f.scaler === 'minmax' || f.scaler === 'standard') {
      const v = `CASE WHEN isfinite(${x}) THEN ${x} ELSE ${fill}::DOUBLE END`;
      const [[lo, hi, mean, sd, cnt]] = await readRows(con, `SELECT min(${v}), max(${v}), avg(${v}), stddev_pop(${v}), count(*)
        FROM r WHERE r._f = 0`);
      if (Number(cnt) > 0 && f.scaler === 'minmax') [shift, scale] = [Number(lo), Number(hi) > Number(lo) ? 1 / (Number(hi) - Number(lo)) : 1];
      if (Number(cnt) > 0 && f.scaler === 'standard') [shift, scale] = [Number(mean), Number(sd) > 0 ? 1 / Number(sd) : 1];
    }
    fit.scalers.set(f.name, Scaler.fromJSON({ kind: f.scaler, fill, shift, scale }));
  }
}

/** Per-entity statistics (fitStat's rules) from per-entity train sums in SQL, summed in row order. */
async function fitStats(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest, fit: SqlFit): Promise<void> {
  for (const d of cfg.derived) {
    if (d.kind !== 'stat') continue;
    const side = d.source;
    const cnt = fit.trainRows[side];
    const perEntity = new Float64Array(cnt.length);
    let fallback = 0;
    if (d.stat === 'count') perEntity.set(cnt);
    else {
      const v = d.stat === 'meanLabel' ? 'r._y::FLOAT::DOUBLE' : columnRef(cfg, st, { source: 'context' }, d.column!).expr;
      const agg = `sum(${v} ORDER BY r._r) FILTER (WHERE isfinite(${v}))`;
      const [[gsum, gcnt]] = await readRows(con, `SELECT ${agg}, count(*) FILTER (WHERE isfinite(${v})) FROM r WHERE r._f = 0`);
      const g = Number(gcnt) > 0 ? Number(gsum) / Number(gcnt) : 0;
      const [sum] = await readColumns(con, `SELECT coalesce(a.s, 0) FROM ${side}_keys e LEFT JOIN (SELECT ${side === 'user' ? '_u' : '_i'}
        AS ent, ${agg} AS s FROM r WHERE r._f = 0 GROUP BY 1) a ON a.ent = e.ent ORDER BY e.ent`, ['f64'] as const);
      for (let e = 0; e < cnt.length; e++) {
        const den = cnt[e] + d.prior;
        perEntity[e] = den > 0 ? (sum[e] + d.prior * g) / den : g;
      }
      fallback = g;
    }
    const sc = Scaler.fit(d.scaler, perEntity, cnt, 0);
    fit.scalers.set(d.name, sc);
    fit.stats.set(d.name, { perEntity, fallback });
    fit.tables[side].dense.set(d.name, encodeDense(perEntity, sc));
  }
}

/** Everything but the histories (sql-history.ts) and the per-row columns (cache-build.ts). */
export async function fitInDuckDB(con: DuckDBConnection, cfg: DataConfig, st: StagedIngest): Promise<SqlFit> {
  for (const f of cfg.features) {
    if (f.kind === 'sequence' && f.source === 'context') {
      throw new DataError(`feature "${f.name}": context sequence features are not supported with cache (remove cache from the data config)`);
    }
  }
  await createFolds(con, cfg, st);
  const trainRows = await entitySources(con, cfg, st);
  const fit: SqlFit = { trainRows, vocabs: await fitVocabularies(con, cfg, st), scalers: new Map(), stats: new Map(),
    tables: { user: emptyTable(trainRows.user.length), item: emptyTable(trainRows.item.length) } };
  await encodeEntities(con, cfg, st, fit);
  await fitContextScalers(con, cfg, st, fit);
  await fitStats(con, cfg, st, fit);
  return fit;
}
