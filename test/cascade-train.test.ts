// Listwise batches from a tiny synthetic cascade and two-tower training on them: scopes and padding, nothing from
// after a request's t in its list, the hybrid objective's loss falls for DSSM and RankTower, pointwise BCE runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestHistories } from '../src/cascade/history.js';
import { CascadeLists, PAD_STAGE, type StageCaps } from '../src/cascade/lists.js';
import type { CascadeResult } from '../src/cascade/simulate.js';
import { cascadeLoss, LIST_LOSSES, listLogits, type CascadeObjective } from '../src/cascade/train.js';
import { PairScorer } from '../src/cascade/stage-models.js';
import { amRankmaxLoss, pairwiseDistillationLoss, rankNetLoss, sortingLoss } from '../src/train/ranking-losses.js';
import { backward, noGrad, Rng, scope, Tensor } from '../src/core/index.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Adam } from '../src/nn/index.js';
import { tinyCascade, trainOnLists } from './cascade-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-cascade-train-'));
after(() => rmSync(root, { recursive: true, force: true }));

// S = 4 impressions, P - S = 6 ranking candidates, R - P = 14 pre-ranking candidates, Q = 5 random per request.
// The caps pad impressions (6 > 4) and subsample pre-ranking candidates (5 < 14).
const CAPS: StageCaps = { impression: 6, ranking_candidate: 6, prerank_candidate: 5, random: 3 };
const HYBRID: CascadeObjective = { kind: 'hybrid', weights: { distillation: 1, sorting: 1, amRankmax: 1 } };

let cascade: CascadeResult;
let events: string[];
before(async () => {
  let dataDir: string;
  ({ cascade, dataDir } = await tinyCascade(root, 10));
  events = readFileSync(join(dataDir, 'events.csv'), 'utf8').trim().split('\n').slice(1);
});

function model(name: ModelName, seed = 1): RecModel {
  return MODELS[name]({ features: cascade.fit.data.features, rng: new Rng(seed) }, TINY_CONFIGS[name] as never);
}

test('lists: stage caps, padding and nested scopes; padded slots get no gradient from either objective', () => {
  const lists = new CascadeLists(cascade, 'train', { listsPerBatch: 4, caps: CAPS, seed: 1 });
  assert.equal(lists.slots, 20);
  assert.equal(lists.listCount, cascade.counts.train.requests);
  let batches = 0;
  for (const b of lists.epoch(0)) {
    batches++;
    assert.ok(b.groups >= 2, `a batch of ${b.groups} list`);
    const L = b.slots;
    for (let g = 0; g < b.groups; g++) {
      const log = b.requests[g];
      const st = Array.from(b.stage.subarray(g * L, (g + 1) * L));
      assert.deepEqual(st, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, PAD_STAGE, PAD_STAGE]);
      const items = new Set<number>();
      for (let s = g * L; s < (g + 1) * L; s++) {
        const pad = b.stage[s] === PAD_STAGE;
        assert.equal(b.mask[s], pad ? 0 : 1);
        assert.equal(b.scopes.all[s], b.mask[s]);
        assert.ok(b.scopes.impressions[s] <= b.scopes.candidates[s] && b.scopes.candidates[s] <= b.scopes.all[s]);
        assert.equal(b.scopes.impressions[s], b.stage[s] === 0 ? 1 : 0);
        assert.equal(b.scopes.candidates[s], b.stage[s] <= 1 ? 1 : 0);
        if (pad) {
          assert.deepEqual([b.labels[s], b.teacher[s], b.clicked[s]], [0, 0, 0]);
          continue;
        }
        const k = log.items.indexOf(b.items.item[s]);
        assert.ok(k >= 0, 'every sample comes from its request\'s log');
        items.add(k);
        assert.equal(b.stage[s], log.stage[k]);
        assert.equal(b.labels[s], log.label[k]);
        assert.equal(b.teacher[s], Number.isNaN(log.p[k]) ? 0 : log.p[k]);
        assert.equal(b.clicked[s], log.stage[k] === 0 && log.feedback[k] > 0 ? 1 : 0);
        assert.equal(b.items.user[s], log.request.user);
      }
      assert.equal(items.size, L - 2, 'distinct samples');
    }
    // gradient of both objectives with respect to the logits is 0 on padded slots, and changing them changes nothing
    for (const objective of [HYBRID, { kind: 'pointwise' } as CascadeObjective]) {
      const zv = Float32Array.from({ length: b.groups * L }, (_, i) => Math.sin(i));
      const run = (v: Float32Array): { loss: number; grad: Float32Array } => scope(() => {
        const z = Tensor.from(Float32Array.from(v), [b.groups, L]);
        z.requiresGrad = true;
        const { loss } = cascadeLoss(z, b, objective);
        backward(loss);
        const out = { loss: loss.item(), grad: Float32Array.from(z.grad!.f) };
        z.grad!.release();
        z.grad = null;
        return out;
      });
      const a = run(zv);
      const moved = Float32Array.from(zv, (x, i) => (b.mask[i] ? x : x + 50));
      assert.equal(run(moved).loss, a.loss, `${objective.kind}: padded logits do not change the loss`);
      for (let s = 0; s < zv.length; s++) if (!b.mask[s]) assert.equal(a.grad[s], 0);
      assert.ok(a.grad.some((x) => x !== 0));
    }
  }
  const n = lists.listCount;
  assert.equal(batches, n % 4 === 1 && n > 4 ? Math.floor(n / 4) : Math.ceil(n / 4), 'a trailing single list joins the batch before');
});

