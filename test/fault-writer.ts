// A writer for the SIGKILL scenarios of test/fault-scenarios.ts, run as a child process:
//   node dist/test/fault-writer.js export <run dir> <bundle dir>        exportBundle into one directory, again and again
//   node dist/test/fault-writer.js checkpoint <run dir> <checkpoint dir> saveCheckpoint (model + Adam state), again and again
//   node dist/test/fault-writer.js publish <run dir> <versions root> <work dir>
//                                                                      the online trainer's publish(), again and again
// It loads everything first, prints "ready", then writes until it is killed, printing "wrote <n>" after each write.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { OnlineTrainer, parseOnlineConfig } from '../src/online/index.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { buildModel, loadData, loadTrainConfig } from '../src/train/run.js';
import { createOptimizer } from '../src/train/trainer.js';

const [mode, runDir, target, work] = process.argv.slice(2);

async function model() {
  const cfg = loadTrainConfig(join(runDir, 'config.json'));
  const data = await loadData(cfg);
  const m = buildModel(cfg, data);
  const ckpt = ['best', 'last'].map((d) => join(runDir, d)).find(hasCheckpoint)!;
  await loadCheckpoint(ckpt, m, null);
  return { cfg, data, model: m };
}

let write: (n: number) => Promise<void>;
if (mode === 'export') {
  const { cfg, data, model: m } = await model();
  write = async () => void (await exportBundle({ model: m, dataset: data, config: cfg.model }, target));
} else if (mode === 'checkpoint') {
  const { cfg, model: m } = await model();
  const opt = createOptimizer(m, cfg.optimizer);
  write = (n) => saveCheckpoint(target, m, opt, { epoch: n });
} else if (mode === 'publish') {
  mkdirSync(join(work, 'events'), { recursive: true });
  const t = await OnlineTrainer.create(parseOnlineConfig({ initial: { run: runDir }, source: { kind: 'dir', path: join(work, 'events') }, outDir: work,
    quiet: true, publish: { dir: target, everyUpdates: 1 } }));
  write = async () => void (await t.publish());
} else {
  throw new Error(`fault-writer: unknown mode '${mode}'`);
}
process.stdout.write('ready\n');
for (let n = 1; ; n++) {
  await write(n);
  process.stdout.write(`wrote ${n}\n`);
}
