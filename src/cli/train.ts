// `prerank train --config <file> [--resume]` and `prerank eval --model <run dir> [--data val|test|train]`.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { loadCheckpoint } from '../train/checkpoint.js';
import { binaryMetrics, collectPredictions } from '../train/predict.js';
import { buildModel, loadData, loadTrainConfig, runTraining } from '../train/run.js';
import type { SplitName } from '../data/index.js';

export async function runTrain(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, resume: { type: 'boolean', default: false }, out: { type: 'string' },
    online: { type: 'boolean', default: false } } });
  if (!values.config) throw new Error('usage: prerank train --config <file> [--resume] [--out <dir>] | prerank train --online --config <online config>');
  if (values.online) {
    await (await import('../online/trainer.js')).runOnline(values.config);
    return;
  }
  const cfg = loadTrainConfig(values.config);
  if (values.out) cfg.outDir = values.out;
  const r = await runTraining(cfg, { resume: values.resume });
  console.log(`best epoch ${r.fit.bestEpoch}; test AUC ${r.test.auc.toFixed(5)}, logloss ${r.test.logloss.toFixed(5)}; run in ${cfg.outDir}`);
}

export async function runEval(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, data: { type: 'string', default: 'test' } } });
  if (!values.model) throw new Error('usage: prerank eval --model <run dir> [--data train|val|test]');
  const split = values.data as SplitName;
  if (!['train', 'val', 'test'].includes(split)) throw new Error(`--data must be train, val or test, got '${split}'`);
  const cfg = loadTrainConfig(join(values.model, 'config.json'));
  const data = await loadData(cfg);
  const model = buildModel(cfg, data);
  await loadCheckpoint(join(values.model, 'best'), model, null);
  const m = binaryMetrics(collectPredictions(model, data, split, cfg.evalBatchSize));
  console.log(JSON.stringify({ model: cfg.model.kind, data: data.name, split, ...m }));
}
