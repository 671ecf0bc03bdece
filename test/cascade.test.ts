// The cascade simulator on a tiny synthetic log: stage sizes and nesting, labels as configured, feedback equal to the
// user's events in the window, no leak from after the period-1 cut (a planted marker item and a perturbed
// evaluation period), seeded runs identical, files round-trip, bad configs name their field.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCascadeConfig, type CascadeConfigInput } from '../src/cascade/config.js';
import { inspectCascade } from '../src/cascade/inspect.js';
import { aggregateLabel, STAGES } from '../src/cascade/labels.js';
import { sampleRequests, splitPeriods } from '../src/cascade/periods.js';
import { CooccurrenceRecall } from '../src/cascade/recall.js';
import { Rng } from '../src/core/random.js';
import { ingestEvents, simulateCascade, type CascadeResult } from '../src/cascade/simulate.js';
import { writeCascade } from '../src/cascade/writer.js';
import { parseDataConfig, type DataConfig, type DataConfigInput } from '../src/data/spec.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';
import { OOV_ID } from '../src/data/vocabulary.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-cascade-'));
after(() => rmSync(root, { recursive: true, force: true }));

const MARKER = 'iM';
// Non-default label values, so a test that passes cannot be relying on the defaults.
const LABELS = { feedback: [{ name: 'loved', min: 5, value: 10 }, { name: 'liked', min: 4, value: 8 },
  { name: 'rated', min: null, value: 7 }], exposed: 2, rankingCandidate: 1.5, prerankCandidate: 1, random: -1 };

function cascadeInput(over: Partial<CascadeConfigInput> = {}): CascadeConfigInput {
  return {
    name: 'tiny', seed: 3, data: { config: 'unused.json' },
    requests: { train: 25, eval: 20, windowSeconds: 500 },
    stages: { recall: 24, prerank: 10, impressions: 4, random: 5 },
    prerank: { kind: 'dssm', config: { embedDim: 8, tower: [16, 8] }, epochs: 2, batchSize: 256 },
    teacher: { kind: 'dcn', config: { embedDim: 8, dnn: [16] }, epochs: 2, batchSize: 256 },
    labels: LABELS, ...over,
  };
}

/**
 * A synthetic log plus a marker item rated 5 by every user after every other event (so only in period 3).
 * `flip` rewrites the rating of every event at or after `flip.from` (a perturbed evaluation period).
 */
function writeLog(name: string, flip?: { from: number }): { dataCfg: DataConfig; events: string[] } {
  const dir = join(root, name);
  const input: DataConfigInput = writeSyntheticLog(dir, { users: 60, items: 80 });
  const evPath = join(dir, 'events.csv');
  const lines = readFileSync(evPath, 'utf8').trim().split('\n');
  const maxTs = Math.max(...lines.slice(1).map((l) => Number(l.split(',')[3])));
  for (let u = 0; u < 60; u++) lines.push(`u${u},${MARKER},5,${maxTs + 1 + u},ios`);
  if (flip) {
    for (let k = 1; k < lines.length; k++) {
      const f = lines[k].split(',');
      if (Number(f[3]) >= flip.from) lines[k] = [f[0], f[1], String(6 - Number(f[2])), f[3], f[4]].join(',');
    }
  }
  writeFileSync(evPath, `${lines.join('\n')}\n`);
  appendFileSync(join(dir, 'items.csv'), `${MARKER},c0,action|drama,10.00\n`);
  return { dataCfg: parseDataConfig(input), events: lines.slice(1) };
}

async function simulate(name: string, dataCfg: DataConfig, over: Partial<CascadeConfigInput> = {}): Promise<CascadeResult> {
  return simulateCascade(parseCascadeConfig(cascadeInput(over)), { modelDir: join(root, name, 'models'), dataConfig: dataCfg });
}

let base: CascadeResult;
let baseEvents: string[];
before(async () => {
  const log = writeLog('base');
  baseEvents = log.events;
  base = await simulate('base', log.dataCfg);
});

