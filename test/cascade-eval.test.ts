// Evaluation of pre-rankers on cascade evaluation requests: every metric on a hand-made case against values worked out
// by hand, against a brute-force per-request computation on a tiny synthetic cascade, planted oracles score 1, a
// random scorer gets the expected value, and a trained two-tower model's scores equal its forward pass.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CascadeConfig } from '../src/cascade/config.js';
import { evaluateOnCascade, evaluateRequests, loggedPrerankScorer, modelScorer, recallIndex, relevanceOf,
  type RecallScorer } from '../src/cascade/evaluate.js';
import { CascadeLists } from '../src/cascade/lists.js';
import type { CascadeResult, RequestLog } from '../src/cascade/simulate.js';
import { PairScorer } from '../src/cascade/stage-models.js';
import { Rng } from '../src/core/index.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';
import { MODELS, TINY_CONFIGS } from '../src/models/registry.js';
import { Adam } from '../src/nn/index.js';
import { tinyCascade, trainOnLists } from './cascade-fixture.js';

const LABELS: CascadeConfig['labels'] = { feedback: [{ name: 'rated_5', min: 5, value: 6 }, { name: 'rated_4', min: 4, value: 5 },
  { name: 'rated_lower', min: null, value: 4 }], exposed: 3, rankingCandidate: 2, prerankCandidate: 1, random: 0 };

// stage codes: 0 impression, 1 ranking candidate, 2 pre-ranking candidate, 3 random
function log(id: number, stages: number[], feedback: number[], truthSize: number): RequestLog {
  const n = stages.length;
  return { request: { id, split: 'eval', user: 0, t: 0, windowEnd: 1, seen: new Int32Array(0),
    truth: Array.from({ length: truthSize }, (_, i) => ({ item: 100 + i, feedback: 5, time: 0 })) },
  items: Int32Array.from(stages, (_, k) => 10 + k), stage: Uint8Array.from(stages), label: new Float32Array(n),
  level: new Uint8Array(n), feedback: Float32Array.from(feedback), p: new Float32Array(n).fill(NaN),
  prerankScore: new Float32Array(n).fill(NaN) };
}

test('hand-made case: recall, graded NDCG (gain 2^rel - 1), teacher recall, impression AUC, skips', () => {
  const logs = [
    // A: relevant j0 (rated 5: rel 6 - 3 = 3), j3 (rated 4: rel 2), j5 (rated 2: rel 1); the random sample is outside
    log(0, [0, 0, 1, 1, 2, 2, 3], [5, NaN, NaN, 4, NaN, 2, 5], 5),
    // B: both impressions rated (4: rel 2; 3 -> rated_lower: rel 1), so one AUC class
    log(1, [0, 0, 1, 2], [4, 3, NaN, NaN], 2),
    // C: no ground truth in the recall set, no clicks
    log(2, [0, 2, 2], [NaN, NaN, NaN], 1),
  ];
  const scores = [[0.1, 0.9, 0.5, 0.7, 0.3, 0.2], [1, 2, 3, 4], [0, 0, 0]];
  const scorer: RecallScorer = (ls) => ls.map((l) => Float32Array.from(scores[l.request.id]));
  const r = evaluateRequests(logs, LABELS, scorer, { ks: [2, 4], requestsPerBatch: 2 });
  const l3 = Math.log2(3), l5 = Math.log2(5);
  // A: order j1, j3, j2, j4, j5, j0. @2 hits j3 (gain 3); @4 the same. IDCG@2 = 7 + 3/log2 3, IDCG@4 adds 1/log2 4.
  const ndcgA2 = (3 / l3) / (7 + 3 / l3), ndcgA4 = (3 / l3) / (7 + 3 / l3 + 1 / 2);
  // B: order j3, j2, j1, j0. @2 no hit; @4 j1 (gain 1) at 3, j0 (gain 3) at 4; IDCG = 3 + 1/log2 3.
  const ndcgB4 = (1 / 2 + 3 / l5) / (3 + 1 / l3);
  const expect: Record<string, number> = {
    'recall@2': (1 / 3 + 0) / 2, 'ndcg@2': (ndcgA2 + 0) / 2, 'teacher_recall@2': (1 / 2 + 0 + 1) / 3,
    'recall@4': (1 / 3 + 1) / 2, 'ndcg@4': (ndcgA4 + ndcgB4) / 2, 'teacher_recall@4': (1 / 2 + 1 + 1) / 3,
    auc: 0, // A only: the clicked impression j0 (0.1) is below the unclicked j1 (0.9)
  };
  assert.deepEqual(Object.keys(r.metrics).sort(), Object.keys(expect).sort());
  for (const [k, v] of Object.entries(expect)) assert.ok(Math.abs(r.metrics[k] - v) < 1e-9, `${k}: ${r.metrics[k]} vs ${v}`);
  assert.equal(r.requests, 3);
  assert.equal(r.skippedNoTruth, 1);
  assert.equal(r.skippedAuc, 2);
  assert.ok(Math.abs(r.truthInRecall - (3 / 5 + 1 + 0) / 3) < 1e-12);
  assert.deepEqual([5, 4, 3, 0.5].map((f) => relevanceOf(LABELS, f)), [3, 2, 1, 1]);
  assert.throws(() => evaluateRequests(logs, LABELS, () => [new Float32Array(2)]), /recalled items but 2 scores/);
});

