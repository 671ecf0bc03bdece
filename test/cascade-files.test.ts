// Lists read from a written cascade (src/cascade/reader.ts): the logs read back from JSONL and Parquet equal the
// in-memory ones, and training from the files gives the same losses and evaluation as training from memory; a cascade
// whose data changed since the build is refused with the file and the field.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateOnCascade } from '../src/cascade/evaluate.js';
import { CascadeLists, type StageCaps } from '../src/cascade/lists.js';
import { loadCascade, type LoadedCascade } from '../src/cascade/reader.js';
import type { CascadeResult, CascadeSource } from '../src/cascade/simulate.js';
import type { CascadeObjective } from '../src/cascade/train.js';
import { writeCascade } from '../src/cascade/writer.js';
import { Rng } from '../src/core/index.js';
import type { DataConfig } from '../src/data/spec.js';
import { MODELS, TINY_CONFIGS } from '../src/models/registry.js';
import { Adam } from '../src/nn/index.js';
import { tinyCascade, trainOnLists } from './cascade-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-cascade-files-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CAPS: StageCaps = { impression: 4, ranking_candidate: 5, prerank_candidate: 6, random: 3 };
const HYBRID: CascadeObjective = { kind: 'hybrid', weights: { distillation: 1, sorting: 1, amRankmax: 1 } };

let cascade: CascadeResult;
let dataCfg: DataConfig;
let dataDir: string;
const loaded: Record<string, LoadedCascade> = {};
before(async () => {
  ({ cascade, dataCfg, dataDir } = await tinyCascade(root, 8));
  for (const fmt of ['jsonl', 'parquet'] as const) {
    await writeCascade(cascade, join(root, fmt, 'logs'), fmt);
    loaded[fmt] = await loadCascade(join(root, fmt), { dataConfig: dataCfg });
  }
});

for (const fmt of ['jsonl', 'parquet'] as const) {
  test(`${fmt}: every request's log read back equals the in-memory one`, () => {
    const l = loaded[fmt];
    assert.equal(l.manifest.format, fmt);
    assert.equal(l.logs.length, cascade.logs.length);
    cascade.logs.forEach((e, i) => {
      const f = l.logs[i];
      const { request: q } = e;
      assert.deepEqual([f.request.id, f.request.split, f.request.user, f.request.t, f.request.windowEnd],
        [q.id, q.split, q.user, q.t, q.windowEnd]);
      assert.deepEqual(f.request.seen, q.seen, 'seen items recomputed from the data');
      assert.deepEqual(f.request.truth, q.truth);
      for (const k of ['items', 'stage', 'label', 'level', 'feedback', 'p', 'prerankScore'] as const) assert.deepEqual(f[k], e[k], `${k} of request ${i}`);
    });
    assert.deepEqual(l.fit.data.features, cascade.fit.data.features);
  });
}

function trainAndEval(src: CascadeSource): { losses: number[]; metrics: Record<string, number> } {
  const m = MODELS['rank-tower']({ features: src.fit.data.features, rng: new Rng(5) }, TINY_CONFIGS['rank-tower'] as never);
  const lists = new CascadeLists(src, 'train', { listsPerBatch: 4, caps: CAPS, seed: 7 });
  const losses = trainOnLists(m, lists, src, HYBRID, { epochs: 2 });
  return { losses, metrics: evaluateOnCascade(m, src, { ks: [5, 10] }).metrics };
}

test('training RankTower from the files gives the same losses and evaluation as from memory (JSONL and Parquet)', () => {
  const mem = trainAndEval(cascade);
  assert.ok(mem.losses.length >= 10 && mem.losses.every(Number.isFinite));
  for (const fmt of ['jsonl', 'parquet'] as const) {
    const files = trainAndEval(loaded[fmt]);
    assert.deepEqual(files.losses, mem.losses, fmt);
    assert.deepEqual(files.metrics, mem.metrics, fmt);
  }
});

test('bad input: changed data, a missing file, a sample of an unknown request give errors naming the file', async () => {
  const dir = join(root, 'jsonl');
  // one more event before a request's t of some user: its seen count no longer matches
  const q = cascade.logs[0].request;
  const ev = join(dataDir, 'events.csv');
  const orig = readFileSync(ev, 'utf8');
  try {
    const unseen = cascade.itemKeys.find((_, i) => !q.seen.includes(i))!;
    appendFileSync(ev, `${cascade.userKeys[q.user]},${unseen},4,${cascade.periods.start},ios\n`);
    await assert.rejects(loadCascade(dir, { dataConfig: dataCfg }), /requests\.jsonl: request \d+: seen = \d+ .*the data changed/);
  } finally {
    writeFileSync(ev, orig);
  }
  const samples = join(dir, 'logs', 'samples.jsonl');
  const lines = readFileSync(samples, 'utf8');
  try {
    writeFileSync(samples, lines.replaceAll('"request":0,', '"request":999,'));
    await assert.rejects(loadCascade(dir, { dataConfig: dataCfg }), /samples\.jsonl: request 999 is not in requests\.jsonl/);
    rmSync(samples);
    await assert.rejects(loadCascade(dir, { dataConfig: dataCfg }), /samples\.jsonl: missing/);
  } finally {
    writeFileSync(samples, lines);
  }
  await assert.rejects(loadCascade(join(root, 'nowhere')), /no manifest\.json/);
});