test('stage sizes and nesting: S impressions within the P ranked within the R recalled, Q random outside, per request', () => {
  const { recall: R, prerank: P, impressions: S, random: Q } = base.config.stages;
  assert.ok(base.counts.train.requests >= 10 && base.counts.eval.requests >= 10, JSON.stringify(base.counts));
  for (const e of base.logs) {
    const n = (s: string): number => e.stage.filter((x) => STAGES[x] === s).length;
    assert.deepEqual([n('impression'), n('ranking_candidate'), n('prerank_candidate'), n('random')], [S, P - S, R - P, Q]);
    assert.equal(new Set(e.items).size, R + Q, 'every sample is a distinct item');
    const seen = new Set(e.request.seen);
    const idx = (pred: (k: number) => boolean): number[] => [...e.items.keys()].filter(pred);
    const shown = idx((k) => e.stage[k] === 0), ranked = idx((k) => e.stage[k] <= 1);
    const recalled = idx((k) => e.stage[k] <= 2), random = idx((k) => e.stage[k] === 3);
    for (let k = 0; k < e.items.length; k++) {
      assert.ok(!seen.has(e.items[k]), 'no item the user interacted with before t');
      assert.equal(Number.isNaN(e.p[k]), !ranked.includes(k), 'p exactly for the ranked items');
      assert.equal(Number.isNaN(e.prerankScore[k]), !recalled.includes(k), 'pre-ranker score exactly for recalled items');
    }
    // the teacher shows its top S of the P; the production pre-ranker keeps its top P of the R
    const minShownP = Math.min(...shown.map((k) => e.p[k]));
    for (const k of ranked) if (!shown.includes(k)) assert.ok(e.p[k] <= minShownP);
    const minRankedPre = Math.min(...ranked.map((k) => e.prerankScore[k]));
    for (const k of recalled) if (!ranked.includes(k)) assert.ok(e.prerankScore[k] <= minRankedPre);
    assert.equal(random.length, Q);
  }
});

test('labels follow the configured order; feedback is the user\'s rating in [t, window end), nothing else', () => {
  const expected = (stage: string, fb: number | null): number => {
    if (stage === 'impression') return fb === null ? 2 : fb >= 5 ? 10 : fb >= 4 ? 8 : 7;
    return { ranking_candidate: 1.5, prerank_candidate: 1, random: -1 }[stage]!;
  };
  const byKey = new Map<string, { rating: number; ts: number }[]>();
  for (const l of baseEvents) {
    const [u, i, r, ts] = l.split(',');
    const k = `${u}/${i}`;
    byKey.set(k, [...(byKey.get(k) ?? []), { rating: Number(r), ts: Number(ts) }]);
  }
  let withFeedback = 0;
  for (const e of base.logs) {
    const q = e.request;
    for (let k = 0; k < e.items.length; k++) {
      const evs = byKey.get(`${base.userKeys[q.user]}/${base.itemKeys[e.items[k]]}`) ?? [];
      const inWindow = evs.filter((x) => x.ts >= q.t && x.ts < q.windowEnd);
      const fb = Number.isNaN(e.feedback[k]) ? null : e.feedback[k];
      assert.equal(fb, inWindow.length ? inWindow[0].rating : null);
      if (fb !== null) withFeedback++;
      assert.equal(e.label[k], expected(STAGES[e.stage[k]], fb));
      assert.equal(aggregateLabel(base.config.labels, STAGES[e.stage[k]], fb).label, e.label[k]);
    }
  }
  assert.ok(withFeedback > 0);
  assert.ok(base.counts.train.levels.exposed > 0 && base.counts.train.levels.random > 0);
});

/** Every way period-3 (or post-cut) data could have reached recall or the stage models; [] when none did. */
function leaks(recall: CooccurrenceRecall, r: CascadeResult): string[] {
  const out: string[] = [];
  const m = r.itemKeys.indexOf(MARKER);
  if (recall.popularity[m] !== 0) out.push(`recall popularity of the marker is ${recall.popularity[m]}`);
  if (recall.nbrStart[m + 1] > recall.nbrStart[m]) out.push('the marker has co-occurrence neighbours');
  if (recall.nbrItem.includes(m)) out.push('the marker is some item\'s neighbour');
  if (recall.fittedUntil >= r.periods.fitEnd) out.push(`recall saw t = ${recall.fittedUntil} >= ${r.periods.fitEnd}`);
  const d = r.fit.data;
  if (d.time!.some((t) => t >= r.periods.fitEnd)) out.push('the stage models\' dataset has rows after period 1');
  if (d.encoders.vocabs.get('item_id')!.peek(MARKER) !== OOV_ID) out.push('the marker is in the stage models\' vocabulary');
  return out;
}

test('LEAK: nothing after the period-1 cut reaches recall or the stage models (marker item), and the check can fail', async () => {
  assert.deepEqual(leaks(base.fit.recall, base), []);
  for (const e of base.logs) {
    if (e.request.split !== 'train') continue;
    assert.ok(e.request.windowEnd <= base.periods.trainEnd, 'a training window ends before the evaluation period');
    assert.ok(!e.items.includes(base.itemKeys.indexOf(MARKER)), 'the marker does not exist yet for training requests');
  }
  // the same check on a recall fitted across the cut finds the marker
  const { log } = await ingestEvents(writeLog('broken').dataCfg);
  const all = Int32Array.from({ length: log.rows }, (_, r) => r);
  const broken = leaks(CooccurrenceRecall.fit(log, all, { neighbours: 200 }), base);
  assert.ok(broken.some((x) => /popularity of the marker/.test(x)) && broken.some((x) => /saw t/.test(x)), broken.join('; '));
});