/** Everything in the training lists that a system could not know at the request's t; [] when nothing. */
function leaksInLists(c: CascadeResult): { leaks: string[]; historyIds: number } {
  const d = c.fit.data;
  const vocab = d.encoders.vocabs.get('item_id')!;
  const firstItemEvent = new Map<string, number>();
  const before = new Map<string, number[]>();
  for (const l of events) {
    const [u, i, , ts] = l.split(',');
    firstItemEvent.set(i, Math.min(firstItemEvent.get(i) ?? Infinity, Number(ts)));
    before.set(`${u}/${i}`, [...(before.get(`${u}/${i}`) ?? []), Number(ts)]);
  }
  const hist = d.features.filter((f) => f.derived === 'history' && f.source === 'user').map((f) => f.name);
  assert.ok(hist.length > 0, 'the synthetic data has a history feature');
  const leaks: string[] = [];
  let historyIds = 0;
  for (const b of new CascadeLists(c, 'train', { listsPerBatch: 5, caps: CAPS }).epoch(0)) {
    for (let g = 0; g < b.groups; g++) {
      const q = b.requests[g].request;
      if (q.t < c.periods.fitEnd) leaks.push(`request ${q.id} at ${q.t} is before the cut`);
      const uKey = c.userKeys[q.user];
      for (let s = g * b.slots; s < (g + 1) * b.slots; s++) {
        if (!b.mask[s]) continue;
        const key = c.itemKeys[b.items.item[s]];
        if (!(firstItemEvent.get(key)! < q.t)) leaks.push(`item ${key} did not exist before t (request ${q.id})`);
        if ((before.get(`${uKey}/${key}`) ?? []).some((ts) => ts < q.t)) leaks.push(`${uKey} had seen ${key} before t`);
      }
      // every history id is an item this user interacted with before t
      const allowed = new Set([...before.entries()].filter(([k, ts]) => k.startsWith(`${uKey}/`) && ts.some((x) => x < q.t))
        .map(([k]) => vocab.peek(k.slice(uKey.length + 1))));
      for (const h of hist) {
        const sq = b.users.sequence[h];
        for (let j = 0; j < sq.lengths[g]; j++, historyIds++) {
          if (!allowed.has(sq.ids[g * sq.maxLen + j])) leaks.push(`${h} of ${uKey} holds an item from after t (request ${q.id})`);
        }
      }
    }
  }
  return { leaks, historyIds };
}

test('LEAK: a list holds only items of the request\'s corpus at t and user features from events before t; the check can fail', async () => {
  assert.ok(cascade.fit.data.time!.every((t) => t < cascade.periods.fitEnd), 'non-history user features come from period 1 only');
  const ok = leaksInLists(cascade);
  assert.deepEqual(ok.leaks, []);
  assert.ok(ok.historyIds > 0, 'some user has a history');
  // histories that reach past t are caught
  assert.ok(leaksInLists(frozenAtEnd(cascade)).leaks.some((x) => /from after t/.test(x)));
});

/** The cascade with every request's histories taken at the end of time (a leak, for the checks below). */
function frozenAtEnd(c: CascadeResult): CascadeResult {
  const h = c.histories;
  const leaky = Object.create(h) as RequestHistories;
  leaky.fill = (b, i, user) => h.fill(b, i, user, Infinity);
  return { ...c, histories: leaky };
}

