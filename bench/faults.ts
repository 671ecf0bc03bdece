// `npm run bench -- faults [--fuzz-runs=3000,20000,1000] [--fuzz-seed=1] [--reps=20] [--redis-cycles=5] [--levels=20]
// [--only=redis,kill,disk,ann] [--soak-minutes=30 | --soak-json=<file>]`: the fuzzers of test/fuzz with many cases, then the fault
// injection scenarios of test/fault-scenarios.ts with more repetitions than the tests — redis-server SIGKILLed under
// load and restarted empty (--redis-cycles), each writer (export, checkpoint, online publish) SIGKILLed at --reps
// random moments, a full tmpfs at --levels fill levels per writer (skipped with the reason when mounting is not
// permitted), every way of damaging the ANN index at start, reload and under --watch. Prints one row per scenario
// (faults injected, survived, detail), then the soak (bench/soak.ts, --soak-minutes; 0 skips it; --soak-json=<file>
// takes the figures from the output of a separate `npm run bench -- soak` run instead), the CPU, and as
// its last line one JSON object merged from CONTRIBUTORS: {fuzz_cases, fuzz_5xx, fuzz_failures}, {faults,
// faults_survived}, {soak_minutes, soak_rss_slope_mib_per_min, soak_errors}.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo } from '../src/core/index.js';
import { exportBundle } from '../src/export/index.js';
import { annDamageScenario, fullDiskScenario, killWriterScenario, redisRestartScenario, type FaultResult } from '../test/fault-scenarios.js';
import { fuzzBundles } from '../test/fuzz/bundles.js';
import { fuzzDataFiles, type FuzzReport } from '../test/fuzz/data-files.js';
import { fuzzRoutes } from '../test/fuzz/routes.js';
import { fuzzBundleTargets, fuzzRouteTargets } from '../test/fuzz/targets.js';
import { tempDir, tinyRun } from '../test/serve-fixture.js';
import { cpuModel } from './proc.js';
import { runSoak } from './soak.js';

export interface FaultsOptions {
  /** SIGKILL points per writer (default 20). */
  reps?: number;
  /** Kill/restart cycles of redis-server, and of a Redis Cluster master in each cluster scenario (default 5). */
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
    if (want('redis')) {
      const cycles = opts.redisCycles ?? 5;
      add(await redisRestartScenario({ bundle, user, candidates: ['i1', 'i7', 'i30', 'nope', 'i59'], cycles }));
      // a Redis Cluster master: back within the node timeout, and down past it (the cluster says CLUSTERDOWN)
      const everyItem = [...Array.from({ length: 60 }, (_, i) => `i${i}`), 'nope'];
      add(await redisRestartScenario({ bundle, user, candidates: everyItem, cycles, downMs: 1000, cluster: { nodeTimeoutMs: 5000 } }));
      add(await redisRestartScenario({ bundle, user, candidates: everyItem, cycles, downMs: 2500, cluster: { nodeTimeoutMs: 1000 } }));
    }
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

/** Fuzz cases per target: data files, HTTP routes, bundle files (`--fuzz-runs=a,b,c`). */
const FUZZ_RUNS = [3000, 20_000, 1000];

/** The fuzzers of test/fuzz with many more cases than the tests; a row per target. */
export async function runFuzz(runs = FUZZ_RUNS, seed = 1): Promise<{ rows: FuzzReport[]; fiveXX: number }> {
  const work = tempDir('bench-fuzz');
  try {
    const bundles = await fuzzBundleTargets(work);
    const rows = [await fuzzDataFiles(join(work, 'data'), runs[0], seed)];
    const { targets, close } = await fuzzRouteTargets(work, bundles);
    let fiveXX = 0;
    try {
      const r = await fuzzRoutes(targets, runs[1], seed);
      fiveXX = r.fiveXX;
      rows.push(r);
    } finally {
      await close();
    }
    mkdirSync(join(work, 'damaged'));
    rows.push(await fuzzBundles(bundles, join(work, 'damaged'), runs[2], seed));
    return { rows, fiveXX };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const option = (args: string[], k: string) => args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];

/** Figures for the final JSON line, in order; each contributor prints its own report. */
export const CONTRIBUTORS: ((args: string[]) => Promise<Figures>)[] = [
  async (args) => {
    const runs = option(args, 'fuzz-runs')?.split(',').map(Number) ?? FUZZ_RUNS;
    const r = await runFuzz(runs, Number(option(args, 'fuzz-seed') ?? 1));
    console.log('fuzz target                                              cases  result');
    for (const f of r.rows) console.log(`${f.target.padEnd(55)}  ${String(f.cases).padStart(5)}  ${f.failure ? `FAILED: ${f.failure}` : 'held'}`);
    return { fuzz_cases: r.rows.reduce((s, f) => s + f.cases, 0), fuzz_5xx: r.fiveXX, fuzz_failures: r.rows.filter((f) => f.failure).length };
  },
  async (args) => {
    const num = (k: string) => (option(args, k) === undefined ? undefined : Number(option(args, k)));
    const r = await runFaults({ reps: num('reps'), redisCycles: num('redis-cycles'), levels: num('levels'), only: option(args, 'only')?.split(','),
      log: (m) => console.error(`faults: ${m}`) });
    printFaultTable(r.rows);
    return { faults: r.faults, faults_survived: r.faults_survived };
  },
  async (args) => {
    // a soak run on its own (`npm run bench -- soak`, e.g. later on a quieter machine) may stand in: its JSON line's file
    const file = option(args, 'soak-json');
    if (file) {
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      const s = JSON.parse(lines[lines.length - 1]) as { minutes: number; soak_rss_slope_mib_per_min: number | null; soak_errors: number };
      console.log(`soak: from ${file} (${s.minutes} minutes)`);
      return { soak_minutes: s.minutes, soak_rss_slope_mib_per_min: s.soak_rss_slope_mib_per_min, soak_errors: s.soak_errors };
    }
    const minutes = Number(option(args, 'soak-minutes') ?? 30);
    if (minutes <= 0) return { soak_minutes: 0, soak_rss_slope_mib_per_min: null, soak_errors: null };
    const s = await runSoak({ minutes });
    return { soak_minutes: minutes, soak_rss_slope_mib_per_min: s.soak_rss_slope_mib_per_min, soak_errors: s.soak_errors };
  },
];

export async function benchFaults(args: string[]): Promise<void> {
  const info = engineInfo();
  console.log(`CPU: ${cpuModel()} (${info.threads} threads, ISA path ${info.isa})`);
  const figures: Figures = {};
  for (const c of CONTRIBUTORS) Object.assign(figures, await c(args));
  console.log(JSON.stringify(figures));
}
