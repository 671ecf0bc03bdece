// The one epoch loop: seeded epochs over a run's batch source through the one step (step.ts), validation after
// each epoch by the run's objective, early stopping with patience on a validation metric, best and last
// checkpoints written atomically, exact resume from the last one, one JSONL record per epoch. A run over dataset
// rows (rows.ts) is the default; the cascade's listwise lists are another (src/cascade/list-run.ts).
// An epoch of hours (10^8 rows, or a softmax over a max-sim model's in-batch cross product) also writes last/ every
// `checkpointMinutes` of training: the step it reached, the epoch's running sums and the run's RNG states, so a
// killed run resumes at that step and finishes with the weights an uninterrupted one would have (the skipped
// batches are drawn and dropped, which keeps every seeded order as it was).
import { join } from 'node:path';
import { Adagrad, Adam, Sgd, type Optimizer } from '../nn/index.js';
import type { Batch, SplitName, TrainingData } from '../data/index.js';
import type { RecModel } from '../models/types.js';
import type { Tensor } from '../core/tensor.js';
import type { TrainingStrategy } from './strategies/types.js';
import { resolvedDefaultsLine, resolveTrainConfig, type ResolvedTrainConfig, type TrainConfig } from './config.js';
import { modelDefaultLr } from '../models/registry.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { improves, type Metrics, type TrainingRun } from './loop.js';
import type { BinaryMetrics } from './predict.js';
import type { FullScan } from './ranking-eval.js';
import { Progress } from './progress.js';
import { rowRun, type RowObjective, type ValMetrics } from './rows.js';
import { RunLog } from './run-log.js';
import { smallEpochWarning } from './small-epoch.js';
import { oneEpochWarning, sparseTables, type SparseTable } from './one-epoch.js';
import { trainStep } from './step.js';

export type { ValMetrics } from './rows.js';

export interface EpochRecord<M extends Metrics = ValMetrics> {
  epoch: number;
  /** Mean step loss, each step weighted by the source's weight of its batch. */
  trainLoss: number;
  steps: number;
  val: M;
  seconds: number;
  /** Training throughput (real samples per second of training time, validation excluded). */
  samplesPerSec: number;
  /** Lists per second of training time, for a listwise source. */
  listsPerSec?: number;
}

export interface FitResult<M extends Metrics = ValMetrics> {
  epochs: EpochRecord<M>[];
  bestEpoch: number;
  best: M;
  stoppedEarly: boolean;
  /** The last whole epoch of the checkpoint the run resumed from (-1: one written inside the first epoch); null: not resumed. */
  resumedFrom: number | null;
}

/** What the loop needs of a config: a train config has it all; a run on another source gives these (the optimizer's
 * config, or an optimizer in TrainerOptions). */
export type LoopConfig = Pick<TrainConfig, 'epochs' | 'outDir'> & Partial<Pick<TrainConfig, 'optimizer' | 'checkpointMinutes'>> & {
  earlyStopping: { metric: string; patience: number };
};

export interface TrainerOptions {
  /** Continue from outDir/last when it exists. */
  resume?: boolean;
  /** Stop after this many epochs in this call (for tests of resume); the run can be resumed later. */
  maxEpochsThisCall?: number;
  /** Stop once this many epochs of the run are done (counting resumed ones); the run can be resumed later. */
  untilEpoch?: number;
  /** Where warnings go (default: stderr); each is also written to the run log. */
  warn?: (line: string) => void;
  signal?: AbortSignal;
  quiet?: boolean;
  /** How the model is trained on dataset rows (src/train/strategies); default: its own loss on every parameter. A
   * TrainingRun brings its own strategy (or none) instead. */
  strategy?: TrainingStrategy;
  /** An optimizer already built over the trainable parameters (default: from the config's optimizer). */
  optimizer?: Optimizer;
  /** Where the epoch lines go when not quiet (default: console.log). */
  say?: (line: string) => void;
  /** Milliseconds between the `progress` records an epoch writes to the run log (default a minute). */
  progressEveryMs?: number;
  /** Called after every step with its loss. */
  onStep?: (epoch: number, step: number, loss: number) => void;
  /** The full-corpus scan of early stopping on a ranking metric (the serving layer's native plan); default: tensors. */
  scan?: FullScan;
}

