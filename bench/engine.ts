// `npm run bench -- engine`: the DSSM step and an IntTower-shaped step (batch 2048) with prerank at 1 and 2
// threads and, when Debian's PyTorch is installed, with PyTorch in its 1-thread, 2-thread and 2-thread PASSIVE
// configurations from the same weights; GEMM GFLOP/s at the step's shapes and the measured FMA peak.
// Prints the CPU and kernel path; the last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, fmaPeakGflops, nativeKernels, setThreads } from '../src/core/index.js';
import { createDssmStep, createIntTowerStep, type StepModel } from './step-models.js';
import { torchConfigs, runTorch, torchAvailable, writeFixture, type TorchResult } from './torch-reference.js';
import { median } from '../src/util/stats.js';

const CHECK_STEPS = 10;

function timeSteps(model: StepModel, warmup: number, timed: number): number {
  for (let i = 0; i < warmup; i++) model.step();
  const ms: number[] = [];
  for (let i = 0; i < timed; i++) {
    const t0 = process.hrtime.bigint();
    model.step();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ms);
}

function gemmGflops(M: number, N: number, K: number, reps: number): number {
  const k = nativeKernels()!;
  const A = new Float32Array(M * K).map(() => Math.random() - 0.5);
  const B = new Float32Array(K * N).map(() => Math.random() - 0.5);
  const C = new Float32Array(M * N);
  for (let i = 0; i < 3; i++) k.gemm(false, false, M, N, K, 1, A, K, B, N, 0, C, N, null, false);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    k.gemm(false, false, M, N, K, 1, A, K, B, N, 0, C, N, null, false);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return (2 * M * N * K) / median(times) / 1e9;
}

interface ModelReport {
  ours: Record<number, number>;
  torch: TorchResult[];
  best: TorchResult | null;
  maxLossDiff: number | null;
}

async function benchModel(kind: 'dssm' | 'inttower', torchMissing: string | null, timed: number): Promise<ModelReport> {
  const create = kind === 'dssm' ? createDssmStep : createIntTowerStep;
  const report: ModelReport = { ours: {}, torch: [], best: null, maxLossDiff: null };
  // Losses from the fixture's initial weights (2 threads), then timing on fresh models.
  setThreads(2);
  const check = create(7);
  const dir = mkdtempSync(join(tmpdir(), `prerank-bench-${kind}-`));
  try {
    await writeFixture(dir, kind, check.config, 1e-3, check.fixture());
    const ourLosses = Array.from({ length: CHECK_STEPS }, () => check.step());
    for (const threads of [1, 2]) {
      setThreads(threads);
      report.ours[threads] = timeSteps(create(7), 3, timed);
      console.log(`  prerank ${kind} ${threads} thread(s): ${report.ours[threads].toFixed(2)} ms/step`);
    }
    if (!torchMissing) {
      for (const cfg of torchConfigs()) {
        const r = runTorch(dir, cfg, CHECK_STEPS, timed);
        report.torch.push(r);
        console.log(`  torch   ${kind} ${cfg.name}: ${r.median_ms.toFixed(2)} ms/step (BLAS core ${r.blas.corename ?? '?'})${r.warnings.length ? ' WARN ' + r.warnings.join('; ') : ''}`);
      }
      report.best = report.torch.reduce((a, b) => (b.median_ms < a.median_ms ? b : a));
      report.maxLossDiff = Math.max(...report.torch.flatMap((r) => r.losses.map((l, i) => Math.abs(l - ourLosses[i]))));
      console.log(`  losses over ${CHECK_STEPS} Adam steps: ours ${ourLosses[0].toFixed(6)} -> ${ourLosses[CHECK_STEPS - 1].toFixed(6)}, max |ours - torch| = ${report.maxLossDiff.toExponential(2)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

export async function benchEngine(args: string[]): Promise<void> {
  const timed = Number(args.find((a) => a.startsWith('--steps='))?.split('=')[1] ?? 20);
  const info = engineInfo();
  if (info.kernels !== 'native') throw new Error(`the engine benchmark needs the native addon (${info.loadError})`);
  console.log(`CPU: ${info.cpu}; ISA path: ${info.isa} (supported: ${info.supportedIsas.join(', ')}); pool threads: ${info.threads}`);
  const widest = info.supportedIsas[0];
  const peak1 = fmaPeakGflops(widest, 1, 0.3);
  const peak2 = fmaPeakGflops(widest, 2, 0.3);
  console.log(`FMA peak (${widest}, register-only, 12 chains): ${peak1.toFixed(1)} GFLOP/s on 1 thread, ${peak2.toFixed(1)} on 2`);
  setThreads(2);
  const shapes: [number, number, number][] = [[2048, 300, 300], [2048, 300, 160], [2048, 128, 300], [2048, 300, 96]];
  const gflops = shapes.map(([M, N, K]) => gemmGflops(M, N, K, 30));
  shapes.forEach(([M, N, K], i) => console.log(`GEMM ${M}x${N}x${K} (2 threads): ${gflops[i].toFixed(1)} GFLOP/s`));
  const torchMissing = torchAvailable();
  if (torchMissing) console.log(`PyTorch reference skipped: ${torchMissing}`);
  const dssm = await benchModel('dssm', torchMissing, timed);
  const inttower = await benchModel('inttower', torchMissing, timed);
  setThreads(info.threads);
  const best = (r: ModelReport): number => Math.min(r.ours[1], r.ours[2]);
  const ratio = (r: ModelReport): number | null => (r.best ? r.best.median_ms / best(r) : null);
  const result = {
    cpu: info.cpu,
    isa: info.isa,
    dssm_ms: best(dssm),
    dssm_ms_1t: dssm.ours[1],
    torch_dssm_ms: dssm.best?.median_ms ?? null,
    torch_config: dssm.best?.config ?? null,
    torch_blas_core: dssm.best?.blas.corename ?? null,
    ratio_dssm: ratio(dssm),
    dssm_max_loss_diff: dssm.maxLossDiff,
    inttower_ms: best(inttower),
    torch_inttower_ms: inttower.best?.median_ms ?? null,
    torch_inttower_config: inttower.best?.config ?? null,
    ratio_inttower: ratio(inttower),
    inttower_max_loss_diff: inttower.maxLossDiff,
    gemm_gflops: gflops[0],
    fma_peak_gflops: peak2,
    gemm_peak_fraction: gflops[0] / peak2,
  };
  console.log(`ratio PyTorch/prerank: DSSM ${result.ratio_dssm?.toFixed(2) ?? 'n/a'} (vs ${result.torch_config}), IntTower ${result.ratio_inttower?.toFixed(2) ?? 'n/a'} (vs ${result.torch_inttower_config}); GEMM at ${(100 * result.gemm_peak_fraction).toFixed(1)}% of peak`);
  console.log(JSON.stringify(result));
}
