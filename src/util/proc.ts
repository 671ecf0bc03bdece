// A process's memory from Linux's /proc/<pid>/status (null elsewhere, or once the process is gone).
import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in MiB: VmHWM (peak resident set) or VmRSS (resident set now). */
export function statusMiB(field: 'VmHWM' | 'VmRSS', pid: number | 'self' = 'self'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Peak resident set size of this process so far (VmHWM), MiB. */
export const peakRssMiB = (): number | null => statusMiB('VmHWM');

/** Resident set size of this process now (VmRSS), MiB. */
export const rssNowMiB = (): number | null => statusMiB('VmRSS');
