// The cascade's learned stages: the production pre-ranker (DSSM by default) and the teacher ranker (DCN by default),
// both trained with the ordinary runTraining on a Dataset built from period-1 events only (encoders, statistics and
// histories included), and a scorer that runs a trained model over one user x N candidate items.
// Requests carry no context: context features stay at padding (sparse 0, dense 0). Shape letters: N candidates.
import { join } from 'node:path';
import { noGrad, scope } from '../core/index.js';
import { allocBatch, BatchFiller, headOf, type Batch } from '../data/batch.js';
import { Dataset } from '../data/dataset.js';
import type { RawData } from '../data/ingest.js';
import { ruleLabel, type DataConfig } from '../data/spec.js';
import { subsetRaw } from '../data/subset.js';
import type { RecModel } from '../models/types.js';
import { parseTrainConfig } from '../train/config.js';
import { runTraining } from '../train/run.js';
import type { CascadeConfig, StageModelSpec } from './config.js';
import type { RequestHistories } from './history.js';

export interface StageModelReport {
  kind: string;
  config: Record<string, unknown>;
  epochs: number;
  bestEpoch: number;
  valAuc: number;
  /** AUC on period 1's held-out rows (fitSplit.test). */
  testAuc: number;
  outDir: string;
}

/**
 * The stage models' Dataset: period-1 rows (`fitRows`, ascending) minus the data config's `drop` values, labelled by
 * its rule, features minus `dropFeatures`, split at random into train/val/test by `fitSplit`.
 */
export function periodOneDataset(cfg: CascadeConfig, dataCfg: DataConfig, raw: RawData, fitRows: Int32Array): Dataset {
  const drop = new Set(dataCfg.label.drop);
  const rows = fitRows.filter((r) => !drop.has(raw.label[r]));
  const label = Float32Array.from(rows, (r) => ruleLabel(dataCfg.label.rule, raw.label[r]));
  const known = new Set([...dataCfg.features, ...dataCfg.derived].map((f) => f.name));
  cfg.dropFeatures.forEach((f, i) => {
    if (!known.has(f)) throw new Error(`invalid cascade config: dropFeatures.${i}: '${f}' is not a feature of '${dataCfg.name}' (${[...known].join(', ')})`);
  });
  const keep = <T extends { name: string }>(l: T[]): T[] => l.filter((f) => !cfg.dropFeatures.includes(f.name));
  const c: DataConfig = { ...dataCfg, features: keep(dataCfg.features), derived: keep(dataCfg.derived), seed: cfg.seed,
    split: { method: 'random', val: cfg.fitSplit.val, test: cfg.fitSplit.test } };
  return Dataset.fromRaw(c, subsetRaw(raw, rows, label));
}

/** Trains one stage model with runTraining (checkpoints and log under outDir). */
export async function trainStageModel(spec: StageModelSpec, data: Dataset, seed: number, outDir: string,
  signal?: AbortSignal): Promise<{ model: RecModel; report: StageModelReport }> {
  const tc = parseTrainConfig({
    model: { kind: spec.kind, config: spec.config }, data: { config: '(in-memory period-1 dataset)' },
    optimizer: { kind: 'adam', lr: spec.lr }, batchSize: spec.batchSize, epochs: spec.epochs, seed: spec.seed ?? seed,
    earlyStopping: { metric: 'auc', patience: spec.patience }, outDir,
  });
  const r = await runTraining(tc, { data, quiet: true, signal });
  r.model.eval();
  return { model: r.model, report: { kind: spec.kind, config: spec.config, epochs: r.fit.epochs.length,
    bestEpoch: r.fit.bestEpoch, valAuc: r.fit.best.auc, testAuc: r.test.auc, outDir } };
}

export async function trainStageModels(cfg: CascadeConfig, data: Dataset, outDir: string, signal?: AbortSignal) {
  const prerank = await trainStageModel(cfg.prerank, data, cfg.seed, join(outDir, 'prerank'), signal);
  const teacher = await trainStageModel(cfg.teacher, data, cfg.seed + 1, join(outDir, 'teacher'), signal);
  return { prerank, teacher };
}

/** Logits of one model for one user against N items, in eval mode without a tape. */
export class PairScorer {
  private readonly batch: Batch;
  private readonly filler: BatchFiller;

  /** With `histories`, user history features are the user's events before the request's t (else period 1's). */
  constructor(data: Dataset, private readonly model: RecModel, private readonly capacity: number,
    private readonly histories?: RequestHistories) {
    this.batch = allocBatch(data.features, capacity);
    this.filler = new BatchFiller(data, ['user', 'item']);
  }

  /** [N] logits of `user` at time t with items[0..N). */
  score(user: number, items: Int32Array, t = Infinity): Float32Array {
    const n = items.length;
    if (n > this.capacity) throw new Error(`PairScorer: ${n} items, capacity ${this.capacity}`);
    const b = this.batch;
    b.user.fill(user, 0, n);
    b.item.set(items);
    b.rows.fill(-1, 0, n);
    this.filler.fillEntities(b, n);
    if (this.histories) for (let i = 0; i < n; i++) this.histories.fill(b, i, user, t);
    const view = n === this.capacity ? b : headOf(b, n);
    this.model.eval();
    return noGrad(() => scope(() => Float32Array.from(this.model.forward(view).data.subarray(0, n))));
  }
}