test('LEAK: rewriting every rating of the evaluation period changes no model, no training list and no eval ranking before it', async () => {
  const flipped = await simulate('flipped', writeLog('flipped', { from: base.periods.trainEnd }).dataCfg);
  assert.deepEqual(flipped.stageModels.teacher.testAuc, base.stageModels.teacher.testAuc);
  assert.deepEqual(flipped.stageModels.prerank.valAuc, base.stageModels.prerank.valAuc);
  assert.equal(flipped.logs.length, base.logs.length);
  // an eval request's user history holds the user's events before t, so a rewritten rating in [trainEnd, t) may
  // change its ranking (that is known at t); requests whose user has no such event must not change at all
  const earlierInPeriod3 = (e: CascadeResult['logs'][number]): boolean => baseEvents.some((l) => {
    const f = l.split(',');
    return f[0] === base.userKeys[e.request.user] && Number(f[3]) >= base.periods.trainEnd && Number(f[3]) < e.request.t
      && f[2] !== '3';
  });
  let evalFeedbackChanged = 0, evalUntouched = 0, evalRerankedAfterOwnEvents = 0;
  base.logs.forEach((e, i) => {
    const f = flipped.logs[i];
    assert.deepEqual([f.request.user, f.request.t, f.request.split], [e.request.user, e.request.t, e.request.split]);
    assert.deepEqual(f.items.filter((_, k) => e.stage[k] <= 2).sort(), e.items.filter((_, k) => e.stage[k] <= 2).sort(),
      'the recall set does not depend on ratings');
    const same = (): void => {
      assert.deepEqual(f.items, e.items);
      assert.deepEqual(f.p, e.p);
      assert.deepEqual(f.prerankScore, e.prerankScore);
    };
    if (e.request.split === 'train') {
      same();
      assert.deepEqual(f.label, e.label);
      assert.deepEqual(f.feedback, e.feedback);
      return;
    }
    if (f.feedback.some((x, k) => !Object.is(x, e.feedback[k]))) evalFeedbackChanged++;
    if (!earlierInPeriod3(e)) {
      same();
      evalUntouched++;
    } else if (f.prerankScore.some((x, k) => !Object.is(x, e.prerankScore[k]))) evalRerankedAfterOwnEvents++;
  });
  assert.ok(evalFeedbackChanged > 0, 'the perturbation reached the evaluation feedback');
  assert.ok(evalUntouched > 0, 'some eval requests have no rewritten event before t');
  assert.ok(evalRerankedAfterOwnEvents > 0, 'histories read the user\'s period-3 events before t');
});

test('seeded: the same seed gives identical logs, another seed other requests', async () => {
  const again = await simulate('again', writeLog('again').dataCfg);
  assert.equal(again.logs.length, base.logs.length);
  again.logs.forEach((e, i) => {
    const b = base.logs[i];
    assert.deepEqual([e.request.user, e.request.t], [b.request.user, b.request.t]);
    for (const f of ['items', 'stage', 'label', 'feedback', 'p', 'prerankScore'] as const) assert.deepEqual(e[f], b[f]);
  });
  assert.deepEqual(again.counts, base.counts);
  const other = await simulate('other', writeLog('other').dataCfg, { seed: 4 });
  assert.notDeepEqual(other.logs.map((e) => [e.request.user, e.request.t]), base.logs.map((e) => [e.request.user, e.request.t]));
});

test('requests: at most perUser per user, each at its own t, within the period; the first round is the perUser = 1 draw', async () => {
  const { log } = await ingestEvents(writeLog('per-user').dataCfg);
  const opts = { count: 1000, windowSeconds: 500, minGroundTruth: 1 };
  const one = sampleRequests(log, base.periods, 'train', opts, new Rng(9));
  const three = sampleRequests(log, base.periods, 'train', { ...opts, perUser: 3 }, new Rng(9));
  assert.ok(one.requests.length <= one.activeUsers);
  assert.ok(three.requests.length > one.activeUsers, `${three.requests.length} requests, ${one.activeUsers} users`);
  const byUser = new Map<number, number[]>();
  for (const q of three.requests) {
    byUser.set(q.user, [...(byUser.get(q.user) ?? []), q.t]);
    assert.ok(q.t >= base.periods.fitEnd && q.t < base.periods.trainEnd && q.windowEnd <= base.periods.trainEnd);
    assert.ok(q.truth.every((g) => g.time >= q.t && g.time < q.windowEnd));
  }
  for (const ts of byUser.values()) assert.ok(ts.length <= 3 && new Set(ts).size === ts.length);
  assert.deepEqual(three.requests.slice(0, one.requests.length).map((q) => [q.user, q.t]), one.requests.map((q) => [q.user, q.t]));
});

