// `prerank demo` (the README's main job): trains IntTower and DSSM on the embedded ml-latest-small, prints their
// test metrics side by side, exports both runs as serving bundles and serves IntTower with DSSM beside it for the
// model explorer page (unless --no-serve); the last line printed is the page's address.
import { engineInfo } from '../core/index.js';
import { Dataset, recipeConfig } from '../data/index.js';
import { parseTrainConfig } from '../train/config.js';
import { runTraining, type RunResult } from '../train/run.js';
import { defineCommand, runCommand } from './command.js';
import { exportCommand } from './export.js';
import { serveCommand } from './serve.js';

export const demoCommand = defineCommand({
  name: 'prerank demo',
  summary: 'Train IntTower and DSSM on the embedded ml-latest-small, print their test metrics side by side, export both '
    + 'runs as serving bundles and serve IntTower over HTTP with DSSM beside it for the model explorer page at /ui/ (Ctrl-C stops).',
  options: {
    epochs: { type: 'int', default: 10, min: 1, max: 1000, description: 'epochs per model (early stopping may end sooner)' },
    out: { type: 'string', default: 'runs/demo', value: 'dir', description: 'where the runs and the bundle go' },
    'no-serve': { type: 'boolean', description: 'stop after the export instead of serving' },
    port: { type: 'int', default: 8080, min: 0, max: 65535, description: 'HTTP port of the server (0: any free port)' },
  },
  examples: ['prerank demo', 'prerank demo --epochs 2 --no-serve', 'prerank demo --port 9000'],
  async run(o) {
    const info = engineInfo();
    console.log(`engine: ${info.kernels} kernels, ${info.isa} path, ${info.threads} threads on ${info.cpu}`);
    const data = await Dataset.load(recipeConfig('ml-latest-small'));
    console.log(`data: ${data.name}, ${data.size} rows (${data.splits.train.length} train / ${data.splits.val.length} val / ${data.splits.test.length} test), ${data.userCount} users, ${data.itemCount} items`);
    const results: RunResult[] = [];
    for (const kind of ['dssm', 'int-tower']) {
      console.log(`\ntraining ${kind}`);
      const cfg = parseTrainConfig({
        model: { kind, config: {} },
        data: { recipe: 'ml-latest-small' },
        epochs: o.epochs,
        batchSize: 1024,
        earlyStopping: { metric: 'auc', patience: 2 },
        outDir: `${o.out}/${kind}`,
      });
      results.push(await runTraining(cfg, { data }));
    }
    console.log('\nmodel       best epoch  val AUC   test AUC  test logloss  train samples/s');
    for (const r of results) {
      console.log(`${r.config.model.kind.padEnd(12)}${String(r.fit.bestEpoch).padStart(10)}  ${r.fit.best.auc.toFixed(4)}    ${r.test.auc.toFixed(4)}    ${r.test.logloss.toFixed(4)}        ${r.samplesPerSec.toFixed(0)}`);
    }
    const bundle = `${o.out}/bundle-int-tower`;
    await runCommand(exportCommand, ['--model', `${o.out}/int-tower`, '--out', bundle]);
    const compare = `${o.out}/bundle-dssm`;
    await runCommand(exportCommand, ['--model', `${o.out}/dssm`, '--out', compare]);
    if (o['no-serve']) return;
    console.log('\nserving the IntTower bundle, and the DSSM bundle beside it for the explorer page (Ctrl-C to stop)');
    await runCommand(serveCommand, ['--bundle', bundle, '--compare', compare, '--port', String(o.port)]);
  },
});
