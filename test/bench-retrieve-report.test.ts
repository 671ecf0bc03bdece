// The recall-latency report of `bench retrieve`: read from the JSON line a run prints last, one point per setting and
// run, one table row per setting with the spread over runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRetrieveRun, renderRetrieveReport } from '../bench/retrieve-html.js';

const row = (model: string, index: string, nprobe: number, cap: number, recall: number, p50: number, p99: number) => ({
  corpus: 'synth-M', model, index, nprobe, per_head: 0, sum_depth: 0, sum_groups: 1, ef: model === 'dssm' ? 512 : 0,
  max_candidates: cap, default: nprobe === 1 ? 1 : 0, p50_ms: p50, p99_ms: p99, recall_at_100: recall, exact_p50_ms: 150,
});

test('bench retrieve report: a point per setting and run, a table row per setting with the spread over runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-retrieve-report-'));
  try {
    const run = (name: string, scale: number) => {
      const path = join(dir, `${name}.txt`);
      const curve = [row('inttower', 'multi-vector-centroids', 1, 8192, 0.98, 8 * scale, 20 * scale),
        row('inttower', 'multi-vector-centroids', 4, 4096, 0.95, 10 * scale, 18 * scale), row('dssm', 'inner-product', 0, 4096, 1, 1, 3)];
      writeFileSync(path, `CPU: x\n{"not":"the result"}\n${JSON.stringify({ cpu_model: 'AMD EPYC', date: '2026-12-06', curve })}\n`);
      return readRetrieveRun(path);
    };
    const runs = [run('run1', 1), run('run2', 1.5)];
    assert.equal(runs[1].label, 'run2');
    const html = renderRetrieveReport(runs);
    // two charts (p50, p99), each with 3 settings x 2 runs as points
    assert.equal(html.match(/<circle /g)?.length, 2 * 3 * 2);
    assert.match(html, /inttower mv-centroids/);
    assert.match(html, /<td>nprobe=1 cap=8192 \(default\)<\/td><td>0\.9800<\/td><td>8\.00-12\.00<\/td><td>20\.00-30\.00<\/td><td>150\.0<\/td><td>2<\/td>/);
    assert.match(html, /<td>ef=512 cap=4096<\/td><td>1\.0000<\/td><td>1\.00<\/td><td>3\.00<\/td>/);
    writeFileSync(join(dir, 'bad.txt'), 'CPU: x\n{"no": "curve"}\n');
    assert.throws(() => readRetrieveRun(join(dir, 'bad.txt')), /bad\.txt: no line of JSON with a "curve"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