/** The config's optimizer over `params`; without an lr, the model's default (modelDefaultLr, as resolveTrainConfig). */
export function createOptimizer(model: RecModel, cfg: TrainConfig['optimizer'], params: [string, Tensor][] = model.namedParameters()): Optimizer {
  const o = { lr: cfg.lr ?? modelDefaultLr(model.kind), weightDecay: cfg.weightDecay, eps: cfg.eps };
  if (cfg.kind === 'adagrad') return new Adagrad(params, o);
  if (cfg.kind === 'sgd') return new Sgd(params, o);
  return new Adam(params, o);
}

interface Best<M> {
  value: number | null;
  epoch: number;
  metrics: M | null;
}

/** Where an epoch stands after some steps: what a mid-epoch checkpoint records to resume it. */
export interface EpochPosition {
  /** Steps done. */
  step: number;
  /** Running sums of the epoch's loss (weighted), weight, samples and lists, and its training seconds so far. */
  sum: number;
  weight: number;
  samples: number;
  lists: number;
  seconds: number;
  /** The run's own RNG states (TrainingRun.rngs) after the last step, by name. */
  rngs: Record<string, number[]>;
}

/** What one epoch's pass yields after each step: where it stands. */
type EpochPass = Generator<EpochPosition, EpochPosition>;

export class Trainer<B = Batch, M extends Metrics = ValMetrics> {
  readonly optimizer: Optimizer;
  readonly log: RunLog;
  readonly run: TrainingRun<B, M>;
  private readonly progress: Progress;
  /** Said once, when the run starts (a run over dataset rows with too few steps an epoch). */
  private readonly startWarning: string | null = null;
  /** A run over dataset rows: its embedding tables with few training rows a value (the one-epoch warning's candidates). */
  private readonly sparseTables: SparseTable[] = [];
  /** Logged once, when the run starts: the batch size and learning rate the config left to their defaults. */
  private readonly startNote: string | null = null;
  /** The loop's config; for a run over dataset rows, with 'auto' and the model's default lr resolved. */
  readonly cfg: LoopConfig;

  /** A run over the dataset's rows (the config's batch size, seed and strategy) ... */
  constructor(model: RecModel, data: TrainingData, cfg: TrainConfig | ResolvedTrainConfig, opts?: TrainerOptions);
  /** ... or over any batch source with its objective. */
  constructor(model: RecModel, run: TrainingRun<B, M>, cfg: LoopConfig, opts?: TrainerOptions);
  constructor(readonly model: RecModel, run: TrainingData | TrainingRun<B, M>, cfg: LoopConfig | TrainConfig, readonly opts: TrainerOptions = {}) {
    if ('objective' in run) {
      this.run = run;
      this.cfg = cfg as LoopConfig;
    } else {
      const rows = run.splitSize('train');
      const { config, resolved } = resolveTrainConfig(cfg as TrainConfig, rows);
      this.cfg = config;
      this.run = rowRun(run, config, opts.strategy, model, opts.scan) as unknown as TrainingRun<B, M>;
      this.startWarning = smallEpochWarning(rows, config.batchSize);
      this.sparseTables = sparseTables(run.features, rows);
      this.startNote = resolvedDefaultsLine(resolved, rows);
    }
    cfg = this.cfg;
    if (!opts.optimizer && !cfg.optimizer) throw new Error('Trainer: give an optimizer config or an optimizer');
    this.optimizer = opts.optimizer ?? createOptimizer(model, cfg.optimizer!, this.run.strategy?.trainable(model));
    this.log = new RunLog(join(cfg.outDir, 'log.jsonl'));
    this.progress = new Progress({ line: !opts.quiet, record: (r) => this.log.write({ event: 'progress', ...r }), recordEveryMs: opts.progressEveryMs });
  }

  /** Binary metrics of the model as it is now on a split (eval mode, no tape); a run over dataset rows only. */
  evaluate(split: SplitName): BinaryMetrics {
    const objective = this.run.objective as Partial<RowObjective>;
    if (!objective.evaluate) throw new Error('Trainer.evaluate(split) needs a run over dataset rows');
    return objective.evaluate(this.model, split);
  }

