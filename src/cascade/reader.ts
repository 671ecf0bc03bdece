// Reading a written cascade back: `loadCascade(dir)` turns the files of `prerank cascade build` (samples
// and requests as JSONL or Parquet, read with DuckDB; manifest.json says which) into the same RequestLog lists the
// simulator keeps in memory, so `prerank cascade train` can train on a built cascade without re-simulating it.
// The lists also need what the files do not hold: the period-1 Dataset the stage models were fitted on (encoders,
// entity tables) and the user histories as of t. Both are rebuilt from the data config in the manifest and its
// period cut (ingest + periodOneDataset + RequestHistories: deterministic for a seed, no model training); the
// recomputed cut, and every request's count of items seen before t, must equal the files', else the data changed
// since the build and loading fails. Shape letters: N samples of one request.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDuckDB } from '../data/duck-db.js';
import type { Dataset } from '../data/dataset.js';
import type { DataConfig } from '../data/spec.js';
import { parseCascadeConfig, type CascadeConfig } from './config.js';
import { RequestHistories } from './history.js';
import { cascadeLogDir } from './inspect.js';
import { STAGES } from './labels.js';
import { splitPeriods, type Request, type RequestSplit } from './periods.js';
import { ingestEvents, resolveDataConfig, type CascadeSource, type RequestLog } from './simulate.js';
import { periodOneDataset } from './stage-models.js';
import { SAMPLE_COLUMNS, REQUEST_COLUMNS, type CascadeManifest } from './writer.js';

export interface LoadedCascade extends CascadeSource {
  dir: string;
  manifest: CascadeManifest;
  userKeys: string[];
  itemKeys: string[];
  fit: { data: Dataset };
  seconds: { ingest: number; read: number };
}

export interface LoadOptions {
  /** Use this data config instead of the manifest's (tests; must be the data the cascade was built from). */
  dataConfig?: DataConfig;
}

const sqlStr = (s: string): string => `'${s.replaceAll("'", "''")}'`;

function source(manifest: CascadeManifest, logDir: string, which: 'samples' | 'requests'): string {
  const file = join(logDir, manifest.files[which]);
  if (!existsSync(file)) throw new Error(`${file}: missing (the manifest lists it; rebuild with prerank cascade build)`);
  if (manifest.format === 'parquet') return `read_parquet(${sqlStr(file)})`;
  const cols = which === 'samples' ? SAMPLE_COLUMNS : REQUEST_COLUMNS;
  return `read_json(${sqlStr(file)}, format = 'newline_delimited', columns = {${Object.entries(cols).map(([k, v]) => `${sqlStr(k)}: ${sqlStr(v)}`).join(', ')}})`;
}

