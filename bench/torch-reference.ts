// Runs the PyTorch reference scripts in bench/reference (Debian's PyTorch) on a fixture in several thread
// configurations and returns each result; absent PyTorch is reported, not an error.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveTensors } from '../src/nn/index.js';
import type { Tensor } from '../src/core/index.js';

export const PYTHON = '/usr/bin/python3';
const REFERENCE_DIR = join(process.cwd(), 'bench', 'reference');

export interface TorchResult {
  config: string;
  median_ms: number;
  losses: number[];
  blas: { corename?: string | null; [k: string]: unknown };
  warnings: string[];
}

export function torchAvailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'python3-torch is not installed (run scripts/install-reference.sh)';
}

/** Writes the fixture directory shared with step.py. */
export async function writeFixture(dir: string, model: string, config: Record<string, unknown>, lr: number, tensors: Map<string, Tensor>): Promise<void> {
  await saveTensors(dir, tensors);
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify({ ...manifest, model, config, lr }, null, 1));
}

export interface TorchConfig {
  name: string;
  threads: number;
  env: Record<string, string>;
  /** Environment variables removed for the run (this workplace pins OpenBLAS to its Haswell kernel by default). */
  unset: string[];
}

const OPENBLAS_PINS = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];
const THREADING: Omit<TorchConfig, 'unset'>[] = [
  { name: '1 thread', threads: 1, env: {} },
  { name: '2 threads', threads: 2, env: {} },
  { name: '2 threads, OMP_WAIT_POLICY=PASSIVE', threads: 2, env: { OMP_WAIT_POLICY: 'PASSIVE' } },
];

/** Each threading setup with OpenBLAS's kernel as the environment pins it, and (when pinned) as it detects itself. */
export const TORCH_CONFIGS: TorchConfig[] = THREADING.flatMap((t) => {
  const pinned = OPENBLAS_PINS.filter((v) => process.env[v] !== undefined);
  const asSet = { ...t, unset: [] };
  if (pinned.length === 0) return [asSet];
  return [asSet, { ...t, name: `${t.name}, ${pinned.join('/')} unset`, unset: pinned }];
});

export function runTorch(fixture: string, cfg: TorchConfig, checkSteps: number, timed: number): TorchResult {
  const args = ['--check-steps', String(checkSteps), '--warmup', '3', '--timed', String(timed)];
  return { ...runReferenceScript<TorchResult>('step.py', fixture, cfg, args), config: cfg.name };
}

/**
 * Runs bench/reference/<script> on a fixture in one configuration (`--fixture DIR --threads N ...args --out FILE`) and
 * returns its JSON report. The configuration's environment is set in the child (OpenMP and OpenBLAS read it at start).
 */
export function runReferenceScript<R>(script: string, fixture: string, cfg: TorchConfig, args: string[]): R {
  const out = join(fixture, `${script.replace(/\.py$/, '')}-${cfg.name.replace(/[^a-zA-Z0-9]+/g, '-')}.json`);
  const argv = [join(REFERENCE_DIR, script), '--fixture', fixture, '--threads', String(cfg.threads), ...args, '--out', out];
  const env: NodeJS.ProcessEnv = { ...process.env, ...cfg.env };
  for (const v of cfg.unset) delete env[v];
  const r = spawnSync(PYTHON, argv, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyTorch reference ${script} failed (${cfg.name}):\n${r.stderr}`);
  return JSON.parse(readFileSync(out, 'utf8')) as R;
}