test('written files (JSONL and Parquet) hold what was simulated; inspect counts them back', async () => {
  for (const format of ['jsonl', 'parquet'] as const) {
    const dir = join(root, `out-${format}`);
    const m = await writeCascade(base, dir, format);
    assert.ok(existsSync(join(dir, `samples.${format}`)) && existsSync(join(dir, `requests.${format}`)));
    const x = await inspectCascade(dir);
    for (const split of ['train', 'eval'] as const) {
      for (const stage of STAGES) {
        const got = x.rows.filter((r) => r.split === split && r.stage === stage).reduce((s, r) => s + r.samples, 0);
        assert.equal(got, m.counts[split].samples[stage], `${format} ${split} ${stage}`);
      }
      for (const [level, n] of Object.entries(m.counts[split].levels)) {
        assert.equal(x.rows.filter((r) => r.split === split && r.level === level).reduce((s, r) => s + r.samples, 0), n);
      }
    }
  }
  const first = JSON.parse(readFileSync(join(root, 'out-jsonl', 'samples.jsonl'), 'utf8').split('\n')[0]);
  const e = base.logs[0];
  assert.deepEqual([first.user, first.item, first.stage, first.label], [base.userKeys[e.request.user], base.itemKeys[e.items[0]], 'impression', e.label[0]]);
});

test('bad configs give errors naming the field', async () => {
  const bad = (over: Partial<CascadeConfigInput>, re: RegExp): void => assert.throws(() => parseCascadeConfig(cascadeInput(over)), re);
  bad({ stages: { recall: 24, prerank: 10, impressions: 11, random: 5 } }, /stages\.impressions: S = 11 is larger than stages\.prerank P = 10/);
  bad({ stages: { recall: 9, prerank: 10, impressions: 4, random: 5 } }, /stages\.prerank: P = 10 is larger than stages\.recall R = 9/);
  bad({ stages: { recall: 0, prerank: 10, impressions: 4, random: 5 } }, /stages\.recall:/);
  bad({ periods: { fit: 0.7, train: 0.3 } }, /periods: fit \+ train = 1/);
  bad({ labels: { ...LABELS, exposed: 7.5 } }, /labels\.exposed: 7\.5 ranks above labels\.feedback\.2\.value/);
  bad({ labels: { ...LABELS, random: 3 } }, /labels\.random: 3 ranks above labels\.prerankCandidate/);
  bad({ labels: { ...LABELS, feedback: [{ name: 'any', min: null, value: 9 }, { name: 'five', min: 5, value: 10 }] } },
    /labels\.feedback\.0\.min: 'any' matches every rating/);
  bad({ labels: { ...LABELS, feedback: [{ name: 'four', min: 4, value: 9 }, { name: 'five', min: 5, value: 10 }] } },
    /labels\.feedback\.1\.min: levels must go from the highest feedback down/);
  bad({ requests: { train: -1 } } as Partial<CascadeConfigInput>, /requests\.train/);
  const { dataCfg } = writeLog('bad');
  await assert.rejects(simulate('bad', dataCfg, { stages: { recall: 78, prerank: 10, impressions: 4, random: 5 } }),
    /stages\.recall: R \+ Q = 83 is larger than the corpus \(\d+ items have an event before the end of period 1\)/);
  await assert.rejects(simulate('bad', dataCfg, { dropFeatures: ['nope'] }), /dropFeatures\.0: 'nope' is not a feature/);
  const noTime = { ...dataCfg, keys: { user: dataCfg.keys.user, item: dataCfg.keys.item } };
  await assert.rejects(simulate('bad', noTime), /no keys\.time: a temporal cascade needs timestamps/);
});

