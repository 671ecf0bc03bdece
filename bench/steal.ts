// The machine's own noise, printed beside latency numbers. Steal: CPU time the hypervisor gave to other guests while a
// benchmark ran ("steal" in /proc/stat): on a shared VM the same code runs at very different speeds from hour to hour
// (seen: 0% to over 30% of a vCPU's time within a few hours); null where /proc/stat is missing (not Linux). FMA windows:
// how fast the vCPU does arithmetic from one few-millisecond window to the next (fmaWindows below).
import { readFileSync } from 'node:fs';
import { engineInfo, fmaPeakGflops } from '../src/core/index.js';

function ticks(): { steal: number; total: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (!cpu) return null;
    const v = cpu.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    return { steal: v[7] ?? 0, total: v.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** Starts measuring; stop() gives the share of all CPUs' time stolen since (0-1), or null. */
export function stealMeter(): { stop: () => number | null } {
  const t0 = ticks();
  return {
    stop: () => {
      const t1 = ticks();
      if (!t0 || !t1 || t1.total === t0.total) return null;
      return (t1.steal - t0.steal) / (t1.total - t0.total);
    },
  };
}

export const stealLine = (share: number | null): string =>
  share === null ? 'VM steal time: unknown (no /proc/stat)' : `VM steal time during the run: ${(100 * share).toFixed(1)}% of CPU time (time the hypervisor gave to other guests)`;

/**
 * The machine's arithmetic speed from one moment to the next: `windows` runs of `ms` milliseconds of register-only
 * FMA (the engine's peak kernel, no memory traffic) on one thread, then on every pool thread at once. On quiet cores
 * every window runs at the same GFLOP/s; on a shared host the same instructions run slower whenever another guest
 * loads a core, and a window on all threads runs at one thread's speed whenever one vCPU is elsewhere (steal time
 * need not show either). A compute-bound request of a few milliseconds sees exactly this spread, so its p99 / p50
 * can be no better than p50 / p1 here.
 */
export interface FmaWindows {
  threads: number;
  p50: number;
  p10: number;
  p1: number;
}

export function fmaWindows(windows = 1000, ms = 2): FmaWindows[] | null {
  const info = engineInfo();
  if (info.kernels !== 'native') return null;
  return [...new Set([1, info.threads])].map((threads) => {
    const g: number[] = [];
    for (let i = 0; i < windows; i++) g.push(fmaPeakGflops(info.isa, threads, ms / 1000));
    g.sort((a, b) => a - b);
    const at = (q: number): number => g[Math.min(g.length - 1, Math.floor(q * g.length))];
    return { threads, p50: at(0.5), p10: at(0.1), p1: at(0.01) };
  });
}

export const fmaWindowsLine = (ws: FmaWindows[] | null, windows = 1000, ms = 2): string =>
  ws === null ? 'FMA windows: skipped (no native kernels)'
    : `FMA speed in ${windows} windows of ${ms} ms: ` + ws.map((w) => `${w.threads} thread${w.threads > 1 ? 's' : ''} p50 ${w.p50.toFixed(1)} GFLOP/s, ` +
      `p10 ${w.p10.toFixed(1)}, p1 ${w.p1.toFixed(1)} (p50/p1 ${(w.p50 / w.p1).toFixed(2)})`).join('; ') +
      ' — the spread a compute-bound request inherits from this host';
