// The TrialRunner of real searches: every job in a fresh child process (worker.ts), so trials run in parallel on
// separate cores and a trial's native memory is returned when its job ends. Each process gets an equal share of
// the cores for its compute and DuckDB threads unless PRERANK_THREADS / PRERANK_DUCKDB_THREADS are set.
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { TrainConfig } from '../config.js';
import type { JobResult } from './asha.js';
import type { TrialRunner } from './search.js';
import type { WorkerJob, WorkerReply } from './worker.js';

const WORKER = new URL('./worker.js', import.meta.url);

function call<T>(job: WorkerJob, env: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [], { serialization: 'advanced', env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: WorkerReply | null = null;
    child.once('message', (m: WorkerReply) => (reply = m));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (reply?.ok) resolve(reply.result as T);
      else reject(new Error(reply ? `trial ${job.config.outDir}: ${reply.error}` : `the worker of trial ${job.config.outDir} exited (code ${code}, signal ${signal}) without a result`));
    });
    child.send(job);
  });
}

export function processRunner(parallel: number): TrialRunner {
  const share = String(Math.max(1, Math.floor(availableParallelism() / parallel)));
  const env = { ...process.env, PRERANK_THREADS: process.env.PRERANK_THREADS ?? share, PRERANK_DUCKDB_THREADS: process.env.PRERANK_DUCKDB_THREADS ?? share };
  return {
    train: (config: TrainConfig, epochs: number) => call<JobResult>({ kind: 'train', config, epochs }, env),
    test: (config: TrainConfig) => call<Record<string, number>>({ kind: 'test', config }, env),
  };
}
