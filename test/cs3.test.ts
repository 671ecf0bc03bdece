// CS3 (this project's interpretation; src/models/cs3.ts, src/train/strategies/cs3-cascade.ts): the cycle's gates
// differ from 1, depend on the input and re-weight pass 2's fields; the sync statistics follow the EMA of each
// step's normalised reps and freeze outside training; the alignment loss matches a hand-computed case and central
// differences; warm start copies the teacher's rows and refuses mismatched teachers; distillation pulls the student's
// logits toward the teacher's; bundles serve what the training-time model scores with every part on (DSSM and
// IntTower, compiled plan); a resumed run ends bit-identical to an uninterrupted one, CS3 state included.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, Tensor, backward, noGrad, scope } from '../src/core/index.js';
import { serveAddon } from '../src/serve/native.js';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { MODELS, TINY_CONFIGS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Cs3 } from '../src/models/cs3.js';
import { alignment } from '../src/models/common/rep-stats.js';
import { USER_SIDE } from '../src/models/common/field-embedder.js';
import { Adam } from '../src/nn/index.js';
import { loadTensors } from '../src/nn/state.js';
import { parseTrainConfig, type TrainConfigInput } from '../src/train/config.js';
import { runTraining, type RunResult } from '../src/train/run.js';
import { Cs3Cascade, createCs3Cascade, distillation } from '../src/train/strategies/cs3-cascade.js';
import { loadRunModel } from '../src/train/build.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { createScorer, NativePlanScorer } from '../src/serve/scorers/index.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { gradCheck, randTensor } from './helpers/gradcheck.js';
import { maxAbsDiff, pairBatch, tempDir } from './serve-fixture.js';

const root = tempDir('cs3');
after(() => rmSync(root, { recursive: true, force: true }));
const dataDir = join(root, 'data');
const cfgPath = join(dataDir, 'config.json');
writeFileSync(cfgPath, JSON.stringify(writeSyntheticLog(dataDir, { users: 120, items: 60, interactionsPerUser: 30 })));
const ds = await Dataset.load(cfgPath);
const BASES = ['dssm', 'int-tower'] as const;
type Base = (typeof BASES)[number];

function cs3(base: Base, parts: Record<string, unknown>, seed = 3): Cs3 {
  return MODELS.cs3({ features: ds.features, rng: new Rng(seed) }, { base, config: { ...TINY_CONFIGS[base] }, ...parts }) as Cs3;
}

const firstBatch = (split: 'train' | 'val' | 'test', size: number, seed = 1): Batch =>
  ds.batches(split, { batchSize: size, shuffle: split === 'train', seed }).epoch(0).next().value as Batch;

async function run(name: string, model: { kind: string; config: Record<string, unknown> }, extra: Partial<TrainConfigInput> = {}, opts: { maxEpochsThisCall?: number; resume?: boolean } = {}): Promise<RunResult> {
  const cfg = parseTrainConfig({ model, data: { config: cfgPath }, batchSize: 256, epochs: 2, seed: 5, optimizer: { kind: 'adam', lr: 0.01 },
    outDir: join(root, 'runs', name), ...extra });
  return runTraining(cfg, { data: ds, quiet: true, ...opts });
}

/** A trained DCN (embedDim 8, like the tiny two-tower configs): the teacher of the cascade tests. */
const teacherRun = await run('dcn-teacher', { kind: 'dcn', config: { ...TINY_CONFIGS.dcn } });
const teacherDir = join(root, 'runs', 'dcn-teacher');