// ---- tiny synthetic cascade ----
const root = mkdtempSync(join(tmpdir(), 'prerank-cascade-eval-'));
after(() => rmSync(root, { recursive: true, force: true }));
let cascade: CascadeResult;
let evalLogs: RequestLog[];
before(async () => {
  ({ cascade } = await tinyCascade(root, 12));
  evalLogs = cascade.logs.filter((e) => e.request.split === 'eval');
});

/** Per request, written from the definitions with a full sort (ties: lower index first); means as evaluateRequests. */
function bruteForce(logs: RequestLog[], scores: Float32Array[], K: number): Record<string, number> {
  let rec = 0, ndcg = 0, n = 0, tr = 0, aucSum = 0, aucN = 0;
  logs.forEach((l, g) => {
    const idx = recallIndex(l);
    const order = Array.from(idx.keys()).sort((a, b) => scores[g][b] - scores[g][a] || a - b).slice(0, K);
    const gain = (j: number): number => (Number.isNaN(l.feedback[idx[j]]) ? 0 : 2 ** relevanceOf(cascade.config.labels, l.feedback[idx[j]]) - 1);
    const rel = Array.from(idx.keys()).filter((j) => gain(j) > 0);
    const shown = Array.from(idx.keys()).filter((j) => l.stage[idx[j]] === 0);
    tr += order.filter((j) => shown.includes(j)).length / shown.length;
    if (rel.length > 0) {
      n++;
      rec += order.filter((j) => rel.includes(j)).length / rel.length;
      const dcg = order.reduce((s, j, p) => s + gain(j) / Math.log2(p + 2), 0);
      const ideal = rel.map(gain).sort((a, b) => b - a).slice(0, K).reduce((s, x, p) => s + x / Math.log2(p + 2), 0);
      ndcg += dcg / ideal;
    }
    let pairs = 0, wins = 0;
    for (const i of shown) for (const j of shown) {
      if (l.feedback[idx[i]] > 0 && !(l.feedback[idx[j]] > 0)) {
        pairs++;
        wins += scores[g][i] > scores[g][j] ? 1 : scores[g][i] === scores[g][j] ? 0.5 : 0;
      }
    }
    if (pairs > 0) {
      aucSum += wins / pairs;
      aucN++;
    }
  });
  return { [`recall@${K}`]: rec / n, [`ndcg@${K}`]: ndcg / n, [`teacher_recall@${K}`]: tr / logs.length, auc: aucSum / aucN };
}

const fixed = (f: (l: RequestLog, j: number, k: number) => number): RecallScorer =>
  (ls) => ls.map((l) => Float32Array.from(recallIndex(l), (k, j) => f(l, j, k)));

test('tiny cascade: equals a brute-force computation (coarse random scores with ties, and the logged pre-ranker)', () => {
  assert.equal(evalLogs.length, 12);
  const rng = new Rng(5);
  const coarse = evalLogs.map((l) => Float32Array.from(recallIndex(l), () => rng.int(4)));
  const byId = new Map(evalLogs.map((l, g) => [l.request.id, coarse[g]]));
  for (const [scorer, scores] of [
    [(ls: RequestLog[]) => ls.map((l) => byId.get(l.request.id)!), coarse],
    [loggedPrerankScorer(), evalLogs.map((l) => Float32Array.from(recallIndex(l), (k) => l.prerankScore[k]))],
  ] as [RecallScorer, Float32Array[]][]) {
    for (const K of [3, 8]) {
      const r = evaluateRequests(evalLogs, cascade.config.labels, scorer, { ks: [K], requestsPerBatch: 5 });
      const want = bruteForce(evalLogs, scores, K);
      for (const [k, v] of Object.entries(want)) assert.ok(Math.abs(r.metrics[k] - v) < 1e-9, `${k}: ${r.metrics[k]} vs ${v}`);
    }
  }
  // the production pre-ranker passed its own top P to the teacher, so the teacher's S are in its top P
  const P = cascade.config.stages.prerank;
  assert.equal(evaluateRequests(evalLogs, cascade.config.labels, loggedPrerankScorer(), { ks: [P] }).metrics[`teacher_recall@${P}`], 1);
});

