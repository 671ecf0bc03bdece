// A registry model (src/models/registry.ts MODELS) against its PyTorch twin (bench/reference/twins) from the same
// initial weights on the same batches: eval-mode logits of the first batch, the losses of one training step per
// batch (prerank's trainStep with the trainer's Adam; the twin with lazy Adam on its tables and Adam on the rest).
// Batch norm's running statistics, gamma and beta start at random values (the same on both sides) so that the eval
// logits exercise the whole normalisation. bench/reference/registry_step.py is the PyTorch side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, noGrad, scope } from '../src/core/index.js';
import type { Batch, Dataset } from '../src/data/index.js';
import { MODELS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { trainStep } from '../src/train/step.js';
import { createOptimizer } from '../src/train/trainer.js';
import { referenceConfig, runReferenceScript, writeFixture } from './torch-reference.js';

export interface RegistryRun {
  /** Eval-mode logits of batch 0 from the initial weights. */
  logitsBefore: number[];
  /** The loss of each training step, computed before its update. */
  losses: number[];
}

export interface RegistryComparison {
  prerank: RegistryRun;
  torch: RegistryRun;
}

export interface ComparisonOptions {
  /** Training steps, one per batch of epoch 0 in the trainer's order. */
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Write the fixture here and keep it (default: a temporary directory, removed afterwards). */
  keep?: string;
  /** Changes prerank's model after the fixture is written (so only prerank's side runs the change). */
  perturb?: (model: RecModel) => void;
}

/** The dataset's features as the twins read them (bench/reference/twins/layers.py), in the dataset's order. */
export function twinFeatures(features: Dataset['features']): Record<string, unknown>[] {
  return features.map((f) => ({ name: f.name, kind: f.kind, source: f.source, table: f.table ?? f.name, pooling: f.pooling ?? 'mean' }));
}

/** Deep copy of a batch (a BatchStream reuses its buffers). */
function copyBatch(b: Batch): Batch {
  const rec = <T extends Int32Array | Float32Array>(r: Record<string, T>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.slice(0, b.size) as T]));
  const sequence = Object.fromEntries(Object.entries(b.sequence).map(([k, s]) =>
    [k, { ids: s.ids.slice(0, b.size * s.maxLen), lengths: s.lengths.slice(0, b.size), maxLen: s.maxLen }]));
  return { size: b.size, sparse: rec(b.sparse), dense: rec(b.dense), sequence, label: b.label.slice(0, b.size),
    weight: b.weight?.slice(0, b.size), rows: b.rows.slice(0, b.size), user: b.user.slice(0, b.size), item: b.item.slice(0, b.size) };
}

/** The first `steps` batches of the train split's epoch 0, as the trainer visits them. */
function firstBatches(data: Dataset, o: ComparisonOptions): Batch[] {
  const out: Batch[] = [];
  for (const b of data.batches('train', { batchSize: o.batchSize, seed: o.seed }).epoch(0)) {
    if (b.weight) throw new Error('registry reference: weighted batches are not compared (the twins compute an unweighted BCE)');
    out.push(copyBatch(b));
    if (out.length === o.steps) return out;
  }
  throw new Error(`registry reference: the train split has ${out.length} batches of ${o.batchSize}, fewer than ${o.steps} steps`);
}

/** Batch tensors under `batch.<k>.<feature>` (sequences: [n, L] ids and `.lengths`), `batch.<k>.label`. */
function batchTensors(data: Dataset, batches: Batch[]): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const put = (name: string, arr: Int32Array | Float32Array, shape: number[]) => out.set(name, new Tensor(arr, shape, { register: false }));
  batches.forEach((b, k) => {
    const n = b.size;
    for (const f of data.features) {
      const name = `batch.${k}.${f.name}`;
      if (f.kind === 'sparse') put(name, b.sparse[f.name], [n]);
      else if (f.kind === 'dense') put(name, b.dense[f.name], [n]);
      else {
        const s = b.sequence[f.name];
        put(name, s.ids, [n, s.maxLen]);
        put(`${name}.lengths`, s.lengths, [n]);
      }
    }
    put(`batch.${k}.label`, b.label, [n]);
  });
  return out;
}

function stateCopy(model: RecModel): Map<string, Tensor> {
  return new Map([...model.stateTensors()].map(([n, t]) => [n, new Tensor(t.data.slice(0, t.size), t.shape, { register: false })]));
}

/** Running mean N(0, 0.1), running variance and gamma U(0.5, 1.5), beta N(0, 0.1) in every batch-norm layer. */
function randomizeBatchNorm(model: RecModel, rng: Rng): void {
  const draw: Record<string, () => number> = {
    runningMean: () => 0.1 * rng.normal(), runningVar: () => 0.5 + rng.uniform(), gamma: () => 0.5 + rng.uniform(), beta: () => 0.1 * rng.normal(),
  };
  for (const [name, t] of model.stateTensors()) {
    const m = /\.bn\d+\.(runningMean|runningVar|gamma|beta)$/.exec(name);
    if (m) for (let i = 0; i < t.size; i++) t.f[i] = draw[m[1]]();
  }
}

function evalLogits(model: RecModel, batch: Batch): number[] {
  model.eval();
  return noGrad(() => scope(() => Array.from(model.forward(batch).f)));
}

/** prerank's side: the registry model trained by the trainer's step (trainStep + createOptimizer's Adam). */
function runPrerank(model: RecModel, batches: Batch[], lr: number): RegistryRun {
  const logitsBefore = evalLogits(model, batches[0]);
  const optimizer = createOptimizer(model, { kind: 'adam', lr, weightDecay: 0 });
  model.train();
  const losses = batches.map((b, i) => trainStep(model, optimizer, b, undefined, `registry reference step ${i}`));
  return { logitsBefore, losses };
}

/**
 * Builds MODELS[kind] over the dataset's features with `config` (dropout must be 0: the two sides cannot draw the
 * same masks), writes the fixture, and runs both sides. PyTorch runs in the correctness configuration of
 * torch-reference.ts (1 thread).
 */
export async function compareRegistryModel(data: Dataset, kind: ModelName, config: Record<string, unknown>, o: ComparisonOptions): Promise<RegistryComparison> {
  const model = (MODELS[kind] as (ctx: { features: Dataset['features']; rng: Rng }, c: unknown) => RecModel)({ features: data.features, rng: new Rng(o.seed) }, config);
  const resolved = (model as unknown as { config: Record<string, unknown> }).config;
  if (resolved.dropout !== 0) throw new Error(`registry reference: ${kind} needs dropout 0 (got ${resolved.dropout}); dropout masks cannot match across the two sides`);
  randomizeBatchNorm(model, new Rng(o.seed + 1));
  const batches = firstBatches(data, o);
  const dir = o.keep ?? mkdtempSync(join(tmpdir(), `prerank-registry-${kind}-`));
  try {
    const tensors = new Map([...stateCopy(model), ...batchTensors(data, batches)]);
    await writeFixture(dir, kind, { model_config: resolved, features: twinFeatures(data.features), batches: batches.length }, o.lr, tensors);
    o.perturb?.(model);
    const prerank = runPrerank(model, batches, o.lr);
    const t = runReferenceScript<{ logits_before: number[]; losses: number[] }>('registry_step.py', dir, referenceConfig(), []);
    return { prerank, torch: { logitsBefore: t.logits_before, losses: t.losses } };
  } finally {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}
