// The search loop of `prerank tune`: keeps up to `parallel` jobs running (each a trial trained to a rung, by a
// TrialRunner: worker processes for real runs, a function in tests), records every result in the state on disk,
// and when nothing is left to run, reads the test split once, for the best trial by validation.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { TrainConfig } from '../config.js';
import { RunLog } from '../run-log.js';
import { bestTrial, epochBudget, nextJob, recordResult, unfinishedJobs, type Job, type JobResult } from './asha.js';
import { rungEpochs, trialConfig, type TuneConfig } from './config.js';
import { sampleTrial } from './space.js';
import { readState, searchIdentity, writeState, type SearchState, type TrialState } from './trial-state.js';

/** Trains trials and reads their test metrics; `train` rejects only when the search itself cannot go on. */
export interface TrialRunner {
  /** Trains the trial's run (cfg.outDir, resumed from its last checkpoint) until `epochs` epochs are done. */
  train(cfg: TrainConfig, epochs: number): Promise<JobResult>;
  /** Test metrics of the run's best checkpoint. */
  test(cfg: TrainConfig): Promise<Record<string, number>>;
}

export interface SearchOptions {
  /** Continue the search recorded in outDir (else an existing one is an error). */
  resume?: boolean;
  log?: (line: string) => void;
}

export interface SearchOutcome {
  state: SearchState;
  rungs: number[];
  best: TrialState;
  bestConfig: TrainConfig;
  test: Record<string, number>;
}

export const trialDir = (outDir: string, id: number) => join(outDir, 'trials', `trial-${String(id).padStart(3, '0')}`);

function startState(cfg: TuneConfig, opts: SearchOptions): SearchState {
  const recorded = readState(cfg.outDir, cfg);
  if (recorded && !opts.resume) throw new Error(`${cfg.outDir}/tune.json holds a search already: continue it with --resume, or remove it`);
  const metric = trialConfig(cfg, {}, cfg.outDir).earlyStopping.metric;
  return recorded ?? { search: searchIdentity(cfg), metric, trials: [] };
}

/** Runs (or continues) the search to the end; returns the best trial by validation and its test metrics. */
export async function runSearch(cfg: TuneConfig, runner: TrialRunner, opts: SearchOptions = {}): Promise<SearchOutcome> {
  const log = opts.log ?? (() => {});
  mkdirSync(cfg.outDir, { recursive: true });
  const state = startState(cfg, opts);
  const events = new RunLog(join(cfg.outDir, 'trials.jsonl'));
  const max = trialConfig(cfg, {}, cfg.outDir).epochs;
  const rungs = rungEpochs(cfg.asha.minEpochs, cfg.asha.eta, max);
  const configOf = (t: TrialState) => trialConfig(cfg, t.values, trialDir(cfg.outDir, t.id));
  // trial i's values depend only on (seed, i) with or without the baseline, which takes trial 0's place
  const draw = (id: number): TrialState => ({
    id, ...(id === 0 && cfg.baseline ? { values: {}, baseline: true as const } : { values: sampleTrial(cfg.space, cfg.seed, id) }),
    assigned: 0, rungs: {}, epochsDone: 0, stoppedEarly: false, curve: [],
  });
  log(`${cfg.name}: ${cfg.trials} trials${cfg.baseline ? ' (trial 0: the base config)' : ''}, rungs at epochs ${rungs.join(', ')} (eta ${cfg.asha.eta}), ${cfg.parallel} at once; ` +
    `at most ${epochBudget(cfg.trials, rungs, cfg.asha.eta)} trial-epochs; validation ${state.metric}` +
    (state.trials.length ? `; resuming with ${state.trials.length} trials recorded` : ''));
  const queue: Job[] = unfinishedJobs(state, rungs);
  const warned = new Set<string>();
  const running = new Set<Promise<void>>();
  let failure: Error | null = null;
  const launch = (job: Job): void => {
    writeState(cfg.outDir, state);
    events.write({ event: 'start', trial: job.trial.id, rung: job.rung, epochs: job.epochs, values: job.trial.values });
    let trialCfg: TrainConfig;
    try {
      trialCfg = configOf(job.trial);
    } catch (e) {
      // each value was checked alone; a combination the train config rejects fails this trial only
      recordResult(state, job, { epochsDone: 0, value: NaN, stoppedEarly: false, lowerIsBetter: false, curve: [], warnings: [], error: (e as Error).message });
      writeState(cfg.outDir, state);
      events.write({ event: 'failed', trial: job.trial.id, rung: job.rung, error: job.trial.error });
      log(`  trial ${job.trial.id}: ${job.trial.error}`);
      return;
    }
    const p = runner.train(trialCfg, job.epochs).then((r) => {
      recordResult(state, job, r);
      writeState(cfg.outDir, state);
      events.write({ event: r.error === undefined ? 'result' : 'failed', trial: job.trial.id, rung: job.rung, ...r, curve: undefined });
      for (const w of r.warnings.filter((w) => !warned.has(w))) {
        warned.add(w);
        log(`warning: ${w}`);
      }
      log(`  trial ${job.trial.id} rung ${job.rung} (${r.epochsDone} epochs): ${r.error ?? `val ${state.metric} ${r.value.toFixed(5)}${r.stoppedEarly ? ', stopped early' : ''}`}`);
    }, (e: Error) => {
      failure ??= e;
    }).finally(() => running.delete(p));
    running.add(p);
  };
  for (;;) {
    while (!failure && running.size < cfg.parallel) {
      const job = queue.shift() ?? nextJob(state, rungs, cfg.asha.eta, cfg.trials, draw);
      if (!job) break;
      launch(job);
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (failure) throw failure;
  const best = bestTrial(state);
  if (!best) throw new Error(`${cfg.name}: every trial failed (first error: ${state.trials.find((t) => t.error)?.error ?? 'none recorded'})`);
  const bestConfig = configOf(best);
  if (state.final?.trial !== best.id) {
    state.final = { trial: best.id, test: await runner.test(bestConfig) };
    writeState(cfg.outDir, state);
    events.write({ event: 'test', trial: best.id, test: state.final.test });
  }
  return { state, rungs, best, bestConfig, test: state.final.test };
}
