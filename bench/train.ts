// `npm run bench -- train [--epochs=N] [--check-steps=N] [--profile] [--keep=DIR] [--cascade=DIR] [--cascade-epochs=N] [--ranktower-only]`: one training epoch of IntTower on ML-100K
// (data, split, batch size and optimizer of configs/experiments/ml-100k.json; the registry's default IntTower, i.e.
// the paper's) with prerank's Trainer, against the same model in PyTorch (bench/reference/train_epoch.py) fed the
// same encoded batches in the same order from the same initial weights. Epoch times are medians over N epochs after
// one warm-up epoch, at 2 threads and at 1 for prerank (the faster is compared). Before timing, both sides run a few dropout-free steps from those weights and their losses
// are compared (the check that it is the same model). PyTorch runs in every thread/OpenBLAS configuration of
// torch-reference.ts and the fastest is compared. `--profile` adds a per-op profile of one more prerank epoch (IntTower and RankTower);
// `--keep=DIR` writes the fixture (and scratch run directory) to DIR and keeps it.
// Then RankTower listwise training throughput on the ml-latest-small cascade (configs/cascade/ml-latest-small.json
// built in memory, or `--cascade=DIR` = a `prerank cascade build` directory read back): the hybrid objective over the
// lists of configs/cascade/train-ml-latest-small-dssm-hybrid.json (caps, lists per batch, lr) with RankTower's defaults;
// samples/s = real list items (padding excluded) per second and lists/s, medians over `--cascade-epochs=N` epochs after
// one warm-up epoch, at the pool's thread count and at 1 (the faster compared). Against the same step in PyTorch
// (bench/reference/listwise_epoch.py: RankTower's forward, the hybrid loss, lazy/dense Adam) from the same initial
// weights on epoch 0's batches as prerank built them (written to a fixture); `--check-steps` dropout-free steps compare
// the losses first, then PyTorch times passes over those batches in every configuration of torch-reference.ts, and
// the ratio prerank/torch of samples/s is printed. `--ranktower-only` skips the IntTower part. Prints the CPU and
// kernel path; the last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, engineInfo, formatProfile, setThreads, profileAdd, profileMark, startProfile, stopProfile, backward, scope } from '../src/core/index.js';
import type { Batch, Dataset } from '../src/data/index.js';
import type { IntTower } from '../src/models/int-tower.js';
import type { RecModel } from '../src/models/types.js';
import { createOptimizer, Trainer } from '../src/train/trainer.js';
import { loadExperiment } from '../src/train/experiment.js';
import { parseTrainConfig, resolveTrainConfig, type ResolvedTrainConfig } from '../src/train/config.js';
import { buildModel, inMemory, loadData } from '../src/train/run.js';
import { median } from '../src/util/stats.js';
import { torchConfigs, runReferenceScript, torchAvailable, writeFixture, type TorchConfig } from './torch-reference.js';
import { twinFeatures } from './registry-reference.js';
import { loadCascadeConfig } from '../src/cascade/config.js';
import { CascadeLists } from '../src/cascade/lists.js';
import { loadCascade } from '../src/cascade/reader.js';
import { loadCascadeTrainConfig } from '../src/cascade/run.js';
import { simulateCascade, type CascadeSource } from '../src/cascade/simulate.js';
import { cascadeLoss, listLogits, type CascadeObjective } from '../src/cascade/train.js';
import { listRun } from '../src/cascade/list-run.js';
import type { CascadeListBatch } from '../src/cascade/lists.js';
import type { RankTower, RankTowerConfig } from '../src/models/rank-tower.js';
import { Rng } from '../src/core/index.js';
import { MODELS } from '../src/models/registry.js';
import { Adam } from '../src/nn/index.js';

const EXPERIMENT = 'configs/experiments/ml-100k.json';

interface TorchEpochs {
  config: string;
  losses: number[];
  epoch_s: number[];
  median_epoch_s: number;
  blas: { corename?: string | null; [k: string]: unknown };
  warnings: string[];
}

