// The scorer conformance suite over every bundle kind: DSSM (inner product, retrieval), IntTower (max-sim), RankTower,
// DCN (single-tower, full pairs), DSSM with a bfloat16 item table, and MF with OneBP's stored user encodings; each
// two-tower bundle through every path that can serve it (native plan reading the table in place, from rows a store
// decoded, on a worker thread; tensors). Also: createScorer picks the path from the bundle.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope } from '../src/core/index.js';
import type { Batch } from '../src/data/index.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import type { ItemDType } from '../src/export/item-table.js';
import { TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import { retrievalIndexOf } from '../src/export/retrieval-index.js';
import { bruteForceSource } from '../src/serve/candidates.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { serveAddon } from '../src/serve/native.js';
import type { Scorer, ScoreStats, UserFeatures } from '../src/serve/scorer.js';
import { createScorer, NativePlanScorer, SingleTowerScorer, TensorScorer } from '../src/serve/scorers/index.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import type { ItemStore } from '../src/serve/stores/types.js';
import { parseTrainConfig } from '../src/train/config.js';
import { runTraining } from '../src/train/run.js';
import type { OneBp } from '../src/train/strategies/onebp.js';
import { scorerConformance, type ScorerCase } from './serve-scorer-conformance.js';
import { pairBatch, tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

const root = tempDir('scorers');
after(() => rmSync(root, { recursive: true, force: true }));

const runs = new Map<string, Promise<TinyRun>>();
const run = (kind: ModelName): Promise<TinyRun> => {
  if (!runs.has(kind)) runs.set(kind, tinyRun(root, kind));
  return runs.get(kind)!;
};

/** A store like Redis: no in-place rows, decoded float32 copies after an await. */
const decodedOnly = (m: MemoryItemStore): ItemStore => ({ kind: 'decoded', dim: m.dim, size: m.size, close: () => m.close(), get: async (ids) => m.get(ids) });

function twoTowerPaths(bundle: Bundle): ScorerCase['paths'] {
  const info = retrievalIndexOf(bundle.manifest.items, false);
  return ({ table = bundle.items!, observe }) => {
    const store = new MemoryItemStore(table);
    const ann = bruteForceSource(table, info, bundle.model);
    const opts = { store, ann, observe };
    const paths: Record<string, Scorer> = {};
    if (serveAddon()) {
      paths['native plan'] = createScorer(bundle, opts);
      paths['native plan, rows decoded by the store'] = createScorer(bundle, { ...opts, store: decodedOnly(store) });
      paths['native plan, on a worker thread'] = createScorer(bundle, { ...opts, asyncAboveMacs: 0 });
      for (const s of Object.values(paths)) assert.equal(s.path, 'native-plan');
    }
    paths.tensor = new TensorScorer(bundle, opts);
    return paths;
  };
}

const users = (r: TinyRun): UserFeatures[] => ['u3', 'u17', 'u42'].map((u) => ({ ...r.users.get(u)!, device: 'ios' }));

const forward = (r: TinyRun, b: Batch): Float32Array => noGrad(() => scope(() => {
  r.model.eval();
  return (r.model.forward(b).data as Float32Array).slice(0, b.size);
}));

/** The model's own logits: forward over (user, item) pairs as in training. */
const modelForward = (r: TinyRun) => (user: UserFeatures, ids: string[]): Float32Array =>
  forward(r, pairBatch(r.data, user, ids.map((id) => r.data.itemKeys.indexOf(id))));

function once(make: () => Promise<ScorerCase>): () => Promise<ScorerCase> {
  let p: Promise<ScorerCase> | null = null;
  return () => (p ??= make());
}

const common = { oov: { column: 'gender', value: 'never-seen', feature: 'gender' }, dense: 'age' };

async function modelCase(kind: ModelName, tol: number, dtype: ItemDType = 'float32'): Promise<ScorerCase> {
  const r = await run(kind);
  const out = join(root, `b-${kind}-${dtype}`);
  await exportBundle(r.runDir, out, { itemDtype: dtype });
  const bundle = await Bundle.load(out);
  const retrieves = bundle.twoTower;
  const paths: ScorerCase['paths'] = bundle.twoTower ? twoTowerPaths(bundle)
    : ({ observe }) => ({ 'single-tower': createScorer(bundle, { store: null, observe }) });
  return { bundle, users: users(r), expected: modelForward(r), tol, paths, retrieves, ...common };
}

/** MF trained with OneBP: its bundle stores user encodings, and a known user is scored from them (no tower). */
async function storedRepCase(): Promise<ScorerCase> {
  const base = await run('dssm'); // writes the synthetic data
  const runDir = join(root, 'runs', 'mf-onebp');
  const cfg = parseTrainConfig({ model: { kind: 'mf', config: { ...TINY_CONFIGS.mf, biases: false } }, data: { config: join(root, 'data', 'config.json') },
    batchSize: 256, epochs: 3, seed: 5, optimizer: { kind: 'adam', lr: 0.02 }, strategy: { kind: 'onebp', config: { negatives: 5, beta: 0.8 } }, outDir: runDir });
  const trained = await runTraining(cfg, { data: base.data, quiet: true });
  const strategy = trained.strategy as OneBp;
  const out = join(root, 'b-mf-onebp');
  await exportBundle(runDir, out);
  const bundle = await Bundle.load(out);
  assert.ok(bundle.userEncodings && bundle.userEncodings.ids.size > 0);
  const expected = (user: UserFeatures, ids: string[]): Float32Array => {
    const b = pairBatch(base.data, user, ids.map((id) => base.data.itemKeys.indexOf(id)));
    b.user.fill(base.data.userKeys.indexOf(String(user.user_id)));
    return noGrad(() => scope(() => {
      trained.model.eval();
      return Float32Array.from(strategy.forward(trained.model, b).f);
    }));
  };
  return { bundle, users: users(base), expected, tol: 1e-5, paths: twoTowerPaths(bundle), retrieves: true, ...common };
}

const dssmCase = once(() => modelCase('dssm', 1e-5));
const dcnCase = once(() => modelCase('dcn', 1e-5));
scorerConformance('dssm', dssmCase);
// The native max-sim score kind takes the max over item heads with SIMD max instructions that drop a NaN operand, so
// a NaN in one item head gives a finite score where the model's own score is NaN. (RankTower's max keeps it.)
scorerConformance('int-tower', once(() => modelCase('int-tower', 1e-5)));
scorerConformance('rank-tower', once(() => modelCase('rank-tower', 1e-4)));
scorerConformance('dcn', dcnCase);
// bf16 reps (and, on the native plan, the user rep rounded to bf16 too): the export measures this error as ~0.01-0.03
scorerConformance('dssm bfloat16', once(() => modelCase('dssm', 0.05, 'bfloat16')));
scorerConformance('mf onebp (stored user reps)', once(storedRepCase));

test('createScorer picks the path from the bundle: single-tower pairs, the native plan when the model has one, else tensors', async () => {
  const dcn = (await dcnCase()).bundle;
  assert.ok(createScorer(dcn, { store: null }) instanceof SingleTowerScorer);
  const dssm = (await dssmCase()).bundle;
  const store = new MemoryItemStore(dssm.items!);
  const picked = createScorer(dssm, { store });
  if (compileUserSide(dssm.model!)) assert.ok(picked instanceof NativePlanScorer);
  else assert.ok(picked instanceof TensorScorer);
  assert.throws(() => createScorer(dssm, { store: null }), /a two-tower bundle needs an item store/);
  const userOnly = await Bundle.load(join(root, 'b-dssm-float32'), { parts: 'item' });
  assert.throws(() => createScorer(userOnly, { store }), /loaded without the user tower/);
});

test('warm-up requests are not observed', async () => {
  const dssm = (await dssmCase()).bundle;
  const stats: ScoreStats[] = [];
  const s = createScorer(dssm, { store: new MemoryItemStore(dssm.items!), observe: (x) => stats.push(x) });
  await s.warm(2);
  assert.deepEqual(stats, []);
  await s.scoreAll({ user: {}, candidates: [dssm.items!.ids.keyAt(0)] });
  assert.equal(stats.length, 1);
});
