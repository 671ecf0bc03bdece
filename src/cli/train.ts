// `prerank train --config <file> [--resume] [--out <dir>]`, `prerank train --online --config <online config>` and
// `prerank eval --model <run dir> [--data val|test|train]`.
import { join } from 'node:path';
import { loadCheckpoint } from '../train/checkpoint.js';
import { binaryMetrics, collectPredictions } from '../train/predict.js';
import { buildModel, loadData, loadTrainConfig, runTraining } from '../train/run.js';
import { nativeScan } from '../serve/compiled.js';
import { defineCommand } from './command.js';

export const trainCommand = defineCommand({
  name: 'prerank train',
  summary: 'Train a model from a train config (JSON or YAML): checkpoints best/ and last/, a JSONL log and the test metrics '
    + 'in the config\'s outDir. The log has a record per epoch and, while an epoch runs, a `progress` record a minute '
    + '(step, samples/s, loss, ETA; also on stderr when it is not a terminal). '
    + 'With --online, train continuously from an event stream (an online config).',
  options: {
    config: { type: 'string', required: true, value: 'file', description: 'a train config (`prerank schema train`), or an online config with --online (`prerank schema online`)' },
    resume: { type: 'boolean', description: "continue from the run's last checkpoint" },
    out: { type: 'string', value: 'dir', defaultText: "the config's outDir", description: 'the run directory' },
    online: { type: 'boolean', description: 'online training from an event stream; --config is an online config' },
  },
  examples: [
    'prerank train --config configs/bench/train-ml-100k-dssm.json',
    'prerank train --config configs/bench/train-ml-100k-dssm.json --out runs/dssm --resume',
    'prerank train --online --config configs/online/ml-latest-small-replay.json',
  ],
  async run(o) {
    if (o.online) {
      await (await import('../online/trainer.js')).runOnline(o.config);
      return;
    }
    const cfg = loadTrainConfig(o.config);
    if (o.out !== undefined) cfg.outDir = o.out;
    const r = await runTraining(cfg, { resume: o.resume, scan: nativeScan });
    console.log(`best epoch ${r.fit.bestEpoch}; test AUC ${r.test.auc.toFixed(5)}, logloss ${r.test.logloss.toFixed(5)}; run in ${cfg.outDir}`);
  },
});

export const evalCommand = defineCommand({
  name: 'prerank eval',
  summary: "Evaluate a training run's best checkpoint on one split of its data; prints one JSON line (AUC, logloss, ...).",
  options: {
    model: { type: 'string', required: true, value: 'run dir', description: 'a training run directory (config.json + best/)' },
    data: { type: 'string', default: 'test', choices: ['train', 'val', 'test'], description: 'the split to evaluate' },
  },
  examples: ['prerank eval --model runs/dssm', 'prerank eval --model runs/dssm --data val'],
  async run(o) {
    const cfg = loadTrainConfig(join(o.model, 'config.json'));
    const data = await loadData(cfg);
    const model = buildModel(cfg, data);
    await loadCheckpoint(join(o.model, 'best'), model, null);
    const m = binaryMetrics(collectPredictions(model, data, o.data, cfg.evalBatchSize));
    console.log(JSON.stringify({ model: cfg.model.kind, data: data.name, split: o.data, ...m }));
  },
});