/** The train config of the experiment's IntTower run (its first seed), checkpoints in a scratch directory. */
function trainConfig(outDir: string) {
  const exp = loadExperiment(EXPERIMENT);
  const m = exp.models.find((x) => x.kind === 'int-tower');
  if (!m) throw new Error(`${EXPERIMENT} has no int-tower run`);
  return parseTrainConfig({ ...exp.train, model: { kind: m.kind, config: m.config }, data: exp.data, seed: exp.seeds[0], outDir });
}

/** Copies of a model's state tensors (its initial weights, for the fixture and the dropout-free check). */
export function snapshot(model: RecModel): Map<string, Tensor> {
  return new Map([...model.stateTensors()].map(([n, t]) => [n, new Tensor(t.data.slice(0, t.size), t.shape, { register: false })]));
}

function loadState(model: RecModel, state: Map<string, Tensor>): void {
  for (const [n, t] of model.stateTensors()) {
    const src = state.get(n);
    if (!src || src.size !== t.size) throw new Error(`bench train: no initial value for ${n}`);
    t.data.set(src.data.subarray(0, t.size));
  }
}

/**
 * The train split in the order the trainer visits it in epochs 0..E-1, one column per feature and epoch
 * (`data.e<k>.<feature>`, sequences with `.lengths`, `data.e<k>.label`), read from the same BatchStream the trainer uses.
 */
function epochData(data: Dataset, cfg: ResolvedTrainConfig, epochs: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const stream = data.batches('train', { batchSize: cfg.batchSize, seed: cfg.seed });
  const N = stream.rowCount;
  for (let e = 0; e < epochs; e++) {
    const cols = new Map<string, { arr: Float32Array | Int32Array; width: number }>();
    const col = (name: string, kind: 'f' | 'i', width: number) => {
      let c = cols.get(name);
      if (!c) cols.set(name, (c = { arr: kind === 'f' ? new Float32Array(N * width) : new Int32Array(N * width), width }));
      return c.arr;
    };
    let at = 0;
    for (const b of stream.epoch(e)) {
      const n = b.size;
      for (const [name, ids] of Object.entries(b.sparse)) col(name, 'i', 1).set(ids.subarray(0, n), at);
      for (const [name, s] of Object.entries(b.sequence)) {
        col(name, 'i', s.maxLen).set(s.ids.subarray(0, n * s.maxLen), at * s.maxLen);
        col(`${name}.lengths`, 'i', 1).set(s.lengths.subarray(0, n), at);
      }
      for (const [name, v] of Object.entries(b.dense)) col(name, 'f', 1).set(v.subarray(0, n), at);
      col('label', 'f', 1).set(b.label.subarray(0, n), at);
      at += n;
    }
    for (const [name, { arr, width }] of cols) out.set(`data.e${e}.${name}`, new Tensor(arr, width === 1 ? [N] : [N, width], { register: false }));
  }
  return out;
}

/** What the PyTorch side needs to rebuild the model (see train_epoch.py): its config, the features, the split's size. */
function fixtureConfig(model: IntTower, data: Dataset, cfg: ResolvedTrainConfig): Record<string, unknown> {
  return { model_config: model.config, features: twinFeatures(data.features), rows: data.splits.train.length, batch_size: cfg.batchSize };
}

/** Dropout-free losses of the first `steps` batches of epoch 0 from the initial weights (PyTorch does the same). */
function checkLosses(data: Dataset, cfg: ResolvedTrainConfig, initial: Map<string, Tensor>, steps: number): number[] {
  const model = buildModel({ ...cfg, model: { kind: 'int-tower', config: { ...cfg.model.config, dropout: 0 } } }, data);
  loadState(model, initial);
  const opt = createOptimizer(model, cfg.optimizer);
  model.train();
  const losses: number[] = [];
  for (const batch of data.batches('train', { batchSize: cfg.batchSize, seed: cfg.seed }).epoch(0)) {
    if (losses.length >= steps) break;
    losses.push(scope(() => {
      opt.zeroGrad();
      const out = model.loss(batch);
      backward(out.loss);
      return out.loss.item();
    }));
    opt.step();
  }
  return losses;
}