test('bad input: counted skips (no ground truth, corpus too small) and the shortfall are in the manifest; nothing accepted is an error', async () => {
  // a greedy user who saw 70 of the 80 items in period 1, then two unseen items in period 2 and two in period 3:
  // its allowed corpus (10 items) is below R + Q = 29, so its requests are skipped and counted
  const { dataCfg, events } = writeLog('skips');
  const evPath = join(root, 'skips', 'events.csv');
  const t0 = Math.min(...events.map((l) => Number(l.split(',')[3])));
  appendFileSync(evPath, Array.from({ length: 70 }, (_, i) => `uG,i${i},4,${t0 + i},ios\n`).join(''));
  const all = readFileSync(evPath, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[3]));
  const cuts = splitPeriods(Float64Array.from(all), 0.6, 0.2);
  const mid = Math.floor((cuts.fitEnd + cuts.trainEnd) / 2), late = cuts.trainEnd + 1; // two unseen items at once: 2 ground-truth items
  appendFileSync(evPath, `uG,i75,5,${mid},ios\nuG,i77,4,${mid},ios\nuG,i76,5,${late},ios\nuG,i78,4,${late},ios\n`);
  appendFileSync(join(root, 'skips', 'users.csv'), 'uG,F,30\n');
  const c = await simulate('skips', dataCfg, { requests: { train: 1000, eval: 1000, windowSeconds: 500, minGroundTruth: 2 } });
  const g = c.userKeys.indexOf('uG');
  assert.ok(g >= 0);
  assert.ok(!c.logs.some((e) => e.request.user === g), 'the greedy user has no accepted request');
  for (const split of ['train', 'eval'] as const) {
    const k = c.counts[split];
    assert.equal(k.requested, 1000);
    assert.ok(k.requests < 1000 && k.requests === c.logs.filter((e) => e.request.split === split).length, 'the shortfall is visible');
    assert.ok(k.skipped.corpusTooSmall >= 1, `${split}: ${JSON.stringify(k.skipped)}`);
    assert.ok(k.skipped.noGroundTruth >= 1, `${split}: minGroundTruth 2 skips some requests`);
    assert.ok(c.logs.filter((e) => e.request.split === split).every((e) => e.request.truth.length >= 2));
  }
  const m = await writeCascade(c, join(root, 'skips', 'out'), 'jsonl');
  const written = JSON.parse(readFileSync(join(root, 'skips', 'out', 'manifest.json'), 'utf8'));
  assert.deepEqual(written.counts, JSON.parse(JSON.stringify(m.counts)));
  assert.deepEqual(written.counts.train.skipped, c.counts.train.skipped);
  // the no-ground-truth count is exact: with minGroundTruth 1 the same draws are accepted, less those with 1 item
  const { log } = await ingestEvents(dataCfg);
  const draw = (minGroundTruth: number) => sampleRequests(log, c.periods, 'train', { count: 1000, windowSeconds: 500, minGroundTruth }, new Rng(5));
  const one = draw(1), two = draw(2);
  assert.equal(two.skips.noGroundTruth - one.skips.noGroundTruth, one.requests.filter((q) => q.truth.length < 2).length);
  assert.ok(two.skips.noGroundTruth > one.skips.noGroundTruth);
  // nothing accepted: a clear error naming the field
  await assert.rejects(simulate('skips-none', dataCfg, { requests: { train: 10, eval: 10, windowSeconds: 500, minGroundTruth: 10000 } }),
    /no train request accepted out of \d+ users active in period 2 \(\d+ skipped with fewer than requests\.minGroundTruth = 10000/);
});

test('prerank cascade build | inspect from the command line', () => {
  const dir = join(root, 'cli');
  const input = writeSyntheticLog(join(dir, 'data'), { users: 40, items: 60 });
  writeFileSync(join(dir, 'data.json'), JSON.stringify(input));
  const cfg = { ...cascadeInput({ requests: { train: 8, eval: 6, windowSeconds: 500 } }), data: { config: 'data.json' },
    stages: { recall: 20, prerank: 8, impressions: 3, random: 4 }, output: { dir: join(dir, 'out'), format: 'jsonl' } };
  writeFileSync(join(dir, 'cascade.json'), JSON.stringify(cfg));
  const cli = join(import.meta.dirname, '../src/cli/main.js');
  const built = execFileSync(process.execPath, [cli, 'cascade', 'build', '--config', join(dir, 'cascade.json')], { encoding: 'utf8', stdio: 'pipe' });
  assert.match(built, /stages: R 20 -> P 8 -> S 3, random Q 4/);
  const shown = execFileSync(process.execPath, [cli, 'cascade', 'inspect', '--dir', join(dir, 'out')], { encoding: 'utf8' });
  assert.match(shown, /train {2}impression/);
  const m = JSON.parse(readFileSync(join(dir, 'out', 'logs', 'manifest.json'), 'utf8'));
  assert.equal(m.seed, 3);
  assert.ok(existsSync(join(dir, 'out', 'models', 'teacher', 'best')));
});