/** History items of the lists' users whose event is not strictly before the request's t, checked against the CSV. */
function historyTimeLeaks(c: CascadeResult): { leaks: string[]; checked: number; beyondCut: number } {
  const vocab = c.fit.data.encoders.vocabs.get('item_id')!;
  // the user's positive events (rating > 3, the synthetic rule) in file order, with their timestamps
  const positives = new Map<string, { item: string; ts: number }[]>();
  for (const l of events) {
    const [u, i, rating, ts] = l.split(',');
    if (Number(rating) > 3) positives.set(u, [...(positives.get(u) ?? []), { item: i, ts: Number(ts) }]);
  }
  const leaks: string[] = [];
  let checked = 0, beyondCut = 0;
  for (const split of ['train', 'eval'] as const) {
    for (const b of new CascadeLists(c, split, { listsPerBatch: 5, caps: CAPS }).epoch(0)) {
      for (let g = 0; g < b.groups; g++) {
        const q = b.requests[g].request;
        const uKey = c.userKeys[q.user];
        const sq = b.users.sequence.user_hist;
        const got = Array.from(sq.ids.subarray(g * sq.maxLen, g * sq.maxLen + sq.lengths[g]));
        // each history position is one of the user's positive events, matched newest first against the file
        const ev = (positives.get(uKey) ?? []).slice().sort((x, y) => x.ts - y.ts);
        let k = ev.length - 1;
        for (let j = got.length - 1; j >= 0; j--, checked++) {
          while (k >= 0 && vocab.peek(ev[k].item) !== got[j]) k--;
          if (k < 0) {
            leaks.push(`${uKey}: history id ${got[j]} matches no positive event (request ${q.id})`);
            break;
          }
          if (!(ev[k].ts < q.t)) leaks.push(`${uKey}: history item ${ev[k].item} at ${ev[k].ts} >= t = ${q.t} (request ${q.id})`);
          if (ev[k].ts >= c.periods.fitEnd) beyondCut++;
          k--;
        }
        // and it is the most recent ones before t: the last maxLen positives before t, oldest first
        const want = ev.filter((e) => e.ts < q.t).slice(-sq.maxLen).map((e) => vocab.peek(e.item));
        if (want.join() !== got.join()) leaks.push(`${uKey}: history [${got}] is not the last positives before t [${want}] (request ${q.id})`);
      }
    }
  }
  return { leaks, checked, beyondCut };
}

test('LEAK: history features hold the user\'s last positives strictly before t (after the cut too); the check can fail', () => {
  const ok = historyTimeLeaks(cascade);
  assert.deepEqual(ok.leaks, []);
  assert.ok(ok.checked > 20, `${ok.checked} history items checked`);
  assert.ok(ok.beyondCut > 0, 'histories include events after the first cut (not frozen at period 1)');
  const bad = historyTimeLeaks(frozenAtEnd(cascade));
  assert.ok(bad.leaks.some((x) => />= t/.test(x)), bad.leaks.slice(0, 3).join('; '));
});

for (const name of ['dssm', 'rank-tower'] as ModelName[]) {
  test(`hybrid objective: ${name}'s loss on the training lists falls over a few dozen steps`, () => {
    const m = model(name);
    const lists = new CascadeLists(cascade, 'train', { listsPerBatch: 5, caps: CAPS, seed: 2 });
    const all = lists.build(cascade.logs.filter((e) => e.request.split === 'train'), new Rng(9));
    const lossOn = (): number => {
      m.eval();
      return noGrad(() => scope(() => cascadeLoss(listLogits(m, all), all, HYBRID).loss.item()));
    };
    const before0 = lossOn();
    const steps = trainOnLists(m, lists, cascade, HYBRID, { epochs: 8, maxSteps: 36 });
    assert.equal(steps.length, 36);
    const after0 = lossOn();
    assert.ok(after0 < before0 * 0.9, `${name}: ${before0} -> ${after0}`);
  });
}

