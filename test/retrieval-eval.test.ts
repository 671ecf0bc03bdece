// Retrieval measured through a run's exported index (`ranking.index` of an experiment, src/serve/run-index.ts): on a
// corpus the index's default search covers, the metrics equal exact full-corpus retrieval (DSSM's inner-product
// HNSW, IntTower's and RankTower's head indexes; the centroid index probes one list per query vector, which covers
// part of even a small corpus); items the index does not return count as not retrieved; and an experiment reports
// both tables.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/index.js';
import { Dataset, parseDataConfig, writeSyntheticLog } from '../src/data/index.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { openRunIndex } from '../src/serve/run-index.js';
import { nativeScan } from '../src/serve/compiled.js';
import { serveAddon } from '../src/serve/native.js';
import { ExperimentSchema, runExperiment } from '../src/train/experiment.js';
import { popularityRanking, rankingEval } from '../src/train/ranking-eval.js';
import type { RunResult } from '../src/train/run.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-retrieval-eval-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dataInput = writeSyntheticLog(join(dir, 'data'), { users: 60, items: 40, interactionsPerUser: 15, seed: 4 });
const ds = await Dataset.load(parseDataConfig(dataInput));

/** What openRunIndex reads of a training run: the model, its config and where its run directory is. */
function run(kind: ModelName, outDir: string): RunResult {
  const config = { ...TINY_CONFIGS[kind] } as Record<string, unknown>;
  const model = MODELS[kind]({ features: ds.features, rng: new Rng(3) }, config as never) as RecModel;
  return { model, config: { outDir, model: { kind, config } } } as unknown as RunResult;
}

for (const [kind, headIndex] of [['dssm', 'hnsw'], ['int-tower', 'hnsw'], ['rank-tower', 'hnsw']] as const) {
  test(`${kind} through its exported index (${headIndex}) retrieves what exact full-corpus scoring does on a corpus the search covers`, async () => {
    const r = run(kind, join(dir, `${kind}-${headIndex}`));
    const o = { split: 'test', ks: [5, 10] } as const;
    const { exact, index: none } = rankingEval(r.model, ds, o);
    assert.equal(none, undefined, 'no candidates, no index table');
    const index = (await openRunIndex(r, ds, headIndex))!;
    try {
      const both = rankingEval(r.model, ds, { ...o, candidates: index.candidates });
      assert.deepEqual(both.exact, exact, 'the pass through the index gives the exact table too');
      const through = both.index!;
      for (const key of Object.keys(exact)) assert.ok(Math.abs(through[key] - exact[key]) < 1e-9, `${key}: ${through[key]} vs exact ${exact[key]}`);
      assert.ok(through.candidates > 10 && through.candidates <= ds.itemCount, `candidates ${through.candidates}`);
      assert.equal(through['overlap@5'], 1, 'the index path keeps every item of the exact top-5');
      assert.equal(through['overlap@10'], 1);
      assert.equal(exact['overlap@10'], undefined, 'exact retrieval has nothing to overlap');
      // only what the generator returns is retrieved: three rows leave recall@10 at most what three hits give
      const fewBoth = rankingEval(r.model, ds, { ...o, candidates: () => Int32Array.from([0, 1, 2]) });
      assert.deepEqual(fewBoth.exact, exact, 'the exact table does not depend on the candidates');
      const few = fewBoth.index!;
      assert.equal(few.candidates, 3);
      assert.ok(few['recall@10'] < exact['recall@10'], `three candidates: ${few['recall@10']} vs ${exact['recall@10']}`);
      assert.ok(few['precision@10'] <= 0.3 + 1e-12);
      assert.ok(few['overlap@10'] <= 0.3 + 1e-12 && few['overlap@5'] <= 0.6 + 1e-12, `overlap of three rows: ${few['overlap@5']}, ${few['overlap@10']}`);
      // every user's list is what is left of rows 0-2 after its train items: lists of at most 3 of 10, mostly alike
      assert.ok(few['shared@10'] > 0 && few['shared@10'] <= 0.3 + 1e-12, `shared@10 of three rows: ${few['shared@10']}`);
      assert.ok(exact['shared@10'] >= 0 && exact['shared@10'] <= 1);
    } finally {
      index.close();
    }
  });
}

for (const kind of ['dssm', 'int-tower', 'rank-tower'] as const) {
  test(`${kind}: the native plan's full scan gives the ranking metrics the model's tensors give`, { skip: serveAddon() ? undefined : 'no native addon' }, () => {
    const r = run(kind, join(dir, `${kind}-scan`));
    const o = { split: 'test', ks: [5, 10] } as const;
    let calls = 0;
    const counted: typeof nativeScan = (model, items, width) => {
      const f = nativeScan(model, items, width);
      assert.ok(f, `${kind} has a native plan`);
      return (rep) => (calls++, f(rep));
    };
    const viaTensors = rankingEval(r.model, ds, o).exact;
    const viaPlan = rankingEval(r.model, ds, { ...o, scan: counted }).exact;
    assert.equal(calls, viaTensors.users, 'one native scan per evaluated user');
    for (const key of Object.keys(viaTensors)) assert.ok(Math.abs(viaPlan[key] - viaTensors[key]) < 1e-9, `${key}: ${viaPlan[key]} vs ${viaTensors[key]}`);
  });
}

