// `prerank cascade inspect`: per split and stage, the counts and label mix of a written cascade, read back from its
// files with DuckDB (so it checks what was written, not what the manifest claims), beside the manifest's skips.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDuckDB } from '../data/duck-db.js';
import type { CascadeManifest } from './writer.js';

export interface CascadeInspectRow {
  split: string;
  stage: string;
  level: string;
  samples: number;
  requests: number;
  withFeedback: number;
  meanP: number | null;
}

export interface CascadeInspect {
  dir: string;
  manifest: CascadeManifest;
  rows: CascadeInspectRow[];
}

/** The logs directory of a build: `dir` itself or dir/logs. */
export function cascadeLogDir(dir: string): string {
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  if (existsSync(join(dir, 'logs', 'manifest.json'))) return join(dir, 'logs');
  throw new Error(`${dir}: no manifest.json here or in ${join(dir, 'logs')} (run prerank cascade build first)`);
}

export async function inspectCascade(dir: string): Promise<CascadeInspect> {
  const logDir = cascadeLogDir(dir);
  const manifest = JSON.parse(readFileSync(join(logDir, 'manifest.json'), 'utf8')) as CascadeManifest;
  const file = join(logDir, manifest.files.samples).replaceAll("'", "''");
  const src = manifest.format === 'parquet' ? `read_parquet('${file}')` : `read_json('${file}', format = 'newline_delimited')`;
  const db = await openDuckDB();
  const con = await db.connect();
  try {
    const res = await con.runAndReadAll(`SELECT split, stage, level, count(*)::INTEGER, count(DISTINCT request)::INTEGER,
      count(feedback)::INTEGER, avg(p) FROM ${src} GROUP BY ALL ORDER BY split DESC, min(position), level`);
    const rows = res.getRows().map((r) => ({ split: String(r[0]), stage: String(r[1]), level: String(r[2]), samples: Number(r[3]),
      requests: Number(r[4]), withFeedback: Number(r[5]), meanP: r[6] === null ? null : Number(r[6]) }));
    return { dir: logDir, manifest, rows };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

export function formatCascadeInspect(x: CascadeInspect): string {
  const m = x.manifest;
  const s = m.stages;
  const out = [`${m.name} (${m.data}), seed ${m.seed}, ${m.format} in ${x.dir}`,
    `stages: R ${s.recall} -> P ${s.prerank} -> S ${s.impressions}, random Q ${s.random}; corpus at the end of period 1: ${m.corpusAtFitEnd} items`,
    `periods: fit < ${m.periods.iso.fitEnd} (${m.periods.events.fit} events), train < ${m.periods.iso.trainEnd} (${m.periods.events.train}), eval (${m.periods.events.eval})`,
    `models: pre-ranker ${m.models.prerank.kind} (period-1 test AUC ${m.models.prerank.testAuc.toFixed(4)}), teacher ${m.models.teacher.kind} (${m.models.teacher.testAuc.toFixed(4)}), recall ${m.models.recall.kind}`];
  for (const [split, c] of Object.entries(m.counts)) {
    const g = c.groundTruth;
    out.push(`${split}: ${c.requests}${c.requested === undefined ? '' : ` of ${c.requested} asked`} requests of ${c.activeUsers} active users; skipped: ${c.skipped.noGroundTruth} without ground truth, `
      + `${c.skipped.corpusTooSmall} corpus too small; ground truth ${g.items} items: ${g.recalled} recalled, ${g.ranked} ranked, ${g.shown} shown`);
  }
  out.push('', `${'split'.padEnd(6)} ${'stage'.padEnd(18)} ${'level'.padEnd(18)} ${'samples'.padStart(9)} ${'per req'.padStart(8)} ${'feedback'.padStart(9)} ${'mean p'.padStart(7)}`);
  for (const r of x.rows) {
    const perReq = m.counts[r.split as 'train' | 'eval']?.requests;
    out.push(`${r.split.padEnd(6)} ${r.stage.padEnd(18)} ${r.level.padEnd(18)} ${String(r.samples).padStart(9)} `
      + `${(perReq ? (r.samples / perReq).toFixed(2) : '-').padStart(8)} ${String(r.withFeedback).padStart(9)} ${(r.meanP === null ? '-' : r.meanP.toFixed(3)).padStart(7)}`);
  }
  return out.join('\n');
}
