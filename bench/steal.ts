// CPU time the hypervisor gave to other guests while a benchmark ran ("steal" in /proc/stat): on a shared VM the
// same code runs at very different speeds from hour to hour (seen: 0% to over 30% of a vCPU's time in one session),
// so every latency benchmark prints it beside its numbers. null where /proc/stat is missing (not Linux).
import { readFileSync } from 'node:fs';

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