test('planted oracles score 1; a random scorer gets the expected value', () => {
  const labels = cascade.config.labels;
  const rels = evalLogs.map((l) => recallIndex(l).filter((k) => !Number.isNaN(l.feedback[k])).length);
  const K = Math.max(...rels);
  assert.ok(K >= 1 && K < cascade.config.stages.recall, `ground truth per request in the recall set: ${rels}`);
  const truthOracle = fixed((l, _j, k) => (Number.isNaN(l.feedback[k]) ? -1 : relevanceOf(labels, l.feedback[k])));
  const t = evaluateRequests(evalLogs, labels, truthOracle, { ks: [K] });
  assert.equal(t.metrics[`recall@${K}`], 1);
  assert.ok(Math.abs(t.metrics[`ndcg@${K}`] - 1) < 1e-12);
  const S = cascade.config.stages.impressions;
  const teacherOracle = fixed((l, _j, k) => (Number.isNaN(l.p[k]) ? -1 : l.p[k]));
  assert.equal(evaluateRequests(evalLogs, labels, teacherOracle, { ks: [S] }).metrics[`teacher_recall@${S}`], 1);
  const clickOracle = fixed((l, _j, k) => (l.feedback[k] > 0 ? 1 : 0));
  const c = evaluateRequests(evalLogs, labels, clickOracle, { ks: [S] });
  assert.ok(c.skippedAuc < evalLogs.length, 'some request has both classes among its impressions');
  assert.equal(c.metrics.auc, 1);

  // random: E[recall@K] = E[teacher recall@K] = K/R; E[NDCG@K] = sum_i g_i (1/R) sum_{p<=K} 1/log2(p+1) / IDCG
  const R = cascade.config.stages.recall, k = 5, reps = 150;
  const rng = new Rng(11);
  const random: RecallScorer = (ls) => ls.map((l) => Float32Array.from(recallIndex(l), () => rng.uniform()));
  const sums: Record<string, number> = {};
  for (let i = 0; i < reps; i++) {
    const r = evaluateRequests(evalLogs, labels, random, { ks: [k] });
    for (const [name, v] of Object.entries(r.metrics)) sums[name] = (sums[name] ?? 0) + v / reps;
  }
  const disc = Array.from({ length: k }, (_, p) => 1 / Math.log2(p + 2)).reduce((a, b) => a + b) / R;
  let endcg = 0, n = 0;
  for (const l of evalLogs) {
    const g = recallIndex(l).filter((x) => !Number.isNaN(l.feedback[x])).map((x) => 2 ** relevanceOf(labels, l.feedback[x]) - 1);
    if (g.length === 0) continue;
    const idcg = g.slice().sort((a, b) => b - a).slice(0, k).reduce((s, x, p) => s + x / Math.log2(p + 2), 0);
    endcg += (g.reduce((a, b) => a + b) * disc) / idcg;
    n++;
  }
  const expect = { [`recall@${k}`]: k / R, [`teacher_recall@${k}`]: k / R, [`ndcg@${k}`]: endcg / n, auc: 0.5 };
  for (const [name, v] of Object.entries(expect)) assert.ok(Math.abs(sums[name] - v) < 0.03, `random ${name}: ${sums[name]} vs ${v}`);
});

test('a trained two-tower model: its scores equal its forward pass on the same pairs; metrics in range', () => {
  const m = MODELS.dssm({ features: cascade.fit.data.features, rng: new Rng(1) }, TINY_CONFIGS.dssm as never);
  const lists = new CascadeLists(cascade, 'train', { listsPerBatch: 5,
    caps: { impression: 4, ranking_candidate: 6, prerank_candidate: 5, random: 3 } });
  trainOnLists(m, lists, cascade, { kind: 'pointwise' }, { epochs: 2 });
  const scores = modelScorer(m, cascade)(evalLogs.slice(0, 3));
  const pair = new PairScorer(cascade.fit.data, m, cascade.config.stages.recall, cascade.histories);
  evalLogs.slice(0, 3).forEach((l, g) => {
    const ref = pair.score(l.request.user, Int32Array.from(recallIndex(l), (k) => l.items[k]), l.request.t);
    for (let j = 0; j < ref.length; j++) assert.ok(Math.abs(scores[g][j] - ref[j]) < 1e-4, `request ${g} item ${j}: ${scores[g][j]} vs ${ref[j]}`);
  });
  const r = evaluateOnCascade(m, cascade, { ks: [5, 100] });
  assert.equal(r.requests, 12);
  for (const [k, v] of Object.entries(r.metrics)) assert.ok(v >= 0 && v <= 1, `${k} = ${v}`);
  assert.equal(r.metrics['recall@100'], 1, 'K above R: every relevant item of the recall set is in the list');
});

