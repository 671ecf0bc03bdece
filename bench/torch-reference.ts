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

let detectedCore: { core: string | null; pin: string | null } | undefined;
/**
 * The kernel OpenBLAS picks for this CPU by itself (pins unset), and the pin that makes the comparison fair when that
 * is a fallback: OpenBLAS 0.3.21 does not know newer CPUs (seen: Intel Xeon family 6 model 207, Emerald Rapids, got
 * the SSE3 'Prescott' kernel, 3-5x slower than its SkylakeX one), so an unrecognised AVX-512 CPU is pinned to
 * SkylakeX and an AVX2 one to Haswell. Probed once per process.
 */
export function openblasCore(): { core: string | null; pin: string | null } {
  if (detectedCore) return detectedCore;
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  for (const v of OPENBLAS_PINS) delete env[v];
  const probe = 'import json, runtime_info as r; b = r.blas_info(1); c = r.cpu_info(); ' +
    'print(json.dumps({"core": b.get("corename"), "avx512": c["avx512f"], "avx2": c["avx2"], "fast": (b.get("corename") or "").lower() in r.FAST_OPENBLAS_CORES}))';
  const r = spawnSync(PYTHON, ['-c', probe], { env, encoding: 'utf8', cwd: REFERENCE_DIR });
  if (r.status !== 0) return (detectedCore = { core: null, pin: null });
  const p = JSON.parse(r.stdout) as { core: string | null; avx512: boolean; avx2: boolean; fast: boolean };
  const pin = p.fast || p.core === null ? null : p.avx512 ? 'SkylakeX' : p.avx2 ? 'Haswell' : null;
  return (detectedCore = { core: p.core, pin });
}

/** The environment for a PyTorch reference run with OpenBLAS choosing its own kernel, pinned only where it falls back. */
export function fairOpenblasEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const v of OPENBLAS_PINS) delete env[v];
  const { pin } = openblasCore();
  if (pin) env.OPENBLAS_CORETYPE = pin;
  return env;
}
const THREADING: Omit<TorchConfig, 'unset'>[] = [
  { name: '1 thread', threads: 1, env: {} },
  { name: '2 threads', threads: 2, env: {} },
  { name: '2 threads, OMP_WAIT_POLICY=PASSIVE', threads: 2, env: { OMP_WAIT_POLICY: 'PASSIVE' } },
];

/**
 * Each threading setup with OpenBLAS's kernel as the environment pins it, and (when pinned) as it detects itself;
 * when its own choice is a fallback kernel (openblasCore), also pinned to the CPU's fast kernel.
 */
export function torchConfigs(): TorchConfig[] {
  const pinned = OPENBLAS_PINS.filter((v) => process.env[v] !== undefined);
  const { pin, core } = openblasCore();
  return THREADING.flatMap((t) => {
    const out: TorchConfig[] = [{ ...t, unset: [] }];
    if (pinned.length) out.push({ ...t, name: `${t.name}, ${pinned.join('/')} unset`, unset: pinned });
    if (pin && process.env.OPENBLAS_CORETYPE !== pin) out.push(withCoreType(t, pin, core));
    return out;
  });
}

/** A threading setup with OpenBLAS pinned to `pin` (named with the kernel OpenBLAS detected by itself). */
function withCoreType(t: Omit<TorchConfig, 'unset'>, pin: string, core: string | null): TorchConfig {
  return { ...t, name: `${t.name}, OPENBLAS_CORETYPE=${pin} (detected ${core})`, env: { ...t.env, OPENBLAS_CORETYPE: pin }, unset: [] };
}

/**
 * The one configuration correctness checks compare against: 1 thread, OpenBLAS pinned to the CPU's FMA kernel where it
 * would fall back (Prescott has no FMA: its rounding differs from prerank's fused kernels, and over 10 Adam steps
 * parameters with near-zero gradients amplify that to 1e-4 in the loss).
 */
export function referenceConfig(): TorchConfig {
  const { pin, core } = openblasCore();
  return pin ? withCoreType(THREADING[0], pin, core) : { ...THREADING[0], unset: [] };
}

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
