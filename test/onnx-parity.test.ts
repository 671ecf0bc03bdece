// Exported ONNX graphs run in onnxruntime-node (CPU) against prerank's own forward: user_tower, item_tower, scorer
// and model.onnx of two-tower models, model.onnx of single-tower ones, within 1e-5 of the reference's magnitude.
// Batches carry OOV ids, empty sequences, sequences shorter than the batch's longest (slots past a row's length hold
// stale ids that must be ignored) and sequence axes of different lengths from batch to batch; mean, sum and max
// pooling all run. Tiny trained models (serve-fixture's tinyRun) and, for the config variants, models whose every
// parameter and batch-norm statistic was moved off its initial value.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Dataset, parseDataConfig, writeSyntheticLog, type Batch } from '../src/data/index.js';
import { encodeModel } from '../src/export/onnx/proto.js';
import { onnxGraphs } from '../src/export/onnx/graphs.js';
import { ONNX_MODELS } from '../src/export/onnx/registry.js';
import type { ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Rng, Tensor } from '../src/core/index.js';
import { tempDir, tinyRun } from './serve-fixture.js';
import { batchFeeds, floatTensor, reference, relError, run, session } from './onnx-fixture.js';
import { perturbedModel } from './helpers/perturbed-model.js';

const root = tempDir('onnx');
after(() => rmSync(root, { recursive: true, force: true }));
const TOL = 1e-5;

/** A copy of b with OOV ids in row 0, empty sequences in row 1, one-id sequences in row 2 (stale ids after it). */
function hardBatch(b: Batch): Batch {
  const c = structuredClone(b);
  for (const ids of Object.values(c.sparse)) ids[0] = 1;
  for (const s of Object.values(c.sequence)) {
    s.ids.fill(1, 0, s.maxLen);
    s.lengths[1] = 0;
    s.lengths[2] = Math.min(1, s.lengths[2]);
  }
  return c;
}

/** The batch with every sequence cut to at most one id: the graphs see a sequence axis of length 1. */
function shortBatch(b: Batch): Batch {
  const c = structuredClone(b);
  for (const s of Object.values(c.sequence)) for (let r = 0; r < c.size; r++) s.lengths[r] = Math.min(1, s.lengths[r]);
  return c;
}

function check(what: string, got: Float32Array, want: Float32Array): void {
  const e = relError(got, want);
  assert.ok(e <= TOL, `${what}: relative error ${e.toExponential(2)} > ${TOL}`);
}

/** Every graph of the model against the tensor path, on each batch. */
async function assertParity(model: RecModel, batches: Batch[]): Promise<void> {
  const files = new Map(onnxGraphs(model).map((f) => [f.file, encodeModel(f.graph, { doc: f.doc, producerVersion: 'test' })]));
  const sessions = new Map(await Promise.all([...files].map(async ([f, bytes]) => [f, await session(bytes)] as const)));
  try {
    for (const [i, b] of batches.entries()) {
      const logits = reference(model, () => model.forward(b));
      const ms = sessions.get('model.onnx')!;
      check(`batch ${i} model.onnx`, await run(ms, batchFeeds(ms, b), 'score'), logits);
      if (!model.twoTower) continue;
      const us = sessions.get('user_tower.onnx')!, is = sessions.get('item_tower.onnx')!, ss = sessions.get('scorer.onnx')!;
      const u = reference(model, () => model.encodeUser!(b));
      const v = reference(model, () => model.encodeItem!(b));
      check(`batch ${i} user_tower.onnx`, await run(us, batchFeeds(us, b), 'user_rep'), u);
      check(`batch ${i} item_tower.onnx`, await run(is, batchFeeds(is, b), 'item_rep'), v);
      const n = b.size, U = u.length / n, I = v.length / n;
      check(`batch ${i} scorer.onnx`, await run(ss, { user_rep: floatTensor(u, [n, U]), item_rep: floatTensor(v, [n, I]) }, 'score'), logits);
      // One user row against every item of the batch: the online path (user tower once, cached item reps).
      const one = reference(model, () => model.score!(Tensor.from(u.slice(0, U), [1, U]), Tensor.from(v, [n, I])));
      check(`batch ${i} scorer.onnx, one user`, await run(ss, { user_rep: floatTensor(u.slice(0, U), [1, U]), item_rep: floatTensor(v, [n, I]) }, 'score'), one);
    }
  } finally {
    for (const s of sessions.values()) await s.release();
  }
}

for (const kind of Object.keys(ONNX_MODELS) as ModelName[]) {
  test(`${kind} (trained): every exported graph equals prerank's scores, with OOV ids, empty and short sequences`, async () => {
    const { model, data } = await tinyRun(root, kind);
    const b = data.batches('test', { batchSize: 48, shuffle: false }).epoch(0).next().value!;
    await assertParity(model, [b, hardBatch(b), shortBatch(b)]);
  });
}