/** One more epoch with the op profiler on (the same loop as Trainer.trainEpoch, with the optimizer step timed apart). */
function profileEpoch(trainer: Trainer, data: Dataset, cfg: ResolvedTrainConfig, epoch: number): string {
  const { model, optimizer } = trainer;
  model.train();
  let steps = 0;
  startProfile();
  for (const batch of data.batches('train', { batchSize: cfg.batchSize, seed: cfg.seed }).epoch(epoch) as Generator<Batch>) {
    profileMark();
    scope(() => {
      optimizer.zeroGrad();
      const out = model.loss(batch);
      backward(out.loss);
      return out.loss.item();
    });
    const t0 = performance.now();
    optimizer.step();
    profileAdd('optimizer step', performance.now() - t0);
    steps++;
  }
  return formatProfile(stopProfile(), steps);
}

function option(args: string[], name: string, fallback: number): number {
  const v = args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const CASCADE_TRAIN = 'configs/cascade/train-ml-latest-small-dssm-hybrid.json';

export interface ListwiseBench {
  cascade: string;
  lists: number;
  slots: number;
  listsPerBatch: number;
  /** prerank's thread count compared (the faster of the pool's and 1) and its epochs. */
  threads: number;
  epochs_s: number[];
  epochs_s_by_threads: Record<number, number[]>;
  warmup_s: number;
  median_epoch_s: number;
  /** Building one epoch's batches alone (CascadeLists.epoch; inside prerank's epoch time, outside PyTorch's). */
  batch_build_s: number;
  samples_per_epoch: number;
  samples_per_s: number;
  lists_per_s: number;
  torch: null | {
    config: string;
    median_epoch_s: number;
    epochs_s: number[];
    samples_per_s: number;
    lists_per_s: number;
    blas_core: string | null;
    check_losses: number[];
    check_max_abs_diff: number;
    check_max_rel_diff: number;
    /** prerank samples/s over PyTorch samples/s (> 1: prerank faster). */
    ratio_prerank_torch: number;
  };
}

interface TorchListwise {
  config: string;
  losses: number[];
  epoch_s: number[];
  median_epoch_s: number;
  samples_per_epoch: number;
  lists: number;
  samples_per_s: number;
  lists_per_s: number;
  blas: { corename?: string | null; [k: string]: unknown };
  warnings: string[];
}

/** A side's features as the model reads them (user + context, or item), for the fixture config. */
function sideFeatures(features: Dataset['features'], sources: string[]) {
  const mine = features.filter((f) => sources.includes(f.source));
  for (const f of mine) {
    if (f.kind === 'sequence' && f.pooling === 'max') throw new Error(`bench train: the PyTorch side pools sequences by mean or sum, not max (${f.name})`);
  }
  return {
    fields: mine.filter((f) => f.kind !== 'dense').map((f) => ({ name: f.name, table: f.table ?? f.name, kind: f.kind, pooling: f.pooling ?? 'mean' })),
    dense: mine.filter((f) => f.kind === 'dense').map((f) => f.name),
  };
}

/** Batch k of the listwise fixture (see bench/reference/listwise_epoch.py): user rows, item slots, lists [G, L]. */
function listBatchTensors(k: number, b: CascadeListBatch, features: Dataset['features'], out: Map<string, Tensor>): void {
  const put = (name: string, arr: Float32Array | Int32Array, shape: number[]) => out.set(`b${k}.${name}`, new Tensor(arr, shape, { register: false }));
  for (const [tag, batch, sources] of [['u', b.users, ['user', 'context']], ['i', b.items, ['item']]] as const) {
    const n = batch.size;
    for (const f of features.filter((x) => (sources as readonly string[]).includes(x.source))) {
      if (f.kind === 'sparse') put(`${tag}.${f.name}`, batch.sparse[f.name].slice(0, n), [n]);
      else if (f.kind === 'dense') put(`${tag}.${f.name}`, batch.dense[f.name].slice(0, n), [n]);
      else {
        const s = batch.sequence[f.name];
        put(`${tag}.${f.name}`, s.ids.slice(0, n * s.maxLen), [n, s.maxLen]);
        put(`${tag}.${f.name}.lengths`, s.lengths.slice(0, n), [n]);
      }
    }
  }
  const GL = [b.groups, b.slots];
  for (const [name, arr] of [['labels', b.labels], ['teacher', b.teacher], ['mask', b.mask], ['imp', b.scopes.impressions],
    ['cand', b.scopes.candidates], ['all', b.scopes.all]] as const) put(name, arr.slice(), GL);
}

/** The hybrid objective the listwise bench trains (eq. 15 with unit weights, configs/cascade/train-ml-latest-small-dssm-hybrid.json). */
export const LISTWISE_OBJECTIVE = { kind: 'hybrid', weights: { distillation: 1, sorting: 1, amRankmax: 1 } } satisfies CascadeObjective;

/**
 * Writes the listwise fixture (bench/reference/listwise_epoch.py): `initial` weights of `model`, the batches, and the
 * config the PyTorch side rebuilds the model and the hybrid loss from.
 */
export async function writeListwiseFixture(dir: string, features: Dataset['features'], model: RankTower, initial: Map<string, Tensor>,
  batches: CascadeListBatch[], objective: typeof LISTWISE_OBJECTIVE, lr: number, adamEps = 1e-8): Promise<void> {
  const c = model.config;
  if (c.phi !== 'silu' || !c.crossAttention) throw new Error('bench train: the PyTorch RankTower implements phi = SiLU with cross-attention');
  const user = sideFeatures(features, ['user', 'context']);
  const item = sideFeatures(features, ['item']);
  const tensors = new Map(initial);
  batches.forEach((b, k) => listBatchTensors(k, b, features, tensors));
  await writeFixture(dir, 'rank-tower-listwise', {
    user_fields: user.fields, item_fields: item.fields, user_dense: user.dense, item_dense: item.dense,
    user_heads: c.userHeads, item_heads: c.itemHeads, head_size: c.headSize, attn_dim: c.attnDim || c.headSize, value_dim: c.valueDim || c.headSize,
    ln_eps: 1e-5, bn_eps: 1e-5, bn_momentum: 0.1, dropout: c.dropout, weights: objective.weights, batches: batches.length,
    adam_eps: adamEps,
  }, lr, tensors);
}

/** Dropout-free hybrid losses of the first `steps` batches from the initial weights (PyTorch does the same). */
export function checkListwise(features: Dataset['features'], config: RankTowerConfig, initial: Map<string, Tensor>, batches: CascadeListBatch[],
  objective: CascadeObjective, lr: number, steps: number, adamEps = 1e-8): number[] {
  const model = MODELS['rank-tower']({ features, rng: new Rng(0) }, { ...config, dropout: 0 });
  loadState(model, initial);
  const opt = new Adam(model.namedParameters(), { lr, eps: adamEps });
  model.train();
  return batches.slice(0, steps).map((b) => {
    const loss = scope(() => {
      opt.zeroGrad();
      const out = cascadeLoss(listLogits(model, b), b, objective);
      backward(out.loss);
      return out.loss.item();
    });
    opt.step();
    return loss;
  });
}

/**
 * RankTower listwise (hybrid) training throughput on the ml-latest-small cascade's training lists, against the same
 * step in PyTorch (bench/reference/listwise_epoch.py) from the same initial weights on the same batches (epoch 0's).
 */
async function benchListwise(args: string[], dir: string): Promise<ListwiseBench> {
  const epochs = option(args, 'cascade-epochs', 3);
  const checkSteps = option(args, 'check-steps', 5);
  const { cfg } = loadCascadeTrainConfig(CASCADE_TRAIN);
  const built = args.find((a) => a.startsWith('--cascade='))?.slice('--cascade='.length);
  const t0 = performance.now();
  const src: CascadeSource = built ? await loadCascade(built)
    : await simulateCascade(loadCascadeConfig('configs/cascade/ml-latest-small.json'), { modelDir: join(dir, 'cascade-models') });
  console.log(`\nRankTower listwise: cascade ${built ? `read from ${built}` : 'ml-latest-small built in memory'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const model = MODELS['rank-tower']({ features: src.fit.data.features, rng: new Rng(cfg.seed) }, {}) as RankTower;
  const lists = new CascadeLists(src, 'train', { listsPerBatch: cfg.listsPerBatch, caps: cfg.caps, seed: cfg.seed });
  const objective = LISTWISE_OBJECTIVE;

  // The fixture: initial weights and epoch 0's batches as prerank builds them.
  const initial = snapshot(model);
  const tb = performance.now();
  const epoch0 = [...lists.epoch(0)];
  const batchBuild = (performance.now() - tb) / 1000;
  const features = src.fit.data.features;
  const fixtureDir = join(dir, 'listwise-fixture');
  await writeListwiseFixture(fixtureDir, features, model, initial, epoch0, objective, cfg.lr);
  const ourLosses = checkListwise(features, model.config, initial, epoch0, objective, cfg.lr, checkSteps);

  const opt = new Adam(model.namedParameters(), { lr: cfg.lr });
  // the Trainer's epochs alone (no validation, no checkpoint: nothing is written under outDir)
  const trainer = new Trainer(model, listRun(lists, objective, src), { epochs: 1, outDir: join(dir, 'listwise-run'), earlyStopping: { metric: 'loss', patience: 0 } },
    { optimizer: opt, quiet: true });
  let nextEpoch = 0;
  const poolThreads = engineInfo().threads;
  const threadCounts = poolThreads > 1 ? [poolThreads, 1] : [1];
  const ours = new Map<number, number[]>(threadCounts.map((t) => [t, []]));
  let samples = 0;
  const run = (threads: number): number => {
    setThreads(threads);
    const t = performance.now();
    const epoch = trainer.trainEpoch(nextEpoch++);
    const s = (performance.now() - t) / 1000;
    setThreads(poolThreads);
    samples = epoch.samples;
    return s;
  };
  const runTimed = (n: number, threads: number): number[] => {
    const times = Array.from({ length: n }, () => run(threads));
    ours.get(threads)!.push(...times);
    return times;
  };
  // prerank's timed epochs (at the pool's thread count and at 1) before and after PyTorch's, so drifting load weighs
  // on both alike; the faster thread count is compared.
  const warm = run(poolThreads);
  const half = Math.ceil(epochs / 2);
  for (const t of threadCounts) console.log(`prerank ${t} thread(s): epochs ${runTimed(half, t).map((x) => x.toFixed(2)).join(', ')} s`);
  let torchBest: TorchListwise | null = null;
  let diffs = { abs: NaN, rel: NaN };
  const torchMissing = torchAvailable();
  if (torchMissing) console.log(`RankTower listwise: PyTorch reference skipped: ${torchMissing}`);
  else {
    const runs: TorchListwise[] = [];
    for (const tc of torchConfigs()) {
      // a configuration whose epoch runs 3x longer than prerank's and than the best so far cannot win: stopped there
      const giveUp = 3 * Math.max(median([...ours.values()].flat()), Math.min(...runs.map((x) => x.median_epoch_s)));
      const r = runReferenceScript<TorchListwise>('listwise_epoch.py', fixtureDir, tc, ['--check-steps', String(checkSteps), '--epochs', String(epochs + 1), '--give-up-s', giveUp.toFixed(2)]);
      r.config = tc.name;
      runs.push(r);
      console.log(`torch ${tc.name}: epochs ${r.epoch_s.map((s) => s.toFixed(2)).join(', ')} s; median ${r.median_epoch_s.toFixed(2)} s (BLAS core ${r.blas.corename ?? '?'})${r.warnings.length ? ' WARN ' + r.warnings.join('; ') : ''}`);
    }
    torchBest = runs.reduce((a, b) => (b.median_epoch_s < a.median_epoch_s ? b : a));
    const pairs = runs.flatMap((r) => r.losses.map((l, i) => [l, ourLosses[i]]));
    diffs = { abs: Math.max(...pairs.map(([a, b]) => Math.abs(a - b))), rel: Math.max(...pairs.map(([a, b]) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12))) };
    console.log(`RankTower listwise dropout-free check, ${ourLosses.length} hybrid steps from the same weights on the same batches: prerank ${ourLosses.map((l) => l.toFixed(6)).join(' ')}; `
      + `torch ${torchBest.losses.map((l) => l.toFixed(6)).join(' ')}; max |prerank - torch| = ${diffs.abs.toExponential(2)} (relative ${diffs.rel.toExponential(2)}, over all configurations)`);
  }
  if (epochs > half) for (const t of threadCounts) console.log(`prerank ${t} thread(s) after PyTorch: epochs ${runTimed(epochs - half, t).map((x) => x.toFixed(2)).join(', ')} s`);
  const medians = threadCounts.map((t) => ({ threads: t, s: median(ours.get(t)!) }));
  const best = medians.reduce((x, y) => (y.s < x.s ? y : x));
  const med = best.s;
  const r: ListwiseBench = { cascade: built ?? 'configs/cascade/ml-latest-small.json (in memory)', lists: lists.listCount, slots: lists.slots,
    listsPerBatch: cfg.listsPerBatch, threads: best.threads, epochs_s: ours.get(best.threads)!, epochs_s_by_threads: Object.fromEntries(ours),
    warmup_s: warm, median_epoch_s: med, batch_build_s: batchBuild, samples_per_epoch: samples, samples_per_s: samples / med,
    lists_per_s: lists.listCount / med, torch: null };
  console.log(`RankTower (defaults) hybrid listwise, ${r.lists} training lists of <= ${r.slots} slots (caps ${Object.values(cfg.caps).join('/')}), `
    + `${r.listsPerBatch} lists per batch, Adam lr ${cfg.lr}: median ${medians.map((m) => `${m.s.toFixed(2)} s at ${m.threads} thread(s)`).join(', ')} `
    + `(warm-up ${warm.toFixed(2)} s; building an epoch's batches alone takes ${batchBuild.toFixed(2)} s); best ${med.toFixed(2)} s/epoch = `
    + `${r.samples_per_s.toFixed(0)} samples/s (list items), ${r.lists_per_s.toFixed(1)} lists/s`);
  if (args.includes('--profile')) {
    // one more epoch with the op profiler on (the Trainer's step, the optimizer step timed apart)
    startProfile();
    let steps = 0;
    for (const b of lists.epoch(nextEpoch++)) {
      profileMark();
      scope(() => {
        opt.zeroGrad();
        const out = cascadeLoss(listLogits(model, b), b, objective);
        backward(out.loss);
        return out.loss.item();
      });
      const t = performance.now();
      opt.step();
      profileAdd('optimizer step', performance.now() - t);
      steps++;
    }
    console.log(`prerank per-op profile of one more RankTower listwise epoch (ms per step, ${poolThreads} threads):\n${formatProfile(stopProfile(), steps)}`);
  }
  if (torchBest) {
    if (torchBest.samples_per_epoch !== samples || torchBest.lists !== lists.listCount) {
      throw new Error(`bench train: PyTorch's epoch has ${torchBest.samples_per_epoch} samples / ${torchBest.lists} lists, prerank's ${samples} / ${lists.listCount}`);
    }
    const ratio = r.samples_per_s / torchBest.samples_per_s;
    r.torch = { config: torchBest.config, median_epoch_s: torchBest.median_epoch_s, epochs_s: torchBest.epoch_s, samples_per_s: torchBest.samples_per_s,
      lists_per_s: torchBest.lists_per_s, blas_core: torchBest.blas.corename ?? null, check_losses: torchBest.losses,
      check_max_abs_diff: diffs.abs, check_max_rel_diff: diffs.rel, ratio_prerank_torch: ratio };
    console.log(`torch (best: ${torchBest.config}): ${torchBest.median_epoch_s.toFixed(2)} s/epoch = ${torchBest.samples_per_s.toFixed(0)} samples/s, ${torchBest.lists_per_s.toFixed(1)} lists/s`);
    console.log(`ratio prerank/torch (RankTower hybrid listwise samples/s, ml-latest-small cascade): ${ratio.toFixed(2)}`);
  }
  return r;
}

export async function benchTrain(args: string[]): Promise<void> {
  if (args.includes('--ranktower-only')) {
    const info = engineInfo();
    console.log(`CPU: ${info.cpu}; ISA path: ${info.isa}; pool threads: ${info.threads}`);
    const dir = mkdtempSync(join(tmpdir(), 'prerank-bench-train-'));
    try {
      console.log(JSON.stringify({ cpu: info.cpu, isa: info.isa, ranktower_listwise: await benchListwise(args, dir) }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const timedEpochs = option(args, 'epochs', 3);
  const checkSteps = option(args, 'check-steps', 5);
  const info = engineInfo();
  if (info.kernels !== 'native') throw new Error(`the train benchmark needs the native addon (${info.loadError})`);
  console.log(`CPU: ${info.cpu}; ISA path: ${info.isa} (supported: ${info.supportedIsas.join(', ')}); pool threads: ${info.threads}`);
  const keep = args.find((a) => a.startsWith('--keep='))?.slice('--keep='.length);
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'prerank-bench-train-'));
  try {
    const parsed = trainConfig(join(dir, 'run'));
    const data = inMemory(await loadData(parsed), 'the train bench');
    const cfg = resolveTrainConfig(parsed, data.splitSize('train')).config;
    const model = buildModel(cfg, data) as IntTower;
    const rows = data.splits.train.length;
    const epochs = timedEpochs + 1;
    console.log(`${data.name}: ${rows} train rows, batch ${cfg.batchSize} (${Math.ceil(rows / cfg.batchSize)} steps/epoch), ${cfg.optimizer.kind} lr ${cfg.optimizer.lr}; IntTower H=${model.heads} P=${model.config.headSize}, towers ${model.config.tower.join('-')}, dropout ${model.config.dropout}, CIR ${model.config.cir}`);
    const initial = snapshot(model);
    await writeFixture(join(dir, 'fixture'), 'int-tower-train', fixtureConfig(model, data, cfg), cfg.optimizer.lr, new Map([...initial, ...epochData(data, cfg, epochs)]));
    const ourLosses = checkLosses(data, cfg, initial, checkSteps);

    // prerank's epochs run before and after PyTorch's (timed epochs split between the two), so drifting load on a
    // shared machine weighs on both sides alike; at 2 threads and at 1, the faster compared (PyTorch, too, gets its
    // fastest configuration).
    const trainer = new Trainer(model, data, cfg, { quiet: true });
    const poolThreads = info.threads;
    const threadCounts = poolThreads > 1 ? [poolThreads, 1] : [1];
    let epoch = 0;
    const ours = new Map<number, number[]>(threadCounts.map((t) => [t, []]));
    const runEpochs = (n: number, threads: number, timed = true): number[] => {
      setThreads(threads);
      const times = Array.from({ length: n }, () => {
        const t0 = performance.now();
        trainer.trainEpoch(epoch++);
        return (performance.now() - t0) / 1000;
      });
      if (timed) ours.get(threads)!.push(...times);
      setThreads(poolThreads);
      return times;
    };
    const warmup = runEpochs(1, poolThreads, false)[0];
    const half = Math.ceil(timedEpochs / 2);
    for (const t of threadCounts) console.log(`prerank ${t} thread(s): epochs ${runEpochs(half, t).map((x) => x.toFixed(2)).join(', ')} s${t === poolThreads ? ` (after a ${warmup.toFixed(2)} s warm-up epoch)` : ''}`);
    const torchMissing = torchAvailable();
    let best: TorchEpochs | null = null;
    let maxLossDiff: number | null = null;
    if (torchMissing) console.log(`PyTorch reference skipped: ${torchMissing}`);
    else {
      const runs: TorchEpochs[] = [];
      for (const tc of torchConfigs()) {
        // A configuration whose warm-up epoch is 3x slower than prerank's and than the best so far cannot win: stop it there.
        const giveUp = 3 * Math.max(median([...ours.values()].flat()), Math.min(...runs.map((x) => x.median_epoch_s)));
        const r = runReferenceScript<TorchEpochs>('train_epoch.py', join(dir, 'fixture'), tc, ['--check-steps', String(checkSteps), '--epochs', String(epochs), '--give-up-s', giveUp.toFixed(2)]);
        r.config = tc.name;
        runs.push(r);
        console.log(`torch ${tc.name}: epochs ${r.epoch_s.map((s) => s.toFixed(2)).join(', ')} s; median ${r.median_epoch_s.toFixed(2)} s (BLAS core ${r.blas.corename ?? '?'})${r.warnings.length ? ' WARN ' + r.warnings.join('; ') : ''}`);
      }
      best = runs.reduce((a, b) => (b.median_epoch_s < a.median_epoch_s ? b : a));
      maxLossDiff = Math.max(...runs.flatMap((r) => r.losses.map((l, i) => Math.abs(l - ourLosses[i]))));
      console.log(`dropout-free check, ${checkSteps} steps from the same weights: prerank ${ourLosses.map((l) => l.toFixed(6)).join(' ')}; max |prerank - torch| = ${maxLossDiff.toExponential(2)}`);
      console.log(`torch (best: ${best.config}): ${best.median_epoch_s.toFixed(2)} s/epoch = ${(rows / best.median_epoch_s).toFixed(0)} samples/s`);
    }
    for (const t of threadCounts) console.log(`prerank ${t} thread(s) after PyTorch: epochs ${runEpochs(timedEpochs - half, t).map((x) => x.toFixed(2)).join(', ')} s`);
    const medians = threadCounts.map((t) => ({ threads: t, s: median(ours.get(t)!) }));
    const bestOurs = medians.reduce((a, b) => (b.s < a.s ? b : a));
    const oursS = bestOurs.s;
    console.log(`prerank: median ${medians.map((m) => `${m.s.toFixed(2)} s at ${m.threads} thread(s)`).join(', ')}; best ${oursS.toFixed(2)} s/epoch = ${(rows / oursS).toFixed(0)} samples/s`);
    if (args.includes('--profile')) console.log(`prerank per-op profile of one more epoch (ms per step):\n${profileEpoch(trainer, data, cfg, epoch)}`);
    const ratio = best ? best.median_epoch_s / oursS : null;
    console.log(`ratio torch/prerank (IntTower epoch, ML-100K): ${ratio?.toFixed(2) ?? 'n/a'}`);
    const listwise = await benchListwise(args, dir);
    console.log(JSON.stringify({
      cpu: info.cpu, isa: info.isa, rows, batch_size: cfg.batchSize,
      prerank_epoch_s: oursS, prerank_threads: bestOurs.threads, prerank_epochs_s: Object.fromEntries(ours), prerank_warmup_s: warmup, prerank_samples_per_s: rows / oursS,
      torch_epoch_s: best?.median_epoch_s ?? null, torch_epochs_s: best?.epoch_s ?? null, torch_config: best?.config ?? null,
      torch_blas_core: best?.blas.corename ?? null, torch_samples_per_s: best ? rows / best.median_epoch_s : null,
      check_max_loss_diff: maxLossDiff, ratio_inttower_epoch: ratio, ranktower_listwise: listwise,
    }));
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
