// `npm run bench -- faults [--reps=20] [--redis-cycles=5] [--levels=20] [--only=redis,kill,disk,ann]`: the fault
// injection scenarios of test/fault-scenarios.ts with more repetitions than the tests — redis-server SIGKILLed under
// load and restarted empty (--redis-cycles), each writer (export, checkpoint, online publish) SIGKILLed at --reps
// random moments, a full tmpfs at --levels fill levels per writer (skipped with the reason when mounting is not
// permitted), every way of damaging the ANN index at start, reload and under --watch. Prints one row per scenario
// (faults injected, survived, detail), the CPU, and as its last line one JSON object merged from CONTRIBUTORS: this
// bench's {faults, faults_survived}; the fuzz bench ({fuzz_cases, fuzz_5xx}) and the soak bench
// ({soak_rss_slope_mib_per_min, soak_errors}) each add one entry there.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo } from '../src/core/index.js';
import { exportBundle } from '../src/export/index.js';
import { annDamageScenario, fullDiskScenario, killWriterScenario, redisRestartScenario, type FaultResult } from '../test/fault-scenarios.js';
import { tempDir, tinyRun } from '../test/serve-fixture.js';

export interface FaultsOptions {
  /** SIGKILL points per writer (default 20). */
  reps?: number;
  /** Kill/restart cycles of redis-server (default 5). */
  redisCycles?: number;
  /** Fill levels per writer on the full disk (default 20). */
  levels?: number;
  /** Scenario groups to run (default all): redis, kill, disk, ann. */
  only?: string[];
  /** Progress lines (default: none). */
  log?: (msg: string) => void;
}

export interface FaultsReport {
  faults: number;
  faults_survived: number;
  rows: FaultResult[];
}

/** Runs the scenarios on a tiny trained DSSM and its bundle (in a temporary directory); totals over every row. */
export async function runFaults(opts: FaultsOptions = {}): Promise<FaultsReport> {
  const reps = opts.reps ?? 20, levels = opts.levels ?? 20;
  const want = (g: string) => !opts.only || opts.only.includes(g);
  const work = tempDir('bench-faults');
  const rows: FaultResult[] = [];
  const add = (r: FaultResult) => {
    rows.push(r);
    opts.log?.(`${r.name}: ${r.skipped ? `skipped (${r.skipped})` : `${r.survived} of ${r.faults} survived`}`);
  };
  try {
    const run = await tinyRun(work, 'dssm');
    const bundle = join(work, 'bundle');
    await exportBundle(run.runDir, bundle);
    const user = run.users.get('u1')!;
    if (want('redis')) add(await redisRestartScenario({ bundle, user, candidates: ['i1', 'i7', 'i30', 'nope', 'i59'], cycles: opts.redisCycles ?? 5 }));
    if (want('kill')) {
      for (const [i, mode] of (['export', 'checkpoint', 'publish'] as const).entries()) {
        add(await killWriterScenario({ mode, runDir: run.runDir, work, reps, seed: 101 + i }));
      }
    }
    if (want('disk')) for (const writer of ['bundle', 'publish', 'checkpoint'] as const) add(await fullDiskScenario({ writer, runDir: run.runDir, work, levels }));
    if (want('ann')) add(await annDamageScenario({ bundle, user, work }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const faults = rows.reduce((s, r) => s + r.faults, 0);
  return { faults, faults_survived: rows.reduce((s, r) => s + r.survived, 0), rows };
}

/** /proc/cpuinfo's model name, family and model (a VM may report only a vendor name). */
function cpuModel(): string {
  try {
    const t = readFileSync('/proc/cpuinfo', 'utf8');
    const f = (k: string) => new RegExp(`^${k}\\s*:\\s*(.+)$`, 'm').exec(t)?.[1];
    return `${f('model name') ?? engineInfo().cpu}, family ${f('cpu family') ?? '?'} model ${f('model') ?? '?'}`;
  } catch {
    return engineInfo().cpu;
  }
}

export function printFaultTable(rows: FaultResult[]): void {
  const w = Math.max(8, ...rows.map((r) => r.name.length));
  console.log(`${'scenario'.padEnd(w)}  reps  survived  detail`);
  for (const r of rows) {
    const detail = r.skipped ? `skipped: ${r.skipped}` : r.detail;
    console.log(`${r.name.padEnd(w)}  ${String(r.faults).padStart(4)}  ${String(r.survived).padStart(8)}  ${detail}`);
    for (const f of r.failures) console.log(`${''.padEnd(w)}  not survived: ${f}`);
  }
}

type Figures = Record<string, number | null>;

/** Figures for the final JSON line, in order; each contributor prints its own report. */
export const CONTRIBUTORS: ((args: string[]) => Promise<Figures>)[] = [
  async (args) => {
    const opt = (k: string) => args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
    const num = (k: string) => (opt(k) === undefined ? undefined : Number(opt(k)));
    const r = await runFaults({ reps: num('reps'), redisCycles: num('redis-cycles'), levels: num('levels'), only: opt('only')?.split(','),
      log: (m) => console.error(`faults: ${m}`) });
    printFaultTable(r.rows);
    return { faults: r.faults, faults_survived: r.faults_survived };
  },
];

export async function benchFaults(args: string[]): Promise<void> {
  const info = engineInfo();
  console.log(`CPU: ${cpuModel()} (${info.threads} threads, ISA path ${info.isa})`);
  const figures: Figures = {};
  for (const c of CONTRIBUTORS) Object.assign(figures, await c(args));
  console.log(JSON.stringify(figures));
}
