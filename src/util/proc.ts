// This process's memory from Linux's /proc/self/status (null elsewhere).
import { readFileSync } from 'node:fs';

function statusKiB(field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Peak resident set size of this process so far (VmHWM), MiB. */
export const peakRssMiB = (): number | null => {
  const k = statusKiB('VmHWM');
  return k === null ? null : k / 1024;
};

/** Resident set size of this process now (VmRSS), MiB. */
export const rssNowMiB = (): number | null => {
  const k = statusKiB('VmRSS');
  return k === null ? null : k / 1024;
};
