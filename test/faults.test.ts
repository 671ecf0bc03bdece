// Fault injection (test/fault-scenarios.ts) with few repetitions: redis-server killed and restarted under load,
// writers SIGKILLed mid-write, a full disk, a damaged ANN index. `npm run bench -- faults` runs the same scenarios
// with more repetitions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportBundle } from '../src/export/index.js';
import { annDamageScenario, fullDiskScenario, killWriterScenario, redisRestartScenario, type FaultResult } from './fault-scenarios.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
let bundle: string;

before(async () => {
  root = tempDir('faults');
  run = await tinyRun(root, 'dssm');
  bundle = join(root, 'bundle');
  await exportBundle(run.runDir, bundle);
});
after(() => rmSync(root, { recursive: true, force: true }));

const user = () => run.users.get('u1')!;

function survivedAll(t: { skip: (m: string) => void }, r: FaultResult): void {
  if (r.skipped) return t.skip(r.skipped);
  assert.ok(r.faults > 0, `${r.name}: no fault injected (${r.detail})`);
  assert.equal(r.survived, r.faults, `${r.name}: ${r.survived} of ${r.faults} survived; ${r.detail}\n${r.failures.join('\n')}`);
}

test('redis-server SIGKILLed under load: 503 with a message within the store timeout, /healthz answers; after a restart with empty data the answers recover by themselves', async (t) => {
  survivedAll(t, await redisRestartScenario({ bundle, user: user(), candidates: ['i1', 'i7', 'i30', 'nope', 'i59'], cycles: 2 }));
});

const everyItem = () => [...Array.from({ length: 60 }, (_, i) => `i${i}`), 'nope'];

test('a Redis Cluster master SIGKILLed under load and back within the node timeout: each request 200 or a clear 503 within the store timeout; the restarted master\'s lost buckets are republished and all answers recover', async (t) => {
  survivedAll(t, await redisRestartScenario({ bundle, user: user(), candidates: everyItem(), cycles: 1, downMs: 1000, cluster: { nodeTimeoutMs: 5000 } }));
});

test('a Redis Cluster master down longer than the node timeout (the cluster says CLUSTERDOWN): clear 503s, never a hang; all answers recover after it rejoins', async (t) => {
  survivedAll(t, await redisRestartScenario({ bundle, user: user(), candidates: everyItem(), cycles: 1, downMs: 2500, cluster: { nodeTimeoutMs: 1000 } }));
});

test('SIGKILL during export into an existing bundle directory: the directory reads as a complete bundle; the next export cleans up', async (t) => {
  survivedAll(t, await killWriterScenario({ mode: 'export', runDir: run.runDir, work: root, reps: 4, seed: 11 }));
});

test('SIGKILL during checkpoint save: the checkpoint is found and loads; the next save cleans up', async (t) => {
  survivedAll(t, await killWriterScenario({ mode: 'checkpoint', runDir: run.runDir, work: root, reps: 4, seed: 12 }));
});

test('SIGKILL during the online trainer\'s publish: CURRENT names a complete version serve loads; the next publish numbers past and cleans up', async (t) => {
  survivedAll(t, await killWriterScenario({ mode: 'publish', runDir: run.runDir, work: root, reps: 3, seed: 13 }));
});

for (const writer of ['bundle', 'publish', 'checkpoint'] as const) {
  test(`a full disk during ${writer}: ENOSPC and the path named, the previous version intact, nothing partial left`, async (t) => {
    survivedAll(t, await fullDiskScenario({ writer, runDir: run.runDir, work: root, levels: 4 }));
  });
}

test('a missing or truncated ANN index: refused with the file named at start, on reload and under --watch; never a crash or a 500', async (t) => {
  survivedAll(t, await annDamageScenario({ bundle, user: user(), work: root, ways: 2 }));
});