for (const base of BASES) {
  test(`cycle on ${base}: gates differ from 1, depend on the input, and pass 2 is the tower on gated fields`, () => {
    const m = cs3(base, { cycle: true });
    // Move every parameter off its (tiny) initial value, so the field embeddings matter to the rep.
    const rng = new Rng(11);
    for (const t of m.parameters()) for (let i = 0; i < t.size; i++) t.f[i] += 0.3 * rng.normal();
    m.eval();
    const batch = firstBatch('test', 16);
    const F = m.user.fields;
    const g = m.gates('user', batch);
    assert.equal(g.length, batch.size * F);
    assert.ok(g.every((x) => x > 0 && x < 2), 'gates are 2 sigmoid(.)');
    assert.ok(g.some((x) => Math.abs(x - 1) > 1e-3), 'gates differ from 1');
    const r = [...Array(batch.size).keys()].find((b) => batch.user[b] !== batch.user[0])!;
    assert.ok(g.subarray(0, F).some((x, f) => Math.abs(x - g[r * F + f]) > 1e-6), 'two users get different gates');
    const gi = m.gates('item', batch);
    assert.equal(gi.length, batch.size * m.item.fields);
    noGrad(() => scope(() => {
      const rep = Float32Array.from(m.encodeUser(batch).f);
      const hook = m.embedder.transform;
      try {
        // The same tower with the fields multiplied by those gates, no second pass: what pass 2 computes.
        m.embedder.transform = (e, _b, sources) => sources === USER_SIDE ? Tensor.from(mulFields(e, g), e.shape) : e;
        const manual = m.base.encodeUser!(batch).f;
        assert.ok(maxAbsDiff(rep, manual) < 1e-5, `pass 2 = tower(e * g): ${maxAbsDiff(rep, manual)}`);
        m.embedder.transform = null;
        assert.ok(maxAbsDiff(rep, m.base.encodeUser!(batch).f) > 1e-4, 'the cycle changes the user rep');
      } finally {
        m.embedder.transform = hook;
      }
    }));
  });
}

/** e [B, F, D] * g [B, F] as a plain array. */
function mulFields(e: Tensor, g: Float32Array): Float32Array {
  const [B, F, D] = e.shape;
  const out = new Float32Array(B * F * D);
  for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) for (let d = 0; d < D; d++) out[(b * F + f) * D + d] = e.f[(b * F + f) * D + d] * g[b * F + f];
  return out;
}

/** mean_b r_b / ||r_b||, [B, W] -> [W]. */
function meanNormalized(r: Tensor): Float64Array {
  const [B, W] = r.shape;
  const m = new Float64Array(W);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let j = 0; j < W; j++) n += r.f[b * W + j] ** 2;
    for (let j = 0; j < W; j++) m[j] += r.f[b * W + j] / Math.sqrt(n) / B;
  }
  return m;
}

for (const base of BASES) {
  test(`sync on ${base}: statistics are the EMA of each step's normalised reps, frozen in eval; the shift feeds the towers`, () => {
    const beta = 0.5;
    const m = cs3(base, { sync: { beta, weight: 0.1 } });
    const opt = new Adam(m.namedParameters(), { lr: 0.01 });
    const stream = ds.batches('train', { batchSize: 64, seed: 2 });
    const expected = { user: new Float64Array(m.user.width), item: new Float64Array(m.item.width) };
    let step = 0;
    m.train();
    for (const batch of stream.epoch(0)) {
      scope(() => {
        opt.zeroGrad();
        const out = m.loss(batch);
        assert.ok(out.parts.align > 0, 'the alignment term is in the loss');
        for (const side of ['user', 'item'] as const) {
          const mean = meanNormalized(out.reps![side]);
          const k = step === 0 ? 0 : beta;
          for (let j = 0; j < mean.length; j++) expected[side][j] = k * expected[side][j] + (1 - k) * mean[j];
        }
        backward(out.loss);
      });
      opt.step();
      step++;
      assert.equal(m.syncSteps!.f[0], step);
      for (const side of ['user', 'item'] as const) {
        const got = m[side].mean!.f;
        assert.ok(maxAbsDiff(got, expected[side]) < 1e-5, `${side} statistic after step ${step}`);
      }
      if (step === 3) break;
    }
    const frozen = { user: Float32Array.from(m.user.mean!.f), item: Float32Array.from(m.item.mean!.f) };
    m.eval();
    noGrad(() => scope(() => {
      m.loss(firstBatch('val', 32));
      m.forward(firstBatch('val', 32));
    }));
    assert.deepEqual(m.user.mean!.f, frozen.user, 'eval-mode calls leave the statistics alone');
    assert.deepEqual(m.item.mean!.f, frozen.item);
    // The projections learned away from zero, so the other side's statistic now moves this side's rep.
    const batch = firstBatch('test', 16);
    noGrad(() => scope(() => {
      const rep = Float32Array.from(m.encodeItem(batch).f);
      const hook = m.embedder.transform;
      m.embedder.transform = null;
      const plain = m.base.encodeItem!(batch).f;
      m.embedder.transform = hook;
      assert.ok(maxAbsDiff(rep, plain) > 1e-5, 'the user statistic enters the item tower');
    }));
  });
}

