// Cascade experiments (src/cascade/experiment.ts): `prerank experiment` on a "type": "cascade" config trains rows x
// seeds on one cascade and writes results.md (mean ± std over seeds), results.json (every run) and report.html with
// the exact command; the Table 1-4 configs parse; bad configs name the field.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseCascadeExperiment, loadCascadeExperiment } from '../src/cascade/experiment.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';
import { TINY_CONFIGS } from '../src/models/registry.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-cascade-exp-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('prerank experiment on a cascade config: rows x seeds, results.md/json, report.html, the command', () => {
  const dir = join(root, 'cli');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'data.json'), JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 40, items: 60 })));
  writeFileSync(join(dir, 'cascade.json'), JSON.stringify({ name: 'tiny', seed: 3, data: { config: 'data.json' },
    requests: { train: 10, eval: 6, windowSeconds: 500 }, stages: { recall: 20, prerank: 8, impressions: 3, random: 4 },
    prerank: { kind: 'dssm', config: { embedDim: 8, tower: [16, 8] }, epochs: 1, batchSize: 256 },
    teacher: { kind: 'dcn', config: { embedDim: 8, dnn: [16] }, epochs: 1, batchSize: 256 } }));
  const exp = { type: 'cascade', name: 'tiny table', cascade: 'cascade.json', seeds: [1, 2, 3],
    train: { objective: { kind: 'hybrid' }, caps: { impression: 3, ranking_candidate: 3, prerank_candidate: 4, random: 2 }, listsPerBatch: 4,
      epochs: 3, lr: 0.01, ks: [5], validation: { fraction: 0.2 }, earlyStopping: { metric: 'ndcg@5', patience: 1 } },
    rows: [{ label: 'dssm hybrid', model: { kind: 'dssm', config: TINY_CONFIGS.dssm } },
      { label: 'cold pointwise', model: { kind: 'cold', config: TINY_CONFIGS.cold }, objective: { kind: 'pointwise' } },
      { label: 'rank-tower w/o random', model: { kind: 'rank-tower', config: TINY_CONFIGS['rank-tower'] },
        caps: { impression: 3, ranking_candidate: 3, prerank_candidate: 4, random: 0 } }],
    outDir: 'results' };
  writeFileSync(join(dir, 'exp.json'), JSON.stringify(exp));
  const cli = join(import.meta.dirname, '../src/cli/main.js');
  execFileSync(process.execPath, [cli, 'experiment', '--config', join(dir, 'exp.json'), '--seeds', '1,2', '--epochs', '2'], { stdio: 'pipe' });
  const out = join(dir, 'results');
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j.runs.length, 6, '3 rows x 2 seeds (--seeds overrides the file)');
  assert.ok(!isAbsolute(j.experiment.outDir), `results.json names no machine's folders: ${j.experiment.outDir}`);
  assert.equal(j.command, `prerank experiment --config ${join(dir, 'exp.json')} --seeds 1,2 --epochs 2`);
  assert.ok(j.runs.every((r: { epochs: number }) => r.epochs <= 2), '--epochs overrides the file');
  assert.deepEqual(j.runs.map((r: { label: string; seed: number }) => `${r.label}/${r.seed}`),
    ['dssm hybrid/1', 'dssm hybrid/2', 'cold pointwise/1', 'cold pointwise/2', 'rank-tower w/o random/1', 'rank-tower w/o random/2']);
  assert.equal(j.runs[4].caps.random, 0);
  assert.deepEqual(j.runs[2].objective, { kind: 'pointwise' });
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  assert.match(md, /Command: `prerank experiment --config .* --seeds 1,2 --epochs 2`/);
  // each row's cell is the mean ± sample std of its seeds' numbers in results.json
  for (const label of ['dssm hybrid', 'cold pointwise', 'rank-tower w/o random']) {
    const xs = j.runs.filter((r: { label: string }) => r.label === label).map((r: { result: { metrics: Record<string, number> } }) => r.result.metrics['ndcg@5']);
    const mean = (xs[0] + xs[1]) / 2, std = Math.abs(xs[0] - xs[1]) / Math.SQRT2;
    const line = md.split('\n').find((l) => l.startsWith(`| ${label} |`))!;
    assert.ok(line, label);
    assert.equal(line.split('|')[3].trim(), `${mean.toFixed(4)} ± ${std.toFixed(4)}`, `${label}: ${line}`);
  }
  assert.match(md, /\| production pre-ranker \(logged\) \|/);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<table>.*dssm hybrid/s);
  assert.ok(existsSync(join(out, 'runs', 'dssm_hybrid-seed1', 'best')), 'per-run checkpoints under runs/');
  assert.ok(existsSync(join(out, 'runs', 'stage-models', 'prerank')), 'the cascade\'s stage models under runs/ too');
  // --resume after an interruption (the last run missing): the kept runs are not trained again, the missing one is.
  const lost = j.runs.pop();
  writeFileSync(join(out, 'results.json'), JSON.stringify(j));
  execFileSync(process.execPath, [cli, 'experiment', '--config', join(dir, 'exp.json'), '--seeds', '1,2', '--epochs', '2', '--resume'], { stdio: 'pipe' });
  const again = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(again.runs.slice(0, 5), j.runs);
  assert.equal(again.runs[5].label, lost.label);
  assert.deepEqual(again.runs[5].result.metrics, lost.result.metrics, 'the retrained run equals the lost one (same seed)');
});

test('the Table 1-4 configs parse (both datasets) and bad experiment configs name the field', () => {
  const d = join(import.meta.dirname, '../../configs/cascade/experiments');
  const files = readdirSync(d).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 8);
  for (const f of files) {
    const { exp } = loadCascadeExperiment(join(d, f));
    assert.deepEqual(exp.seeds, [1, 2, 3], f);
    assert.match(exp.outDir, /docs\/results\/cascade-table[1-4]-(ml-1m-partial|ml-100k)$/);
  }
  const t1 = loadCascadeExperiment(join(d, 'table1-ml-1m-partial.json')).exp;
  assert.deepEqual([...new Set(t1.rows.map((r) => r.model.kind))], ['lr', 'dssm', 'dat', 'cold', 'int-tower', 'rank-tower']);
  const base = { type: 'cascade', name: 'x', cascade: { name: 'c', data: { recipe: 'ml-100k' } },
    train: { objective: { kind: 'hybrid' }, caps: { impression: 1, ranking_candidate: 1, prerank_candidate: 1, random: 1 } },
    rows: [{ label: 'a', model: { kind: 'dssm' } }], outDir: 'o' };
  assert.doesNotThrow(() => parseCascadeExperiment(base, root));
  assert.throws(() => parseCascadeExperiment({ ...base, rows: [{ label: 'a', model: { kind: 'nope' } }] }, root), /rows\.0\.model\.kind: unknown model 'nope'/);
  assert.throws(() => parseCascadeExperiment({ ...base, rows: [base.rows[0], base.rows[0]] }, root), /label 'a' appears twice/);
  assert.throws(() => parseCascadeExperiment({ ...base, logs: 'x' }, root), /exactly one of cascade and logs/);
  assert.throws(() => parseCascadeExperiment({ ...base, train: { ...base.train, earlyStopping: { metric: 'ndcg' } } }, root), /train\.earlyStopping\.metric/);
  assert.throws(() => parseCascadeExperiment({ ...base, rows: [{ label: 'a', model: { kind: 'dssm' }, objective: { kind: 'listwise', loss: 'nope' } }] }, root),
    /rows\.0\.objective/);
});