  /** One pass over the source in epoch `epoch`'s seeded order (no validation, no checkpoint); `npm run bench -- train` times it.
   * `logProgress`: write the periodic `progress` records to the run log (as `fit` does). */
  trainEpoch(epoch: number, logProgress = false): { loss: number; samples: number; steps: number; lists: number } {
    const pass = this.epochPass(epoch, logProgress);
    let r = pass.next();
    while (!r.done) r = pass.next();
    const { sum, weight, samples, step, lists } = r.value;
    return { loss: sum / Math.max(weight, 1), samples, steps: step, lists };
  }

  /**
   * Epoch `epoch`'s steps, yielding where the epoch stands after each; `from`: continue an epoch a mid-epoch
   * checkpoint recorded (its first `from.step` batches are drawn and skipped, the run's RNGs set as they were).
   */
  private *epochPass(epoch: number, logProgress: boolean, from: EpochPosition | null = null): EpochPass {
    const { model, optimizer } = this;
    const { source, objective, strategy } = this.run;
    const step = strategy ?? objective;
    strategy?.startEpoch(model, epoch);
    model.train();
    const total = source.batchesPerEpoch;
    const at: EpochPosition = from ? { ...from } : { step: 0, sum: 0, weight: 0, samples: 0, lists: 0, seconds: 0, rngs: {} };
    const batches = source.epoch(epoch)[Symbol.iterator]();
    for (let skipped = 0; skipped < at.step; skipped++) {
      if (batches.next().done) throw new Error(`resume: epoch ${epoch} has fewer than the ${at.step} batches its checkpoint recorded`);
    }
    if (from) for (const [name, rng] of this.run.rngs ?? []) if (from.rngs[name]) rng.setState(from.rngs[name]);
    this.progress.start(logProgress, at);
    let t = performance.now();
    for (let b = batches.next(); !b.done; b = batches.next()) {
      if (this.opts.signal?.aborted) throw new Error('training aborted');
      const batch = b.value;
      const loss = trainStep(model, optimizer, batch, step, `epoch ${epoch}, batch ${at.step}`);
      const w = source.weight(batch);
      at.sum += loss * w;
      at.weight += w;
      at.samples += source.samples(batch);
      at.lists += source.lists?.(batch) ?? 0;
      this.opts.onStep?.(epoch, at.step, loss);
      at.step++;
      const now = performance.now();
      at.seconds += (now - t) / 1000;
      t = now;
      this.progress.update(epoch, at.step, total, at.samples, at.sum / at.weight);
      yield at;
      t = performance.now(); // what the consumer did between steps (a checkpoint) is not training time
    }
    this.progress.end();
    return at;
  }

