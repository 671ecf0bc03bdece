// The registry's models against PyTorch twins from identical weights and batches: eval logits within 1e-5 and losses
// over 10 training steps within 1e-4; RankTower's hybrid listwise step on cascade lists over 5 steps within 1e-4 relative.
// Runs only where Debian's python3-torch is installed (scripts/install-reference.sh); skips with the reason otherwise.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRegistryModel } from '../bench/registry-reference.js';
import { referenceConfig, runReferenceScript, torchAvailable } from '../bench/torch-reference.js';
import { LISTWISE_OBJECTIVE, checkListwise, snapshot, writeListwiseFixture } from '../bench/train.js';
import { CascadeLists } from '../src/cascade/lists.js';
import { Rng } from '../src/core/index.js';
import { Dataset, writeSyntheticLog } from '../src/data/index.js';
import { MODELS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { rankTower, type RankTower, type RankTowerConfig } from '../src/models/rank-tower.js';
import { tinyCascade } from './cascade-fixture.js';

const missing = torchAvailable();

// Each registry model (src/models/registry.ts) against its PyTorch twin (bench/reference/twins), both from the same
// initial weights over the synthetic log's features (sparse ids, shared tables, mean-pooled sequences, dense values):
// eval-mode logits of the first batch (batch-norm statistics drawn at random, the same on both sides), then one
// training step per batch of epoch 0 (batch 64) with the trainer's step and Adam (lr 1e-3), the losses compared.
// Defaults otherwise, except dropout 0 (the two sides cannot draw the same masks) and embedStd 0.05 (at the default
// 1e-4 the embeddings would barely reach the logits). DAT runs without batch norm: its mimic loss reaches the towers
// through a stop-gradient, so the tower weights whose gradient is ~1e-8 (where Adam's step takes its sign from
// float rounding, differently on the two sides) change the loss directly; with batch norm on, that moves the
// losses apart by ~1e-4 from step 2 at eps 1e-8, while the gradients agree to 1e-7 (batch norm's twin is checked
// by the other models).
const CASES: { name: string; kind: ModelName; config: Record<string, unknown> }[] = [
  { name: 'dssm', kind: 'dssm', config: {} },
  { name: 'int-tower (defaults: residual Light-SE, layer-output taps, normalised heads, CIR)', kind: 'int-tower', config: {} },
  { name: "int-tower (the paper's Light-SE)", kind: 'int-tower', config: { lightSe: 'paper' } },
  { name: "int-tower (authors' code: residual Light-SE, input taps, raw head dots)", kind: 'int-tower', config: { lightSe: 'residual', taps: 'input', normalizeHeads: false } },
  { name: 'dcn', kind: 'dcn', config: {} },
  { name: 'deepfm', kind: 'deepfm', config: {} },
  { name: 'autoint', kind: 'autoint', config: {} },
  { name: 'dat (batch norm off)', kind: 'dat', config: { batchNorm: false } },
];
const STEPS = 10;
const OPTIONS = { steps: STEPS, batchSize: 64, lr: 1e-3, seed: 3 };

let synthetic: { root: string; data: Dataset } | undefined;
async function syntheticData(): Promise<Dataset> {
  if (!synthetic) {
    const root = mkdtempSync(join(tmpdir(), 'prerank-torch-registry-'));
    const path = join(root, 'config.json');
    writeFileSync(path, JSON.stringify(writeSyntheticLog(root)));
    synthetic = { root, data: await Dataset.load(path) };
  }
  return synthetic.data;
}
after(() => synthetic && rmSync(synthetic.root, { recursive: true, force: true }));

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length, 'the two sides scored different batch sizes');
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
}

for (const c of CASES) {
  test(`${c.name}: the registry model's logits equal its PyTorch twin's within 1e-5, and ${STEPS} training steps' losses within 1e-4`, { skip: missing ?? false }, async () => {
    const { prerank, torch } = await compareRegistryModel(await syntheticData(), c.kind, { ...c.config, dropout: 0, embedStd: 0.05 }, OPTIONS);
    const logits = maxAbsDiff(prerank.logitsBefore, torch.logitsBefore);
    assert.ok(logits <= 1e-5, `eval logits differ by up to ${logits}`);
    assert.equal(torch.losses.length, STEPS);
    prerank.losses.forEach((l, i) => assert.ok(Math.abs(l - torch.losses[i]) <= 1e-4, `step ${i}: prerank ${l} vs torch ${torch.losses[i]}`));
  });
}

test('the registry comparison sees one weight changed on one side (DCN: 0.01 added to one cross-layer bias)', { skip: missing ?? false }, async () => {
  const perturb = (model: RecModel) => {
    const b0 = model.stateTensors().get('cross.b0')!;
    b0.f[0] += 0.01;
  };
  const { prerank, torch } = await compareRegistryModel(await syntheticData(), 'dcn', { dropout: 0, embedStd: 0.05 }, { ...OPTIONS, perturb });
  assert.ok(maxAbsDiff(prerank.logitsBefore, torch.logitsBefore) > 1e-5, 'the logits should differ');
  assert.ok(Math.abs(prerank.losses[0] - torch.losses[0]) > 1e-6, 'the first loss should differ');
});

// RankTower's hybrid listwise step (bench/reference/listwise_epoch.py): prerank and PyTorch from the same weights on the
// same cascade lists (a tiny simulated cascade; batch norm on, dropout off), 5 Adam steps. Adam's eps is 1e-3 here: some
// gradients are 0 in exact arithmetic (linear biases before batch norm, the output bias under these shift-invariant list
// losses, a context field constant at padding) and at eps 1e-8 Adam turns their float noise into full lr-sized steps
// that differ in sign between the two sides (the losses then drift apart by ~1e-3 from step 2 on).
test('rank-tower hybrid listwise: 5 Adam steps on cascade lists match PyTorch (relative 1e-4)', { skip: missing ?? false }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'prerank-torch-listwise-'));
  try {
    const { cascade } = await tinyCascade(root, 4);
    const features = cascade.fit.data.features;
    const config: RankTowerConfig = { ...rankTower.tiny, batchNorm: true };
    const model = MODELS['rank-tower']({ features, rng: new Rng(5) }, config) as RankTower;
    const caps = { impression: 4, ranking_candidate: 3, prerank_candidate: 3, random: 3 };
    const batches = [...new CascadeLists(cascade, 'train', { listsPerBatch: 4, caps, seed: 1 }).epoch(0)];
    assert.ok(batches.length >= 5, `${batches.length} batches`);
    const initial = snapshot(model);
    const dir = join(root, 'fixture');
    await writeListwiseFixture(dir, features, model, initial, batches, LISTWISE_OBJECTIVE, 1e-2, 1e-3);
    const ours = checkListwise(features, config, initial, batches, LISTWISE_OBJECTIVE, 1e-2, 5, 1e-3);
    const torch = runReferenceScript<{ losses: number[]; samples_per_epoch: number }>('listwise_epoch.py', dir, referenceConfig(), ['--check-steps', '5', '--epochs', '1']);
    assert.equal(torch.losses.length, 5);
    assert.equal(torch.samples_per_epoch, batches.reduce((s, b) => s + b.mask.reduce((a, m) => a + m, 0), 0));
    assert.ok(new Set(ours.map((l) => l.toFixed(6))).size === 5, `the weights should move between steps: ${ours.join(', ')}`);
    ours.forEach((l, i) => assert.ok(Math.abs(l - torch.losses[i]) <= 1e-4 * Math.abs(l), `step ${i}: prerank ${l} vs torch ${torch.losses[i]}`));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
