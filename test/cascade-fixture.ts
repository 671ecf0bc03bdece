// Shared by the cascade-* tests: a tiny synthetic log and the cascade simulated over it (small stages, tiny DSSM
// pre-ranker and DCN teacher), written under `root`.
import { join } from 'node:path';
import { parseCascadeConfig } from '../src/cascade/config.js';
import { listObjective } from '../src/cascade/list-run.js';
import type { CascadeLists } from '../src/cascade/lists.js';
import { simulateCascade, type CascadeResult, type CascadeSource } from '../src/cascade/simulate.js';
import type { CascadeObjective } from '../src/cascade/train.js';
import type { RecModel } from '../src/models/types.js';
import { Adam } from '../src/nn/index.js';
import { trainStep } from '../src/train/step.js';
import { parseDataConfig, type DataConfig } from '../src/data/spec.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';

export async function tinyCascade(root: string, evalRequests: number): Promise<{ cascade: CascadeResult; dataCfg: DataConfig; dataDir: string }> {
  const dataDir = join(root, 'data');
  const dataCfg = parseDataConfig(writeSyntheticLog(dataDir, { users: 60, items: 80 }));
  const cascade = await simulateCascade(parseCascadeConfig({
    name: 'tiny', seed: 3, data: { config: 'unused.json' }, requests: { train: 25, eval: evalRequests, windowSeconds: 500 },
    stages: { recall: 24, prerank: 10, impressions: 4, random: 5 },
    prerank: { kind: 'dssm', config: { embedDim: 8, tower: [16, 8] }, epochs: 2, batchSize: 256 },
    teacher: { kind: 'dcn', config: { embedDim: 8, dnn: [16] }, epochs: 2, batchSize: 256 },
  }), { modelDir: join(root, 'models'), dataConfig: dataCfg });
  return { cascade, dataCfg, dataDir };
}

/**
 * Trains `model` on the lists' epochs 0.. through the one training step with the cascade objective (Adam, lr),
 * stopping after `maxSteps` steps when given; returns each step's loss.
 */
export function trainOnLists(model: RecModel, lists: CascadeLists, src: CascadeSource, objective: CascadeObjective,
  o: { epochs: number; maxSteps?: number; lr?: number }): number[] {
  const optimizer = new Adam(model.namedParameters(), { lr: o.lr ?? 0.01 });
  const step = listObjective(objective, src, null);
  const losses: number[] = [];
  model.train();
  for (let e = 0; e < o.epochs; e++) {
    for (const b of lists.epoch(e)) {
      if (losses.length === o.maxSteps) return losses;
      losses.push(trainStep(model, optimizer, b, step, `step ${losses.length}`));
    }
  }
  return losses;
}
