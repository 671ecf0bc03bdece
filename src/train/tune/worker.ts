// A trial's job in its own process (forked by process-runner.ts): train a run to a rung's epochs, resuming from its
// last checkpoint, or read the test metrics of its best checkpoint. The result goes back over the IPC channel; the
// process exits when its parent goes away.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveTrainConfig, runConfigJson, type TrainConfig } from '../config.js';
import { buildModel, buildStrategy, loadData } from '../run.js';
import { Trainer } from '../trainer.js';
import type { JobResult } from './asha.js';

export type WorkerJob = { kind: 'train'; config: TrainConfig; epochs: number } | { kind: 'test'; config: TrainConfig };
export type WorkerReply = { ok: true; result: JobResult | Record<string, number> } | { ok: false; error: string };

async function build(cfg: TrainConfig) {
  const data = await loadData(cfg);
  const model = buildModel(cfg, data);
  return { data, model, strategy: await buildStrategy(cfg, model, data) };
}

/** Trains cfg's run until `epochs` epochs are done (or early stopping ends it); exceptions are the trial's failure. */
export async function trainTrial(cfg: TrainConfig, epochs: number): Promise<JobResult> {
  const { data, model, strategy } = await build(cfg);
  mkdirSync(cfg.outDir, { recursive: true });
  writeFileSync(join(cfg.outDir, 'config.json'), runConfigJson(resolveTrainConfig(cfg, data.splitSize('train')).config));
  const warnings: string[] = [];
  const trainer = new Trainer(model, data, cfg, { resume: true, untilEpoch: epochs, quiet: true, strategy, warn: (l) => warnings.push(l) });
  const fit = await trainer.fit();
  const metric = cfg.earlyStopping.metric;
  return {
    epochsDone: fit.epochs.length, value: fit.best[metric], stoppedEarly: fit.stoppedEarly,
    lowerIsBetter: trainer.run.objective.lowerIsBetter(metric), warnings,
    curve: fit.epochs.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, value: e.val[metric] })),
  };
}

/** The binary metrics of cfg's best checkpoint on the test split. */
export async function testTrial(cfg: TrainConfig): Promise<Record<string, number>> {
  const { data, model, strategy } = await build(cfg);
  const trainer = new Trainer(model, data, cfg, { quiet: true, strategy, warn: () => {} });
  await trainer.restoreBest();
  return { ...trainer.evaluate('test') };
}

async function serve(job: WorkerJob): Promise<WorkerReply> {
  if (job.kind === 'test') return { ok: true, result: await testTrial(job.config) };
  try {
    return { ok: true, result: await trainTrial(job.config, job.epochs) };
  } catch (e) {
    const error = (e as Error).message;
    return { ok: true, result: { epochsDone: 0, value: NaN, stoppedEarly: false, lowerIsBetter: false, curve: [], warnings: [], error } };
  }
}

if (process.send) {
  process.on('disconnect', () => process.exit(1));
  process.once('message', (job: WorkerJob) => {
    serve(job).catch((e: Error) => ({ ok: false, error: e.stack ?? e.message }) as WorkerReply)
      .then((reply) => process.send!(reply, () => process.exit(0)));
  });
}
