// A process's memory and CPU time, and the machine's, from Linux's /proc (null where it is missing or the process is
// gone).
import { readFileSync } from 'node:fs';
import { engineInfo } from '../src/core/index.js';
import { statusMiB } from '../src/util/proc.js';

const TICKS = 100; // USER_HZ: /proc's CPU times are in 1/100 s on Linux

const read = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** Resident set size (VmRSS) of a process, MiB; null once it has exited (a zombie has none). */
export const rssMiB = (pid: number): number | null => statusMiB('VmRSS', pid);

/**
 * Of a process's resident file pages (its mapped bundle files), how many MiB are mapped with 2 MiB page-table entries
 * (smaps_rollup's FilePmdMapped: one TLB entry per 2 MiB instead of per 4 KiB) and how many in all (RssFile).
 */
export function fileMappedMiB(pid: number | 'self' = 'self'): { pmd: number; all: number } | null {
  const text = read(`/proc/${pid}/smaps_rollup`);
  const kb = (field: string): number | null => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text ?? '');
    return m ? Number(m[1]) : null;
  };
  const pmd = kb('FilePmdMapped'), all = kb('Rss'), anon = kb('Anonymous');
  return pmd === null || all === null || anon === null ? null : { pmd: Math.round(pmd / 1024), all: Math.round((all - anon) / 1024) };
}

/** CPU seconds a process has used (user + system, all its threads). */
export function cpuSeconds(pid: number): number | null {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const v = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on: the name may hold spaces
  return (Number(v[11]) + Number(v[12])) / TICKS;
}

/** Busy CPU seconds of the whole machine, summed over its CPUs (everything but idle and iowait, steal included). */
export function machineBusySeconds(): number | null {
  const line = read('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return null;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  return (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) / TICKS;
}

/** /proc/cpuinfo's model name, family and model (a VM may report only a vendor name). */
export function cpuModel(): string {
  try {
    const t = readFileSync('/proc/cpuinfo', 'utf8');
    const f = (k: string) => new RegExp(`^${k}\\s*:\\s*(.+)$`, 'm').exec(t)?.[1];
    return `${f('model name') ?? engineInfo().cpu}, family ${f('cpu family') ?? '?'} model ${f('model') ?? '?'}`;
  } catch {
    return engineInfo().cpu;
  }
}