test('prerank cascade train --config: builds, trains, evaluates, prints the table and writes eval.json', () => {
  const dir = join(root, 'cli');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'data.json'), JSON.stringify(writeSyntheticLog(join(dir, 'data'), { users: 40, items: 60 })));
  const cascadeCfg = { name: 'tiny', seed: 3, data: { config: 'data.json' }, requests: { train: 8, eval: 6, windowSeconds: 500 },
    stages: { recall: 20, prerank: 8, impressions: 3, random: 4 },
    prerank: { kind: 'dssm', config: { embedDim: 8, tower: [16, 8] }, epochs: 1, batchSize: 256 },
    teacher: { kind: 'dcn', config: { embedDim: 8, dnn: [16] }, epochs: 1, batchSize: 256 } };
  writeFileSync(join(dir, 'cascade.json'), JSON.stringify(cascadeCfg));
  const train = { name: 'tiny-train', cascade: 'cascade.json', model: { kind: 'dssm', config: TINY_CONFIGS.dssm },
    objective: { kind: 'hybrid' }, caps: { impression: 3, ranking_candidate: 5, prerank_candidate: 4, random: 2 },
    listsPerBatch: 4, epochs: 2, lr: 0.01, ks: [5, 10], out: 'out' };
  writeFileSync(join(dir, 'train.json'), JSON.stringify(train));
  const cli = join(import.meta.dirname, '../src/cli/main.js');
  const out = execFileSync(process.execPath, [cli, 'cascade', 'train', '--config', join(dir, 'train.json')], { encoding: 'utf8', stdio: 'pipe' });
  assert.match(out, /tiny-train: 4 steps/);
  assert.match(out, /recall@5 +ndcg@5 +teacher_recall@5 +recall@10 +ndcg@10 +teacher_recall@10 +auc/);
  assert.match(out, /dssm \(hybrid\) /);
  assert.match(out, /production dssm \(logged\)/);
  const j = JSON.parse(readFileSync(join(dir, 'out', 'eval.json'), 'utf8'));
  assert.equal(j.rows.length, 2);
  assert.equal(j.rows[0].result.requests, 6);
  assert.equal(j.rows[1].result.metrics['teacher_recall@10'], 1, 'the production pre-ranker chose the teacher\'s P = 8');
  assert.ok(['best', 'last', 'log.jsonl'].every((f) => existsSync(join(dir, 'out', f))), 'checkpoints and the epoch log');
  assert.equal(j.source.kind, 'memory');
  // the same training from the files of `cascade build` (JSONL here): identical losses and evaluation
  execFileSync(process.execPath, [cli, 'cascade', 'build', '--config', join(dir, 'cascade.json'), '--out', join(dir, 'built'),
    '--format', 'jsonl'], { stdio: 'pipe' });
  writeFileSync(join(dir, 'train-files.json'), JSON.stringify({ ...train, cascade: undefined, logs: 'built', out: 'out-files' }));
  const out2 = execFileSync(process.execPath, [cli, 'cascade', 'train', '--config', join(dir, 'train-files.json')], { encoding: 'utf8', stdio: 'pipe' });
  assert.match(out2, /cascade \(files\)/);
  const j2 = JSON.parse(readFileSync(join(dir, 'out-files', 'eval.json'), 'utf8'));
  assert.deepEqual(j2.source, { kind: 'files', dir: join(dir, 'built') });
  assert.deepEqual(j2.epochs.map((e: { trainLoss: number; val: unknown }) => [e.trainLoss, e.val]),
    j.epochs.map((e: { trainLoss: number; val: unknown }) => [e.trainLoss, e.val]));
  assert.deepEqual(j2.rows, j.rows);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...train, model: { kind: 'nope' } }));
  assert.throws(() => execFileSync(process.execPath, [cli, 'cascade', 'train', '--config', join(dir, 'bad.json')], { stdio: 'pipe' }),
    (e: { stderr: Buffer }) => /model\.kind: unknown model 'nope'/.test(e.stderr.toString()));
});
