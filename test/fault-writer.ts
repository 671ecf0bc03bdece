// A writer for the SIGKILL scenarios of test/fault-writes.ts, run as a child process:
//   node dist/test/fault-writer.js export <run dir> <bundle dir>        exportBundle into one directory, again and again
//   node dist/test/fault-writer.js checkpoint <run dir> <checkpoint dir> saveCheckpoint (model + Adam state), again and again
//   node dist/test/fault-writer.js publish <run dir> <versions root> <work dir>
//                                                                      the online trainer's publish(), again and again
// It loads everything first, prints "ready", then writes until it is killed, printing "wrote <n>" after each write.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { OnlineTrainer, parseOnlineConfig } from '../src/online/index.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { createOptimizer } from '../src/train/trainer.js';
import { loadRun } from './fault-common.js';

const [mode, runDir, target, work] = process.argv.slice(2);

let write: (n: number) => Promise<void>;
if (mode === 'export') {
  const src = await loadRun(runDir);
  write = async () => void (await exportBundle(src, target));
} else if (mode === 'checkpoint') {
  const { cfg, model } = await loadRun(runDir);
  const opt = createOptimizer(model, cfg.optimizer);
  write = (n) => saveCheckpoint(target, model, opt, { epoch: n });
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
