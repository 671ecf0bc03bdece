// A throwaway Redis Cluster on loopback for tests and benches: N masters (redis-server --cluster-enabled yes, each with
// its own temporary directory, no persistence), joined by `redis-cli --cluster create`, ready once every node reports
// cluster_state:ok. One node can be killed and started again on its port: it comes back with its nodes.conf (same id,
// same slots) but empty, as a master restarted without persistence does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from './serve-fixture.js';

export interface RedisCluster {
  /** redis-cluster://127.0.0.1:P1,127.0.0.1:P2,... */
  url: string;
  ports: number[];
  /** SIGKILL node i (connections drop as in a crash). */
  kill(i: number): Promise<void>;
  /** Starts node i again on its port, empty, and waits until the cluster says ok again. */
  start(i: number): Promise<void>;
  /** Stops every node and removes the directories. */
  stop(): Promise<void>;
}

export function redisClusterAvailable(): boolean {
  const ok = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  return ok('redis-server') && ok('redis-cli');
}

export const REDIS_CLUSTER_SKIP = 'redis-server/redis-cli are not installed (run scripts/install-redis.sh): Redis Cluster tests skipped';

const cli = (port: number, ...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 });

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`redis cluster: ${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `masters` nodes (3 is the least `redis-cli --cluster create` accepts) with no replicas. */
export async function startRedisCluster(o: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<RedisCluster> {
  const n = o.masters ?? 3;
  const root = tempDir('redis-cluster');
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    // the cluster bus listens on port + 10000: both must be free
    if (p + 10000 < 65536 && !ports.includes(p)) ports.push(p);
  }
  const procs: (ChildProcess | null)[] = ports.map(() => null);
  const logs: string[] = ports.map(() => '');
  const spawnNode = async (i: number) => {
    const port = ports[i];
    const dir = join(root, String(port));
    mkdirSync(dir, { recursive: true });
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(o.nodeTimeoutMs ?? 5000), '--save', '',
      '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    logs[i] = '';
    child.stdout!.on('data', (d) => (logs[i] += d));
    child.stderr!.on('data', (d) => (logs[i] += d));
    procs[i] = child;
    await until(`node ${port} answering PING (${logs[i].trim().slice(-300)})`, 5000, () => {
      if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited: ${logs[i].trim().slice(-300)}`);
      return cli(port, 'ping').stdout?.trim() === 'PONG';
    });
  };
  const allOk = () => ports.every((p) => /cluster_state:ok/.test(cli(p, 'cluster', 'info').stdout ?? ''));
  const end = (i: number, signal: NodeJS.Signals) => new Promise<void>((resolve) => {
    const child = procs[i];
    procs[i] = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
  const stop = async () => {
    await Promise.all(ports.map((_, i) => end(i, 'SIGKILL')));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) await spawnNode(i);
    const made = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 20000 });
    if (made.status !== 0) throw new Error(`redis-cli --cluster create failed: ${(made.stdout + made.stderr).trim().slice(-500)}`);
    await until('cluster_state:ok on every node', 15000, allOk);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    kill: (i) => end(i, 'SIGKILL'),
    start: async (i) => {
      await spawnNode(i);
      await until('cluster_state:ok on every node after a restart', 15000, allOk);
    },
    stop,
  };
}
