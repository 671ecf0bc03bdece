// Runs bench/reference/step.py (Debian's PyTorch) on a fixture in several thread configurations and returns each
// result; absent PyTorch is reported, not an error.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveTensors } from '../src/nn/index.js';
import type { Tensor } from '../src/core/index.js';

export const PYTHON = '/usr/bin/python3';
const SCRIPT = join(process.cwd(), 'bench', 'reference', 'step.py');

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

export const TORCH_CONFIGS: { name: string; threads: number; env: Record<string, string | undefined> }[] = [
  { name: '1 thread', threads: 1, env: {} },
  { name: '2 threads', threads: 2, env: {} },
  { name: '2 threads, OMP_WAIT_POLICY=PASSIVE', threads: 2, env: { OMP_WAIT_POLICY: 'PASSIVE' } },
];

export function runTorch(fixture: string, cfg: (typeof TORCH_CONFIGS)[number], checkSteps: number, timed: number): TorchResult {
  const out = join(fixture, `torch-${cfg.threads}-${cfg.env.OMP_WAIT_POLICY ?? 'default'}.json`);
  const args = [SCRIPT, '--fixture', fixture, '--threads', String(cfg.threads), '--check-steps', String(checkSteps), '--warmup', '3', '--timed', String(timed), '--out', out];
  const r = spawnSync(PYTHON, args, { env: { ...process.env, ...cfg.env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyTorch reference failed (${cfg.name}):\n${r.stderr}`);
  return { ...(JSON.parse(readFileSync(out, 'utf8')) as TorchResult), config: cfg.name };
}