/** Reads the cascade written under `dir` (the build directory or its logs/). */
export async function loadCascade(dir: string, opts: LoadOptions = {}): Promise<LoadedCascade> {
  const logDir = cascadeLogDir(dir);
  const manifestPath = join(logDir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CascadeManifest;
  if (manifest.version !== 1) throw new Error(`${manifestPath}: version ${manifest.version}, this reader knows 1`);
  if (manifest.format !== 'jsonl' && manifest.format !== 'parquet') throw new Error(`${manifestPath}: format '${manifest.format}' is not jsonl or parquet`);
  let config: CascadeConfig;
  try {
    config = parseCascadeConfig(manifest.config);
  } catch (err) {
    throw new Error(`${manifestPath}: config: ${(err as Error).message}`);
  }
  const t0 = performance.now();
  const dataCfg = opts.dataConfig ?? resolveDataConfig(config);
  const { raw, log } = await ingestEvents(dataCfg);
  const periods = splitPeriods(log.time, config.periods.fit, config.periods.train);
  if (periods.fitEnd !== manifest.periods.fitEnd || periods.trainEnd !== manifest.periods.trainEnd) {
    throw new Error(`${manifestPath}: periods.fitEnd/trainEnd = ${manifest.periods.fitEnd}/${manifest.periods.trainEnd}, but data `
      + `'${dataCfg.name}' now gives ${periods.fitEnd}/${periods.trainEnd}: the data changed since the build (rebuild the cascade)`);
  }
  const fitRows = Int32Array.from({ length: log.rows }, (_, r) => r).filter((r) => log.time[r] < periods.fitEnd);
  const data = periodOneDataset(config, dataCfg, raw, fitRows);
  const histories = RequestHistories.fit(data, log);
  const t1 = performance.now();

  const userId = new Map(raw.users.keys.map((k, i) => [k, i]));
  const itemId = new Map(raw.items.keys.map((k, i) => [k, i]));
  const entity = (m: Map<string, number>, key: string, what: string, file: string, request: number): number => {
    const id = m.get(key);
    if (id === undefined) throw new Error(`${join(logDir, file)}: request ${request}: ${what} '${key}' is not in data '${dataCfg.name}'`);
    return id;
  };
  // events per user in time order, for each request's seen items (checked against the file's count)
  const byUser = new Map<number, number[]>();
  for (let r = 0; r < log.rows; r++) {
    const u = log.user[r];
    if (!byUser.has(u)) byUser.set(u, []);
    byUser.get(u)!.push(r);
  }
  for (const rows of byUser.values()) rows.sort((a, b) => log.time[a] - log.time[b] || a - b);

  const db = await openDuckDB();
  const con = await db.connect();
  try {
    const reqFile = manifest.files.requests;
    const reqs = (await con.runAndReadAll(`SELECT request::INTEGER, split, "user", t, window_end, seen::INTEGER,
      to_json(truth_items)::VARCHAR, to_json(truth_feedback)::VARCHAR, to_json(truth_time)::VARCHAR
      FROM ${source(manifest, logDir, 'requests')} ORDER BY request`)).getRows();
    const requests = new Map<number, Request>();
    for (const row of reqs) {
      const id = Number(row[0]), split = String(row[1]) as RequestSplit;
      if (split !== 'train' && split !== 'eval') throw new Error(`${join(logDir, reqFile)}: request ${id}: split '${split}' is not train or eval`);
      const user = entity(userId, String(row[2]), 'user', reqFile, id);
      const t = Number(row[3]);
      const items = JSON.parse(String(row[6])) as string[], fb = JSON.parse(String(row[7])) as number[], tt = JSON.parse(String(row[8])) as number[];
      const seen = seenBefore(byUser.get(user) ?? [], log.item, log.time, t);
      if (seen.length !== Number(row[5])) {
        throw new Error(`${join(logDir, reqFile)}: request ${id}: seen = ${row[5]} items before t in the file, ${seen.length} in data `
          + `'${dataCfg.name}': the data changed since the build`);
      }
      requests.set(id, { id, split, user, t, windowEnd: Number(row[4]), seen,
        truth: items.map((k, j) => ({ item: entity(itemId, k, 'truth item', reqFile, id), feedback: fb[j], time: tt[j] })) });
    }

    const sampleFile = manifest.files.samples;
    const stream = await con.stream(`SELECT request::INTEGER, item, position::INTEGER, stage, label, level, feedback, p, prerank_score
      FROM ${source(manifest, logDir, 'samples')} ORDER BY request, position`);
    const logs: RequestLog[] = [];
    let cur: { id: number; rows: unknown[][] } | null = null;
    const flush = (): void => {
      if (!cur) return;
      const q = requests.get(cur.id);
      if (!q) throw new Error(`${join(logDir, sampleFile)}: request ${cur.id} is not in ${reqFile}`);
      logs.push(toLog(q, cur.rows, itemId, manifest.levels, (m) => `${join(logDir, sampleFile)}: request ${cur!.id}: ${m}`));
      cur = null;
    };
    for (let chunk = await stream.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await stream.fetchChunk()) {
      for (const row of chunk.getRows()) {
        const id = Number(row[0]);
        if (cur && cur.id !== id) flush();
        if (!cur) cur = { id, rows: [] };
        cur.rows.push(row as unknown[]);
      }
    }
    flush();
    if (logs.length !== requests.size) throw new Error(`${join(logDir, sampleFile)}: ${logs.length} requests with samples, ${requests.size} in ${reqFile}`);
    for (const split of ['train', 'eval'] as const) {
      const n = logs.filter((e) => e.request.split === split).length;
      if (n !== manifest.counts[split]?.requests) throw new Error(`${manifestPath}: counts.${split}.requests = ${manifest.counts[split]?.requests}, the files hold ${n}`);
    }
    return { dir: logDir, manifest, config, logs, histories, fit: { data }, userKeys: raw.users.keys, itemKeys: raw.items.keys,
      seconds: { ingest: (t1 - t0) / 1000, read: (performance.now() - t1) / 1000 } };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** Distinct items of the user's events before t, ordered by their most recent occurrence (as the simulator's seen). */
function seenBefore(rows: number[], item: Int32Array, time: Float64Array, t: number): Int32Array {
  const order = new Map<number, number>();
  for (const r of rows) {
    if (time[r] >= t) break;
    order.delete(item[r]);
    order.set(item[r], r);
  }
  return Int32Array.from(order.keys());
}

function toLog(request: Request, rows: unknown[][], itemId: Map<string, number>, levels: string[], where: (m: string) => string): RequestLog {
  const N = rows.length;
  const out: RequestLog = { request, items: new Int32Array(N), stage: new Uint8Array(N), label: new Float32Array(N),
    level: new Uint8Array(N), feedback: new Float32Array(N), p: new Float32Array(N), prerankScore: new Float32Array(N) };
  const num = (v: unknown): number => (v === null ? NaN : Number(v));
  rows.forEach((row, k) => {
    if (Number(row[2]) !== k) throw new Error(where(`positions are not 0..${N - 1} (got ${row[2]} at ${k})`));
    const it = itemId.get(String(row[1]));
    if (it === undefined) throw new Error(where(`item '${row[1]}' is not in the data`));
    const st = STAGES.indexOf(String(row[3]) as (typeof STAGES)[number]);
    if (st < 0) throw new Error(where(`stage '${row[3]}' is not one of ${STAGES.join(', ')}`));
    const lv = levels.indexOf(String(row[5]));
    if (lv < 0) throw new Error(where(`level '${row[5]}' is not in the manifest's levels`));
    out.items[k] = it;
    out.stage[k] = st;
    out.label[k] = Number(row[4]);
    out.level[k] = lv;
    out.feedback[k] = num(row[6]);
    out.p[k] = num(row[7]);
    out.prerankScore[k] = num(row[8]);
  });
  return out;
}
