// Writes a simulated cascade as files: samples (one row per logged sample), requests (one row per request, with its
// whole ground truth) and manifest.json (seed, config, periods, stage sizes, models, counts, skips). JSONL is written
// directly; Parquet goes through DuckDB (the dependency src/data already uses) from a temporary JSONL file.
// The directory is built beside the target and swapped in (src/util/atomic-dir.ts).
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { openDuckDB } from '../data/duck-db.js';
import { writeDirAtomic } from '../util/atomic-dir.js';
import { STAGES } from './labels.js';
import type { CascadeResult } from './simulate.js';

export const SAMPLE_COLUMNS = {
  request: 'INTEGER', split: 'VARCHAR', user: 'VARCHAR', t: 'DOUBLE', item: 'VARCHAR', position: 'INTEGER',
  stage: 'VARCHAR', label: 'DOUBLE', level: 'VARCHAR', feedback: 'DOUBLE', p: 'DOUBLE', prerank_score: 'DOUBLE',
} as const;

export const REQUEST_COLUMNS = {
  request: 'INTEGER', split: 'VARCHAR', user: 'VARCHAR', t: 'DOUBLE', window_end: 'DOUBLE', seen: 'INTEGER',
  truth_items: 'VARCHAR[]', truth_feedback: 'DOUBLE[]', truth_time: 'DOUBLE[]',
} as const;

export type CascadeFormat = 'jsonl' | 'parquet';

export interface CascadeManifest {
  version: 1;
  name: string;
  data: string;
  seed: number;
  format: CascadeFormat;
  files: { samples: string; requests: string };
  periods: CascadeResult['periods'] & { iso: { fitEnd: string; trainEnd: string } };
  stages: CascadeResult['config']['stages'];
  corpusAtFitEnd: number;
  labels: CascadeResult['config']['labels'];
  levels: string[];
  models: CascadeResult['stageModels'] & { recall: { kind: 'cooccurrence'; seedItems: number; neighbours: number } };
  counts: CascadeResult['counts'];
  seconds: CascadeResult['seconds'];
  config: CascadeResult['config'];
}

const num = (x: number): number | null => (Number.isNaN(x) ? null : x);

export function manifestOf(r: CascadeResult, format: CascadeFormat): CascadeManifest {
  const iso = (s: number): string => (Number.isFinite(s) && s > 1e8 && s < 1e10 ? new Date(s * 1000).toISOString() : String(s));
  return {
    version: 1, name: r.config.name, data: r.dataName, seed: r.config.seed, format,
    files: { samples: `samples.${format}`, requests: `requests.${format}` },
    periods: { ...r.periods, iso: { fitEnd: iso(r.periods.fitEnd), trainEnd: iso(r.periods.trainEnd) } },
    stages: r.config.stages, corpusAtFitEnd: r.fit.corpusAtFitEnd, labels: r.config.labels, levels: r.levels,
    models: { ...r.stageModels, recall: { kind: 'cooccurrence', ...r.config.recall } },
    counts: r.counts, seconds: r.seconds, config: r.config,
  };
}

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  for (const line of lines) if (!out.write(`${line}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

function* sampleLines(r: CascadeResult): Generator<string> {
  for (const e of r.logs) {
    const q = e.request;
    for (let k = 0; k < e.items.length; k++) {
      yield JSON.stringify({ request: q.id, split: q.split, user: r.userKeys[q.user], t: q.t, item: r.itemKeys[e.items[k]],
        position: k, stage: STAGES[e.stage[k]], label: e.label[k], level: r.levels[e.level[k]], feedback: num(e.feedback[k]),
        p: num(e.p[k]), prerank_score: num(e.prerankScore[k]) });
    }
  }
}

function* requestLines(r: CascadeResult): Generator<string> {
  for (const e of r.logs) {
    const q = e.request;
    yield JSON.stringify({ request: q.id, split: q.split, user: r.userKeys[q.user], t: q.t, window_end: q.windowEnd,
      seen: q.seen.length, truth_items: q.truth.map((g) => r.itemKeys[g.item]), truth_feedback: q.truth.map((g) => g.feedback),
      truth_time: q.truth.map((g) => g.time) });
  }
}

const sqlStr = (s: string): string => `'${s.replaceAll("'", "''")}'`;

async function toParquet(jsonl: string, parquet: string, columns: Record<string, string>): Promise<void> {
  const db = await openDuckDB();
  const con = await db.connect();
  try {
    const cols = `{${Object.entries(columns).map(([k, v]) => `${sqlStr(k)}: ${sqlStr(v)}`).join(', ')}}`;
    await con.run(`COPY (SELECT * FROM read_json(${sqlStr(jsonl)}, format = 'newline_delimited', columns = ${cols}))
      TO ${sqlStr(parquet)} (FORMAT parquet)`);
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** Writes samples, requests and manifest.json into dir (replaced as a whole); returns the manifest. */
export async function writeCascade(r: CascadeResult, dir: string, format: CascadeFormat): Promise<CascadeManifest> {
  const manifest = manifestOf(r, format);
  await writeDirAtomic(dir, async (tmp) => {
    const files: [string, Iterable<string>, Record<string, string>][] = [
      ['samples', sampleLines(r), SAMPLE_COLUMNS], ['requests', requestLines(r), REQUEST_COLUMNS]];
    for (const [name, lines, cols] of files) {
      const jsonl = join(tmp, `${name}.jsonl`);
      await writeLines(jsonl, lines);
      if (format === 'parquet') {
        await toParquet(jsonl, join(tmp, `${name}.parquet`), cols);
        rmSync(jsonl);
      }
    }
    writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  });
  return manifest;
}