test('alignment: hand-computed cases, the last item-width columns of a wider user rep, central differences', () => {
  const t = (rows: number[][]) => Tensor.from(Float32Array.from(rows.flat()), [rows.length, rows[0].length]);
  // means (1, 0) vs (0, 1): 2; second moments diag(1, 0) vs diag(0, 1): 2.
  assert.ok(Math.abs(alignment(t([[1, 0], [1, 0]]), t([[0, 1], [0, 1]])).item() - 4) < 1e-6);
  // Rows are normalised first: the same directions give 0.
  assert.ok(Math.abs(alignment(t([[3, 0], [0, 2]]), t([[0, 5], [1, 0]])).item()) < 1e-6);
  // A 4-wide user rep is compared through its last 2 columns.
  assert.ok(Math.abs(alignment(t([[9, 9, 1, 0], [-4, 2, 1, 0]]), t([[0, 1], [0, 1]])).item() - 4) < 1e-6);
  const rng = new Rng(5);
  gradCheck('alignment', (u, v) => alignment(u, v), [randTensor(rng, [5, 6]), randTensor(rng, [5, 3])]);
});

test('cs3-cascade warm start copies the teacher\'s embedding rows; mismatched teachers stop with a clear error', async () => {
  const student = cs3('dssm', { cycle: true });
  const strategy = await createCs3Cascade({ model: student, data: ds, rng: new Rng(1), loadRun: loadRunModel }, { teacher: teacherDir });
  assert.ok(strategy.warmStarted.length >= 3, `copied ${strategy.warmStarted.join(', ')}`);
  const teacher = new Map(teacherRun.model.namedParameters());
  const own = new Map(student.namedParameters());
  for (const table of strategy.warmStarted) {
    const t = [...teacher].find(([n]) => n === `embed.${table}.table`)![1];
    const s = own.get(`base.embed.${table}.table`)!;
    assert.deepEqual(s.f, t.f, `table ${table} is the teacher's`);
  }
  // Another embedding width.
  await run('dcn-dim4', { kind: 'dcn', config: { ...TINY_CONFIGS.dcn, embedDim: 4 } }, { epochs: 1 });
  await assert.rejects(createCs3Cascade({ model: cs3('dssm', {}), data: ds, rng: new Rng(1), loadRun: loadRunModel }, { teacher: join(root, 'runs', 'dcn-dim4') }), /embedDim/);
  // Other data with other vocabulary sizes (same data name): the teacher's checkpoint does not fit.
  const otherDir = join(root, 'other');
  const other = await Dataset.load(parseDataConfig(writeSyntheticLog(otherDir, { users: 70, items: 45, interactionsPerUser: 20 })));
  await assert.rejects(loadRunModel(teacherDir, other), /does not fit this dataset's features/);
  await assert.rejects(createCs3Cascade({ model: student, data: ds, rng: new Rng(1), loadRun: loadRunModel }, {}), /cs3-cascade\.teacher: must be the run directory of a trained ranking model/);
  await assert.rejects(createCs3Cascade({ model: student, data: ds, rng: new Rng(1), loadRun: loadRunModel }, { teacher: join(root, 'nope') }), /not a training run/);
});

test('cs3-cascade distillation: the loss term matches its definition and training pulls the student toward the teacher', async () => {
  const s = Tensor.from(Float32Array.from([0.5, -1, 2]), [3]);
  const tl = Tensor.from(Float32Array.from([1, 0, -1]), [3]);
  assert.ok(Math.abs(distillation(s, tl, 'mse').item() - (0.25 + 1 + 9) / 3) < 1e-6);
  const p = [1, 0, -1].map((x) => 1 / (1 + Math.exp(-x)));
  const bce = [0.5, -1, 2].reduce((a, z, i) => a + Math.max(z, 0) - z * p[i] + Math.log1p(Math.exp(-Math.abs(z))), 0) / 3;
  assert.ok(Math.abs(distillation(s, tl, 'bce').item() - bce) < 1e-5);
  const val = firstBatch('val', 256);
  const gap = (m: RecModel, c: Cs3Cascade): number => noGrad(() => scope(() => {
    m.eval();
    return distillation(m.forward(val), c.teacherLogits(val), 'mse').item();
  }));
  const gaps: number[] = [];
  for (const weight of [0, 5]) {
    const r = await run(`distill-${weight}`, { kind: 'dssm', config: { ...TINY_CONFIGS.dssm } },
      { epochs: 3, strategy: { kind: 'cs3-cascade', config: { teacher: teacherDir, warmStart: false, distill: 'mse', weight } } });
    gaps.push(gap(r.model, r.strategy as Cs3Cascade));
  }
  assert.ok(gaps[1] < 0.7 * gaps[0], `mean squared logit gap to the teacher: ${gaps[0].toFixed(4)} without, ${gaps[1].toFixed(4)} with distillation`);
});

const userLines = readFileSync(join(dataDir, 'users.csv'), 'utf8').trim().split('\n');
const userHead = userLines[0].split(',');
/** users.csv rows by user id (raw values, as the service receives them). */
const users = new Map(userLines.slice(1).map((l) => {
  const v = l.split(',');
  return [v[0], Object.fromEntries(userHead.map((h, i) => [h, v[i]]))] as const;
}));

for (const base of BASES) {
  test(`all three parts on ${base}: the exported bundle serves what the training-time model scores, statistics frozen in it`, async () => {
    const r = await run(`all-${base}`, { kind: 'cs3', config: { base, config: { ...TINY_CONFIGS[base] }, cycle: true, sync: true } },
      { strategy: { kind: 'cs3-cascade', config: { teacher: teacherDir } } });
    const model = r.model as Cs3;
    assert.ok(model.user.mean!.f.some((x) => x !== 0), 'the statistics were updated in training');
    const out = join(root, `bundle-${base}`);
    const { manifest } = await exportBundle(join(root, 'runs', `all-${base}`), out);
    assert.ok(manifest.items.cached);
    assert.ok(manifest.items.exportCheck.maxAbsError < 1e-5, `export check ${manifest.items.exportCheck.maxAbsError}`);
    const bundle = await Bundle.load(out);
    const served = bundle.model as Cs3;
    for (const side of ['user', 'item'] as const) assert.deepEqual(served[side].mean!.f, model[side].mean!.f, `${side} statistic in the bundle`);
    const scorer = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    if (serveAddon()) {
      assert.ok(scorer instanceof NativePlanScorer, 'a compiled plan serves it');
      // Per-candidate cost is the base model's: the same item rep width and score kernel (only the user side grows).
      const plain = compileUserSide(MODELS[base]({ features: ds.features, rng: new Rng(1) }, { ...TINY_CONFIGS[base] } as never) as RecModel)!;
      assert.equal(scorer.compiled.itemDim, plain.itemDim);
      assert.equal(scorer.compiled.work(1000), plain.work(1000));
    }
    const ids = ds.itemKeys;
    for (const uid of ['u3', 'u17']) {
      const user = { ...users.get(uid)!, device: 'ios' };
      const res = await scorer.scoreAll({ user, candidates: ids });
      const expected = noGrad(() => scope(() => {
        model.eval();
        return Float32Array.from(model.forward(pairBatch(ds, user, ids.map((_, i) => i))).f);
      }));
      const got = new Float32Array(ids.length);
      for (const it of res.items) got[ids.indexOf(String(it.id))] = it.score;
      assert.ok(maxAbsDiff(got, expected) < 1e-4, `${base} ${uid}: max diff ${maxAbsDiff(got, expected)}`);
    }
  });
}

test('checkpoint resume: a run stopped after one epoch and resumed ends bit-identical to an uninterrupted one (CS3 state included)', async () => {
  const model = { kind: 'cs3', config: { base: 'int-tower', config: { ...TINY_CONFIGS['int-tower'] }, cycle: true, sync: true } };
  const extra = { strategy: { kind: 'cs3-cascade', config: { teacher: teacherDir } }, earlyStopping: { patience: 10 } };
  await run('straight', model, extra);
  await run('resumed', model, extra, { maxEpochsThisCall: 1 });
  await run('resumed', model, extra, { resume: true });
  const a = (await loadTensors(join(root, 'runs', 'straight', 'last'))).tensors;
  const b = (await loadTensors(join(root, 'runs', 'resumed', 'last'))).tensors;
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const name of ['model.userMean', 'model.itemMean', 'model.syncSteps', 'model.userGate.fc0.weight']) assert.ok(a.has(name), `${name} is checkpointed`);
  assert.equal(a.get('model.syncSteps')!.f[0], 2 * Math.ceil(ds.splits.train.length / 256));
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, `${k} after resume`);
});