test('every model of the zoo trains on the lists with every objective (single-tower models through forward)', () => {
  const lists = new CascadeLists(cascade, 'train', { listsPerBatch: 5, caps: CAPS });
  const twoTower = (Object.keys(MODELS) as ModelName[]).filter((n) => model(n).twoTower);
  assert.ok(['dssm', 'int-tower', 'rank-tower', 'mf'].every((n) => twoTower.includes(n as ModelName)), twoTower.join(', '));
  const objectives: CascadeObjective[] = [{ kind: 'pointwise' }, HYBRID,
    { kind: 'hybrid', weights: { distillation: 1, sorting: 1, amRankmax: 1 }, distillation: 'pairwise' },
    { kind: 'hybrid', weights: { distillation: 1, sorting: 0, amRankmax: 0 }, distillation: 'weightedLogloss' },
    ...Object.keys(LIST_LOSSES).map((loss) => ({ kind: 'listwise', loss, scope: 'all' }) as CascadeObjective)];
  for (const name of Object.keys(MODELS) as ModelName[]) {
    for (const objective of name === 'dssm' || name === 'cold' ? objectives : objectives.slice(0, 2)) {
      const m = model(name);
      const losses = trainOnLists(m, lists, cascade, objective, { epochs: 1, maxSteps: 3 });
      assert.ok(losses.length === 3 && losses.every(Number.isFinite), `${name} ${JSON.stringify(objective)}: ${losses}`);
    }
  }
});

test('a single-tower model\'s list logits equal its forward on the same (user at t, item) pairs', () => {
  const m = model('cold');
  const lists = new CascadeLists(cascade, 'eval', { listsPerBatch: 3, caps: CAPS });
  const b = lists.build(cascade.logs.filter((e) => e.request.split === 'eval').slice(0, 3), new Rng(1));
  m.eval();
  const z = noGrad(() => scope(() => Float32Array.from(listLogits(m, b).f)));
  const pair = new PairScorer(cascade.fit.data, m, b.slots, cascade.histories);
  for (let g = 0; g < b.groups; g++) {
    const q = b.requests[g].request;
    const ref = pair.score(q.user, b.items.item.subarray(g * b.slots, (g + 1) * b.slots), q.t);
    for (let j = 0; j < b.slots; j++) if (b.mask[g * b.slots + j]) assert.ok(Math.abs(ref[j] - z[g * b.slots + j]) < 1e-5, `${g}/${j}`);
  }
});

test('objectives: a hybrid with another distillation term = that term + the other hybrid terms; listwise = the named loss on its scope', () => {
  const lists = new CascadeLists(cascade, 'train', { listsPerBatch: 5, caps: CAPS });
  const b = lists.build(cascade.logs.filter((e) => e.request.split === 'train').slice(0, 5), new Rng(3));
  const z = Tensor.from(Float32Array.from({ length: b.groups * b.slots }, (_, i) => Math.cos(i * 0.7)), [b.groups, b.slots]);
  const lb = { groups: b.groups, slots: b.slots, labels: b.labels, teacher: b.teacher };
  scope(() => {
    const w = { distillation: 0.5, sorting: 2, amRankmax: 0.25 };
    const got = cascadeLoss(z, b, { kind: 'hybrid', weights: w, distillation: 'pairwise' }).loss.item();
    const want = 0.5 * pairwiseDistillationLoss(z, lb, b.scopes.impressions).item() + 2 * sortingLoss(z, lb, b.scopes.candidates).item()
      + 0.25 * amRankmaxLoss(z, lb, b.scopes.all).item();
    assert.ok(Math.abs(got - want) < 1e-4 * Math.abs(want), `${got} vs ${want}`);
    const soft = cascadeLoss(z, b, { kind: 'hybrid', weights: w }).loss.item();
    assert.ok(Math.abs(soft - got) > 1e-3, 'the variant changes the loss');
    const none = cascadeLoss(z, b, { kind: 'hybrid', weights: { ...w, distillation: 0 }, distillation: 'pairwise' }).loss.item();
    assert.ok(Math.abs(none - (want - 0.5 * pairwiseDistillationLoss(z, lb, b.scopes.impressions).item())) < 1e-4 * Math.abs(want));
    assert.equal(cascadeLoss(z, b, { kind: 'listwise', loss: 'rankNet', scope: 'candidates' }).loss.item(), rankNetLoss(z, lb, b.scopes.candidates).item());
    assert.throws(() => cascadeLoss(z, b, { kind: 'hybrid', weights: { distillation: 0, sorting: 0, amRankmax: 0 }, distillation: 'pairwise' }), /every hybrid weight is 0/);
  });
});