test("the popularity reference ranks each user's unseen items by their positive train rows", () => {
  const ks = [3, 10];
  const got = popularityRanking(ds, { split: 'test', ks });
  // by hand: counts, a full sort per user (count desc, then item index), recall and precision at each K
  const counts = new Map<number, number>();
  for (const r of ds.splits.train) if (ds.label[r] > 0.5) counts.set(ds.rowItem[r], (counts.get(ds.rowItem[r]) ?? 0) + 1);
  const seen = new Map<number, Set<number>>(), pos = new Map<number, Set<number>>();
  for (const r of ds.splits.train) (seen.get(ds.rowUser[r]) ?? seen.set(ds.rowUser[r], new Set()).get(ds.rowUser[r])!).add(ds.rowItem[r]);
  for (const r of ds.splits.test) if (ds.label[r] > 0.5) (pos.get(ds.rowUser[r]) ?? pos.set(ds.rowUser[r], new Set()).get(ds.rowUser[r])!).add(ds.rowItem[r]);
  const sums = ks.map(() => ({ recall: 0, precision: 0 }));
  let users = 0;
  for (const [u, items] of pos) {
    const mine = seen.get(u) ?? new Set<number>();
    const relevant = [...items].filter((i) => !mine.has(i));
    if (!relevant.length) continue;
    users++;
    const order = Array.from({ length: ds.itemCount }, (_, i) => i).filter((i) => !mine.has(i))
      .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a - b);
    ks.forEach((k, t) => {
      const hits = order.slice(0, k).filter((i) => items.has(i)).length;
      sums[t].recall += hits / relevant.length;
      sums[t].precision += hits / k;
    });
  }
  assert.ok(users > 10);
  assert.equal(got.users, pos.size);
  ks.forEach((k, t) => {
    assert.ok(Math.abs(got[`recall@${k}`] - sums[t].recall / users) < 1e-12, `recall@${k}: ${got[`recall@${k}`]} vs ${sums[t].recall / users}`);
    assert.ok(Math.abs(got[`precision@${k}`] - sums[t].precision / users) < 1e-12, `precision@${k}`);
  });
});

test('an experiment with ranking.index reports retrieval through each run\'s index beside exact retrieval', async () => {
  const dataConfig = join(dir, 'data.json');
  writeFileSync(dataConfig, JSON.stringify(dataInput));
  const exp = ExperimentSchema.parse({
    name: 'tiny retrieval', data: { config: dataConfig }, seeds: [1], base: 'dssm', outDir: join(dir, 'exp'),
    models: [{ kind: 'dssm', config: { tower: [16, 8] } }, { kind: 'lr' }],
    train: { batchSize: 256, epochs: 1 }, ranking: { ks: [5], index: 'hnsw' },
  });
  await assert.rejects(runExperiment(exp, 'test command', () => {}), /ranking\.index: this caller cannot build retrieval indexes/);
  const runs = await runExperiment(exp, 'test command', () => {}, { openIndex: openRunIndex });
  const dssm = runs.find((x) => x.label === 'dssm')!;
  assert.ok(dssm.rankingIndex && dssm.ranking);
  assert.equal(dssm.rankingIndex['recall@5'], dssm.ranking['recall@5']);
  assert.equal(runs.find((x) => x.label === 'lr')!.rankingIndex, undefined, 'LR scores no inner product or max-sim: no index');
  assert.equal(existsSync(join(dir, 'exp', 'runs', 'dssm-seed1', 'bundle')), false, 'the bundle is removed once measured');
  assert.ok(existsSync(join(dir, 'exp', 'runs', 'dssm-seed1', 'best')), 'the checkpoint stays');
  // early stopping on a ranking metric: the native scan serves validation and the test tables
  const kept = ExperimentSchema.parse({ ...exp, outDir: join(dir, 'kept'), models: [exp.models[0]], ranking: { ...exp.ranking, keepBundles: true },
    train: { ...exp.train, earlyStopping: { metric: 'recall@5', patience: 1 } } });
  let scans = 0;
  const counted: typeof nativeScan = (model, items, width) => {
    const f = nativeScan(model, items, width);
    return f && ((rep) => (scans++, f(rep)));
  };
  const [keptRun] = await runExperiment(kept, 'test command', () => {}, { openIndex: openRunIndex, scan: counted });
  assert.ok(existsSync(join(dir, 'kept', 'runs', 'dssm-seed1', 'bundle', 'manifest.json')), 'keepBundles keeps it');
  if (serveAddon()) assert.ok(scans > keptRun.ranking!.users, `${scans} scans: the validation users' and the ${keptRun.ranking!.users} test users'`);
  const md = readFileSync(join(dir, 'exp', 'results.md'), 'utf8');
  assert.match(md, /through each run's exported retrieval index/);
  assert.match(md, /\| dssm \| 0\.\d{4} ± 0\.0000 \| 0\.\d{4} ± 0\.0000 \| 0\.\d{4} ± 0\.0000 \| 1\.0000 ± 0\.0000 \| \d+ \|/);
  assert.match(md, /\| overlap@5 \| candidates \|/);
  assert.match(dssm.rankingIndexSettings ?? '', /^HNSW inner product, ef \d+/, 'the index and its settings as the export words them');
  assert.ok(md.includes(`- dssm seed 1: ${dssm.rankingIndexSettings}`), 'results.md lists each run\'s index settings');
  assert.match(md, /\| popularity \| 0\.\d{4} ± 0\.0000 \| 0\.\d{4} ± 0\.0000 \| 0\.\d{4} ± 0\.0000 \| - \| - \|/);
  assert.match(md, /\| recall@5 \| ndcg@5 \| shared@5 \| s\/epoch \|/);
  const json = JSON.parse(readFileSync(join(dir, 'exp', 'results.json'), 'utf8'));
  assert.deepEqual(json.popularity, [popularityRanking(ds, { split: 'test', ks: [5], seed: 1 })]);
});