test('the fieldGate plan step is validated (ranges, shift size, overlap) and the plan falls back when it cannot compose', { skip: serveAddon() ? false : 'native addon not built' }, () => {
  const m = cs3('dssm', { cycle: true, sync: true });
  m.eval();
  const spec = m.servingPlan().spec;
  const { ServePlan } = serveAddon()!;
  const gate = spec.steps.find((s) => s.op === 'fieldGate')!;
  assert.ok(gate && gate.op === 'fieldGate');
  const bad = (patch: Record<string, unknown>) => new ServePlan({ ...spec, steps: [{ ...gate, ...patch }] });
  assert.throws(() => bad({ dst: spec.arena - 1 }), /step 0 output .* outside the arena/);
  assert.throws(() => bad({ gate: spec.arena }), /step 0 gate .* outside the arena/);
  assert.throws(() => bad({ shift: new Float32Array(3) }), /step 0: shift must have F\*D floats/);
  assert.throws(() => bad({ dst: 1 }), /step 0: input and output overlap/);
  assert.throws(() => bad({ scale: 'x' }), /spec\.steps\[0\]\.scale must be a number/);
  // DAT's plan input carries its augmented vector, not just the embedder's row: the tensor path serves CS3 on it.
  const dat = MODELS.cs3({ features: ds.features, rng: new Rng(1) }, { base: 'dat', config: { ...TINY_CONFIGS.dat }, cycle: true }) as Cs3;
  assert.throws(() => dat.servingPlan(), /plan input/);
  assert.equal(compileUserSide(dat), null);
});

