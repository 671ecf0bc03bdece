// Shared by the serve-* tests: a tiny trained run on synthetic data, raw user rows, and a throwaway redis-server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocBatch, type Batch } from '../src/data/batch.js';
import { Dataset, writeSyntheticLog } from '../src/data/index.js';
import { TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { parseTrainConfig } from '../src/train/config.js';
import { runTraining } from '../src/train/run.js';

export interface TinyRun {
  root: string;
  runDir: string;
  data: Dataset;
  model: RecModel;
  /** users.csv rows by user id (raw values as the service receives them). */
  users: Map<string, Record<string, string>>;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `prerank-serve-${tag}-`));
}

/** Synthetic data (written once per root) and a model trained for two short epochs. */
export async function tinyRun(root: string, kind: ModelName, name: string = kind, seed = 2022): Promise<TinyRun> {
  const dataDir = join(root, 'data');
  const cfgPath = join(dataDir, 'config.json');
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch {
    input = writeSyntheticLog(dataDir, { users: 120, items: 60, interactionsPerUser: 30 });
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(cfgPath, JSON.stringify(input));
  }
  const runDir = join(root, 'runs', name);
  const cfg = parseTrainConfig({ model: { kind, config: TINY_CONFIGS[kind] }, data: { config: cfgPath }, batchSize: 256, epochs: 2, seed,
    optimizer: { kind: 'adam', lr: 0.01 }, outDir: runDir });
  const data = await Dataset.load(cfgPath);
  const r = await runTraining(cfg, { data, quiet: true });
  return { root, runDir, data, model: r.model, users: csvRowsByKey(join(dataDir, 'users.csv')) };
}

/** The rows of a simple CSV file (no quoting) as column -> value, by the value of the first column. */
export function csvRowsByKey(path: string): Map<string, Record<string, string>> {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  return new Map(lines.slice(1).map((l) => {
    const v = l.split(',');
    return [v[0], Object.fromEntries(head.map((h, i) => [h, v[i]]))] as const;
  }));
}

/** A full batch for one raw user (+ context) against the given item entities, encoded with the training encoders. */
export function pairBatch(data: Dataset, user: Record<string, unknown>, items: number[]): Batch {
  const n = items.length;
  const b = allocBatch(data.features, n);
  const row = data.encoders.encodeRow(user, ['user', 'context']);
  const it = data.fillItems(data.itemBatch(n), items);
  for (let i = 0; i < n; i++) {
    for (const [k, v] of Object.entries(row.sparse)) b.sparse[k][i] = v;
    for (const [k, v] of Object.entries(row.dense)) b.dense[k][i] = v;
    for (const [k, ids] of Object.entries(row.sequence)) {
      const s = b.sequence[k];
      s.ids.fill(0, i * s.maxLen, (i + 1) * s.maxLen);
      s.ids.set(ids.subarray(0, s.maxLen), i * s.maxLen);
      s.lengths[i] = Math.min(ids.length, s.maxLen);
    }
  }
  for (const [k, v] of Object.entries(it.sparse)) b.sparse[k].set(v);
  for (const [k, v] of Object.entries(it.dense)) b.dense[k].set(v);
  for (const [k, s] of Object.entries(it.sequence)) {
    b.sequence[k].ids.set(s.ids);
    b.sequence[k].lengths.set(s.lengths);
  }
  return b;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown, connections drop as in a crash. */
  kill(): Promise<void>;
}

export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export const REDIS_SKIP = 'redis-server is not installed (run scripts/install-redis.sh): Redis store tests skipped';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on a random loopback port (or on `port`) with a temporary directory and no persistence. */
export async function startRedis(port0?: number): Promise<RedisServer> {
  const dir = tempDir('redis');
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = port0 ?? await freePort();
    const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', 'no', '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const ready = await new Promise<boolean>((resolve) => {
      const t0 = Date.now();
      const poll = () => {
        if (child.exitCode !== null) return resolve(false);
        const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
        if (r.stdout?.trim() === 'PONG') return resolve(true);
        if (Date.now() - t0 > 5000) return resolve(false);
        setTimeout(poll, 50);
      };
      poll();
    });
    if (ready) {
      const end = (signal: NodeJS.Signals) => new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill(signal);
      });
      return { url: `redis://127.0.0.1:${port}`, port, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    if (attempt === 2) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start: ${out}`);
    }
    if (port0 !== undefined) await new Promise((r) => setTimeout(r, 200)); // the same port again, a moment later
  }
  throw new Error('unreachable');
}