  async fit(): Promise<FitResult<M>> {
    const { cfg, model } = this;
    const { objective, strategy } = this.run;
    const lastDir = join(cfg.outDir, 'last');
    const bestDir = join(cfg.outDir, 'best');
    let start = 0;
    let best: Best<M> = { value: null, epoch: -1, metrics: null };
    let bad = 0;
    let resumedFrom: number | null = null;
    let partial: EpochPosition | null = null;
    const epochs: EpochRecord<M>[] = [];
    if (this.opts.resume && hasCheckpoint(lastDir)) {
      const meta = await loadCheckpoint(lastDir, model, this.optimizer, strategy);
      partial = (meta.partial as EpochPosition | undefined) ?? null;
      start = partial ? meta.epoch : meta.epoch + 1;
      best = meta.best as Best<M>;
      bad = meta.badEpochs as number;
      epochs.push(...(meta.history as EpochRecord<M>[]));
      resumedFrom = partial ? meta.epoch - 1 : meta.epoch;
      this.log.write({ event: 'resume', fromEpoch: resumedFrom, ...(partial ? { epoch: meta.epoch, step: partial.step } : {}) });
    }
    if (start === 0 && this.startWarning) this.warn(this.startWarning);
    if (start === 0 && this.startNote) {
      if (!this.opts.quiet) (this.opts.say ?? console.log)(this.startNote);
      this.log.write({ event: 'defaults', message: this.startNote });
    }
    const metric = cfg.earlyStopping.metric;
    let stoppedEarly = bad > cfg.earlyStopping.patience;
    const stopAt = Math.min(cfg.epochs, start + (this.opts.maxEpochsThisCall ?? Infinity), this.opts.untilEpoch ?? Infinity);
    const everyMs = (cfg.checkpointMinutes ?? 0) * 60_000;
    for (let epoch = start; epoch < stopAt && !stoppedEarly; epoch++) {
      const pass = this.epochPass(epoch, true, epoch === start ? partial : null);
      let lastSave = performance.now();
      let r = pass.next();
      for (; !r.done; r = pass.next()) {
        if (everyMs > 0 && performance.now() - lastSave >= everyMs && r.value.step < this.run.source.batchesPerEpoch) {
          const rngs = Object.fromEntries((this.run.rngs ?? []).map(([n, g]) => [n, g.state()]));
          await saveCheckpoint(lastDir, model, this.optimizer, { epoch, best, badEpochs: bad, history: epochs, partial: { ...r.value, rngs } }, strategy);
          this.log.write({ event: 'checkpoint', epoch, step: r.value.step });
          lastSave = performance.now();
        }
      }
      const { sum, weight, samples, step: steps, lists, seconds: trainSecs } = r.value;
      const loss = sum / Math.max(weight, 1);
      const t0 = performance.now();
      const val = objective.validate?.(model) ?? ({} as M);
      const rec: EpochRecord<M> = { epoch, trainLoss: loss, steps, val, seconds: trainSecs + (performance.now() - t0) / 1000, samplesPerSec: samples / trainSecs };
      if (this.run.source.lists) rec.listsPerSec = lists / trainSecs;
      epochs.push(rec);
      this.log.write({ event: 'epoch', ...rec });
      if (!this.opts.quiet) this.say(rec, metric);
      // without validation every epoch is the best so far: the last one is kept
      const value = objective.validate ? val[metric] : epoch;
      if (improves(value, best.value, objective.validate !== undefined && objective.lowerIsBetter(metric))) {
        best = { value, epoch, metrics: val };
        bad = 0;
        await saveCheckpoint(bestDir, model, null, { epoch, val, kind: model.kind }, strategy);
      } else {
        bad++;
      }
      stoppedEarly = objective.validate !== undefined && bad > cfg.earlyStopping.patience;
      await saveCheckpoint(lastDir, model, this.optimizer, { epoch, best, badEpochs: bad, history: epochs }, strategy);
      // said once, at the second epoch (a resumed run that is past it has said it)
      if (epoch === 1 && objective.validate) {
        const values = epochs.map((e) => e.val[metric]);
        const w = oneEpochWarning(metric, values, objective.lowerIsBetter(metric), this.sparseTables);
        if (w) this.warn(w, { metric, values });
      }
    }
    return { epochs, bestEpoch: best.epoch, best: best.metrics!, stoppedEarly, resumedFrom };
  }

  /** Loads the best checkpoint's weights into the model. */
  async restoreBest(): Promise<void> {
    await loadCheckpoint(join(this.cfg.outDir, 'best'), this.model, null, this.run.strategy);
  }

  /** A warning: to opts.warn (default stderr) and to the run log, with any figures behind it. */
  private warn(message: string, details: Record<string, unknown> = {}): void {
    (this.opts.warn ?? ((l: string) => process.stderr.write(`warning: ${l}\n`)))(message);
    this.log.write({ event: 'warning', message, ...details });
  }

  private say(rec: EpochRecord<M>, metric: string): void {
    const val = this.run.objective.validate ? `, ${this.run.objective.describe(rec.val, metric)}` : '';
    const lists = rec.listsPerSec === undefined ? '' : `, ${rec.listsPerSec.toFixed(1)} lists/s`;
    (this.opts.say ?? console.log)(`epoch ${rec.epoch}: train loss ${rec.trainLoss.toFixed(5)}${val}, ${rec.samplesPerSec.toFixed(0)} samples/s${lists}`);
  }
}