test('cs3 refuses what it cannot wrap, and unknown options', () => {
  const ctx = { features: ds.features, rng: new Rng(1), loadRun: loadRunModel };
  assert.throws(() => MODELS.cs3(ctx, { base: 'dcn', config: {} }), /not a two-tower model/);
  assert.throws(() => MODELS.cs3(ctx, { base: 'nope' }), /unknown base model/);
  assert.throws(() => MODELS.cs3(ctx, { base: 'mf', config: { ...TINY_CONFIGS.mf }, cycle: true }), /exactly one FieldEmbedder/);
  assert.throws(() => MODELS.cs3(ctx, {} as never), /cs3\.base: must name a registered two-tower model/);
  assert.throws(() => MODELS.cs3(ctx, { base: 'dssm', cycle: { hiden: 3 } as never }), /cs3\.cycle\.hiden: unknown key 'hiden'; did you mean 'hidden'\?/);
  assert.throws(() => MODELS.cs3(ctx, { base: 'dssm', extra: 1 } as never), /cs3\.extra: unknown key 'extra'/);
  assert.throws(() => MODELS.cs3(ctx, { base: 'dssm', sync: { beta: 1 } }), /cs3\.sync\.beta: Too big: expected number to be <1/);
  assert.throws(() => MODELS.cs3(ctx, { base: 'dssm', cycle: { hidden: 0 } }), /cs3\.cycle\.hidden: Too small: expected number to be >0/);
});