// A second dataset whose user history is max-pooled and item genres sum-pooled.
const dir = tempDir('onnx-variants');
after(() => rmSync(dir, { recursive: true, force: true }));
const input = writeSyntheticLog(dir, { users: 80, items: 50, interactionsPerUser: 12, seed: 9 });
for (const d of input.derived ?? []) if (d.kind === 'history') d.pooling = 'max';
for (const f of input.features) if (f.kind === 'sequence') f.pooling = 'sum';
const ds = await Dataset.load(parseDataConfig(input));
const batch = hardBatch(ds.batches('test', { batchSize: 40, shuffle: false }).epoch(0).next().value!);


const VARIANTS: [string, ModelName, Record<string, unknown>][] = [
  ['dssm (max and sum pooling)', 'dssm', {}],
  ['dssm (no batch norm, tanh last layer, T = 0.5)', 'dssm', { batchNorm: false, lastAct: 'tanh', temperature: 0.5 }],
  ['int-tower (paper Light-SE, output taps)', 'int-tower', { lightSe: 'paper' }],
  ['int-tower (residual Light-SE, input taps, 3 heads)', 'int-tower', { lightSe: 'residual', taps: 'input', heads: 3 }],
  ['int-tower (T = 0.25)', 'int-tower', { temperature: 0.25 }],
  ['int-tower (no Light-SE, last layer, raw heads)', 'int-tower', { lightSe: 'none', taps: 'last', normalizeHeads: false, heads: 5 }],
  ['int-tower (one-layer towers, input taps: no user MLP)', 'int-tower', { tower: [16], taps: 'input' }],
  ['lr (max and sum pooled weights)', 'lr', {}],
  ['wide-deep (no batch norm)', 'wide-deep', { batchNorm: false }],
  ['deepfm', 'deepfm', {}],
  ['dcn (3 cross layers, wide part)', 'dcn', { crossLayers: 3, wide: true }],
  ['dcn (no cross layer)', 'dcn', { crossLayers: 0 }],
  ['autoint (scaled, 3 heads, wide part)', 'autoint', { scaled: true, heads: 3, wide: true }],
  ['autoint (no residual, no deep part: dense features straight to the output)', 'autoint', { residual: false, dnn: [] }],
  ['dat (no batch norm, tanh last layer, T = 0.5)', 'dat', { batchNorm: false, lastAct: 'tanh', temperature: 0.5 }],
  ['cold (FiBiNET SE, wide part)', 'cold', { se: 'fibinet', wide: true }],
  ['cold (no SE, no batch norm)', 'cold', { se: 'none', batchNorm: false }],
  ['mf (cosine, T = 0.5, no biases)', 'mf', { normalize: true, biases: false, temperature: 0.5 }],
  ['rank-tower (d = 6, v = 5, tanh phi, batch norm, two hidden layers)', 'rank-tower', { attnDim: 6, valueDim: 5, phi: 'tanh', batchNorm: true, tower: [24, 16] }],
  ['rank-tower (no cross-attention: max-sim over the gated sub-spaces)', 'rank-tower', { crossAttention: false, userHeads: 2, itemHeads: 4 }],
  ['cs3 over int-tower (cycle and sync)', 'cs3', { base: 'int-tower', config: { embedDim: 8, tower: [32, 16], dropout: 0, heads: 2, headSize: 8 }, cycle: { hidden: 8 }, sync: true }],
  ['cs3 over rank-tower (cycle only)', 'cs3', { base: 'rank-tower', config: { embedDim: 8, tower: [32], dropout: 0, userHeads: 3, itemHeads: 2, headSize: 8 }, cycle: true, sync: false }],
  ['cs3 over dat (sync only)', 'cs3', { base: 'dat', config: { embedDim: 8, tower: [32, 16], dropout: 0 }, cycle: false, sync: true }],
];

/** CS3's sync statistics set away from zero (a forward pass never updates them), so the shift they give matters. */
function withSyncStatistics(model: RecModel): RecModel {
  const rng = new Rng(5);
  for (const [name, t] of model.namedBuffers()) if (/^(user|item)Mean$/.test(name)) for (let i = 0; i < t.size; i++) t.f[i] = 0.3 * rng.normal();
  return model;
}

for (const [name, kind, extra] of VARIANTS) {
  test(`${name}: every exported graph equals prerank's scores`, async () => {
    await assertParity(withSyncStatistics(perturbedModel(ds, kind, extra)), [batch, shortBatch(batch)]);
  });
}
