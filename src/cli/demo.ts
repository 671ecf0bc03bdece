// `prerank demo` (the README's main job): trains IntTower and DSSM on the embedded ml-latest-small, prints their
// test metrics side by side, exports the IntTower run as a serving bundle and serves it (unless --no-serve).
import { parseArgs } from 'node:util';
import { engineInfo } from '../core/index.js';
import { Dataset, recipeConfig } from '../data/index.js';
import { parseTrainConfig } from '../train/config.js';
import { runTraining, type RunResult } from '../train/run.js';
import { runExport } from './export.js';
import { runServe } from './serve.js';

export async function runDemo(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    epochs: { type: 'string', default: '10' }, out: { type: 'string', default: 'runs/demo' },
    'no-serve': { type: 'boolean', default: false }, port: { type: 'string', default: '8080' },
  } });
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
      epochs: Number(values.epochs),
      batchSize: 1024,
      earlyStopping: { metric: 'auc', patience: 2 },
      outDir: `${values.out}/${kind}`,
    });
    results.push(await runTraining(cfg, { data }));
  }
  console.log('\nmodel       best epoch  val AUC   test AUC  test logloss  train samples/s');
  for (const r of results) {
    console.log(`${r.config.model.kind.padEnd(12)}${String(r.fit.bestEpoch).padStart(10)}  ${r.fit.best.auc.toFixed(4)}    ${r.test.auc.toFixed(4)}    ${r.test.logloss.toFixed(4)}        ${r.samplesPerSec.toFixed(0)}`);
  }
  const bundle = `${values.out}/bundle-int-tower`;
  await runExport(['--model', `${values.out}/int-tower`, '--out', bundle]);
  if (values['no-serve']) return;
  console.log('\nserving the IntTower bundle (Ctrl-C to stop)');
  await runServe(['--bundle', bundle, '--port', values.port]);
}
