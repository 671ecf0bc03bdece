// What a training strategy adds to a serving bundle (OneBP: its stored user encodings): the export lists and hashes
// them, a request for a user with a stored encoding is scored exactly as the trainer's evaluation scored that user
// (strategy.forward), on the compiled native path (scoreRep: no tower) and on the tensor path; a user without one (a
// cold user) is scored by the user tower; a tampered encodings file or manifest is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope } from '../src/core/index.js';
import { Dataset, type Batch } from '../src/data/index.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import { sha256 } from '../src/export/manifest.js';
import { TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import type { ScoreStats } from '../src/serve/scorer.js';
import { createScorer, TensorScorer } from '../src/serve/scorers/index.js';
import { Deployment } from '../src/serve/service.js';
import { parseTrainConfig } from '../src/train/config.js';
import { runTraining } from '../src/train/run.js';
import type { OneBp } from '../src/train/strategies/onebp.js';
import { maxAbsDiff, pairBatch, tempDir, tinyRun } from './serve-fixture.js';

let root: string;
let data: Dataset;
let users: Map<string, Record<string, string>>;
const runs = new Map<string, { runDir: string; model: RecModel; strategy: OneBp }>();

before(async () => {
  root = tempDir('onebp-bundle');
  const base = await tinyRun(root, 'mf', 'mf-plain'); // writes the synthetic data once; its users.csv rows
  data = base.data;
  users = base.users;
  for (const kind of ['mf', 'dssm'] as ModelName[]) {
    const runDir = join(root, 'runs', `${kind}-onebp`);
    const cfg = parseTrainConfig({ model: { kind, config: kind === 'mf' ? { ...TINY_CONFIGS.mf, biases: false } : TINY_CONFIGS[kind] },
      data: { config: join(root, 'data', 'config.json') }, batchSize: 256, epochs: 3, seed: 5, optimizer: { kind: 'adam', lr: 0.02 },
      strategy: { kind: 'onebp', config: { negatives: 5, beta: 0.8 } }, earlyStopping: { patience: 5 }, outDir: runDir });
    const r = await runTraining(cfg, { data, quiet: true });
    runs.set(kind, { runDir, model: r.model, strategy: r.strategy as OneBp });
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Logits of one raw user against every item: the strategy's evaluation forward and the plain tower forward. */
function expected(kind: string, user: Record<string, string>): { strategy: Float32Array; tower: Float32Array } {
  const { model, strategy } = runs.get(kind)!;
  const all = data.itemKeys.map((_, i) => i);
  const b: Batch = pairBatch(data, user, all);
  const u = data.userKeys.indexOf(user.user_id);
  b.user.fill(u < 0 ? 0 : u);
  return noGrad(() => scope(() => {
    model.eval();
    const tower = Float32Array.from(model.forward(b).f);
    if (u < 0) return { strategy: tower, tower };
    return { strategy: Float32Array.from(strategy.forward(model, b).f), tower };
  }));
}

function byItem(items: { id: string | number; score: number }[]): Float32Array {
  const got = new Float32Array(data.itemCount).fill(NaN);
  for (const it of items) got[data.itemKeys.indexOf(String(it.id))] = it.score;
  return got;
}

for (const kind of ['mf', 'dssm']) {
  test(`onebp ${kind}: the bundle carries the stored encodings; known users are scored as in training, cold users by the tower`, async () => {
    const { runDir, strategy } = runs.get(kind)!;
    const out = join(root, `b-${kind}`);
    const { manifest } = await exportBundle(runDir, out);
    const known = [...strategy.known.f].filter((x) => x > 0).length;
    assert.ok(known > 0);
    assert.deepEqual(manifest.strategy?.userEncodings, { count: known, dim: strategy.encodings.shape[1], dtype: 'float32', cold: 'tower' });
    assert.equal(manifest.strategy?.kind, 'onebp');
    assert.ok(manifest.files['users/encodings.bin'] && manifest.files['users/ids.bin'], 'both files listed and hashed');

    const bundle = await Bundle.load(out);
    assert.equal(bundle.userEncodings?.ids.size, known);
    const stats: ScoreStats[] = [];
    const compiled = createScorer(bundle, { store: new MemoryItemStore(bundle.items!), observe: (s) => stats.push(s) });
    assert.equal(compiled.path, 'native-plan', `${kind} has a compiled plan (scoreRep path)`);
    const tensors = new TensorScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    const ids = data.itemKeys;
    for (const uid of ['u3', 'u17', 'u42']) {
      const user = { ...users.get(uid)!, device: 'ios' };
      const want = expected(kind, user);
      assert.ok(maxAbsDiff(want.strategy, want.tower) > 1e-3, `${uid}: the stored encoding moved away from the tower (else this test could not tell them apart)`);
      for (const [path, scorer] of [['compiled', compiled], ['tensor', tensors]] as const) {
        const got = byItem((await scorer.scoreAll({ user, candidates: ids })).items);
        assert.ok(maxAbsDiff(got, want.strategy) < 1e-5, `${kind} ${path} ${uid}: served vs strategy.forward max diff ${maxAbsDiff(got, want.strategy)}`);
        const top = await scorer.prerank({ user, candidates: ids, n: 5 });
        const best = [...want.strategy].sort((a, b) => b - a).slice(0, 5);
        top.items.forEach((it, i) => assert.ok(Math.abs(it.score - best[i]) < 1e-5, `${kind} ${path} ${uid} top #${i}`));
      }
    }
    assert.ok(stats.length > 0 && stats.every((s) => s.userRep === 'stored'));
    // A cold user (a key the encoders never saw): the user tower, as the model scores it.
    const cold = { ...users.get('u3')!, user_id: 'nobody', device: 'ios' };
    const wantCold = expected(kind, cold);
    for (const scorer of [compiled, tensors]) {
      const got = byItem((await scorer.scoreAll({ user: cold, candidates: ids })).items);
      assert.ok(maxAbsDiff(got, wantCold.tower) < 1e-5, `${kind} cold user: served vs tower max diff ${maxAbsDiff(got, wantCold.tower)}`);
    }
    assert.equal(stats.at(-1)!.userRep, 'tower');
    // Retrieval (inner-product ANN over the item table) uses the stored rep too.
    const dep = await Deployment.open(out, { ann: 'brute-force' });
    try {
      const user = { ...users.get('u17')!, device: 'ios' };
      const want = expected(kind, user).strategy;
      const r = await dep.scorer.retrieve({ user, k: 5 });
      const best = [...want].sort((a, b) => b - a).slice(0, 5);
      r.items.forEach((it, i) => assert.ok(Math.abs(it.score - best[i]) < 1e-5, `${kind} retrieve #${i}: ${it.score} vs ${best[i]}`));
    } finally {
      await dep.close();
    }
  });
}

test('onebp: a user whose encoding was not stored is a cold user in the bundle too (tower), like in evaluation', async () => {
  const { model, strategy } = runs.get('dssm')!;
  const u = data.userKeys.indexOf('u3');
  const saved = strategy.known.f[u];
  strategy.known.f[u] = 0;
  try {
    const out = join(root, 'b-dssm-cold');
    const { manifest } = await exportBundle({ model, dataset: data, config: { kind: 'dssm', config: TINY_CONFIGS.dssm as Record<string, unknown> }, strategy }, out);
    const bundle = await Bundle.load(out);
    assert.ok(bundle.userEncodings!.ids.indexOf('u3') < 0 && bundle.userEncodings!.ids.indexOf('u17') >= 0);
    assert.equal(manifest.strategy!.userEncodings!.count, bundle.userEncodings!.ids.size);
    const scorer = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    const user = { ...users.get('u3')!, device: 'ios' };
    const want = expected('dssm', user);
    assert.ok(maxAbsDiff(want.strategy, want.tower) < 1e-6, 'evaluation scores u3 by the tower now');
    const got = byItem((await scorer.scoreAll({ user, candidates: data.itemKeys })).items);
    assert.ok(maxAbsDiff(got, want.tower) < 1e-5, `max diff ${maxAbsDiff(got, want.tower)}`);
  } finally {
    strategy.known.f[u] = saved;
  }
});

test('onebp bundle: a tampered encodings file, ids file or manifest entry is refused; plain bundles keep their hash', async () => {
  const src = join(root, 'b-mf');
  const mk = (name: string): string => {
    const d = join(root, name);
    rmSync(d, { recursive: true, force: true });
    cpSync(src, d, { recursive: true });
    return d;
  };
  let d = mk('t-enc');
  const bin = readFileSync(join(d, 'users/encodings.bin'));
  bin[5] ^= 0x40;
  writeFileSync(join(d, 'users/encodings.bin'), bin);
  await assert.rejects(Bundle.load(d), /users\/encodings\.bin does not match the manifest/);
  await assert.rejects(Bundle.load(d, { parts: 'user' }), /users\/encodings\.bin does not match the manifest/);
  await Bundle.load(d, { parts: 'item' }); // the item table does not need them
  // Re-hashing the tampered file into manifest.files changes the model hash: refused as an edited manifest.
  const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
  m.files['users/encodings.bin'] = sha256(bin);
  writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(Bundle.load(d), /manifest\.json was edited/);

  d = mk('t-ids');
  const ids = readFileSync(join(d, 'users/ids.bin'));
  ids[ids.length - 1] ^= 1; // a user's id changes
  writeFileSync(join(d, 'users/ids.bin'), ids);
  await assert.rejects(Bundle.load(d), /users\/ids\.bin does not match the manifest/);

  d = mk('t-strategy');
  const m2 = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
  delete m2.strategy; // serving would silently fall back to the tower for everyone
  writeFileSync(join(d, 'manifest.json'), JSON.stringify(m2));
  await assert.rejects(Bundle.load(d), /manifest\.json was edited/);

  // A bundle without a strategy hashes as before (no strategy entry, no users/ files).
  const plain = await exportBundle(join(root, 'runs', 'mf-plain'), join(root, 'b-plain'));
  assert.equal(plain.manifest.strategy, undefined);
  assert.equal(plain.manifest.files['users/encodings.bin'], undefined);
  assert.equal((await Bundle.load(join(root, 'b-plain'))).userEncodings, null);
});
