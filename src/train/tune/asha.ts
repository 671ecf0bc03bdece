// Asynchronous successive halving (ASHA; Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
// 2020) over a fixed number of random trials. Trials are compared at rungs (epochs minEpochs * eta^k); whenever a
// process is free, the scheduler promotes a trial that is among the best floor(n/eta) of the n results at a rung
// and has not been promoted from it yet, looking at the highest rung first, else starts the next new trial. A trial
// never promoted stops at its rung; nobody waits for a rung to fill. With one process the decisions depend only on
// the seed; with several they depend on which trials finish first, as in ASHA itself.
import type { EpochPoint, SearchState, TrialState } from './trial-state.js';

export interface Job {
  trial: TrialState;
  /** Rung index; the job trains the trial up to `epochs` (from wherever its run directory stands). */
  rung: number;
  epochs: number;
}

/** What a trial reports after a job. */
export interface JobResult {
  /** Epochs the trial has trained in all (less than the rung's when early stopping stopped it). */
  epochsDone: number;
  /** The early-stopping metric of the best validation epoch so far. */
  value: number;
  /** Early stopping (patience) ended the run: it cannot train further. */
  stoppedEarly: boolean;
  lowerIsBetter: boolean;
  curve: EpochPoint[];
  /** Warnings of the run (e.g. a small epoch), shown once per search. */
  warnings: string[];
  /** The trial failed (an exception in training): it takes no further part. */
  error?: string;
}

/** Best first: a better value, then a finite one before a non-finite one, then the lower id. */
export function compareTrials(lowerIsBetter: boolean, at: (t: TrialState) => number): (a: TrialState, b: TrialState) => number {
  return (a, b) => {
    const [x, y] = [at(a), at(b)];
    const [fx, fy] = [Number.isFinite(x), Number.isFinite(y)];
    if (fx !== fy) return fx ? -1 : 1;
    if (fx && x !== y) return lowerIsBetter ? x - y : y - x;
    return a.id - b.id;
  };
}

/** A trial has nothing left to train: it failed, stopped early, or trained the whole budget. */
export function finished(t: TrialState, maxEpochs: number): boolean {
  return t.error !== undefined || t.stoppedEarly || t.epochsDone >= maxEpochs;
}

/** Jobs assigned but never reported (a killed search): run again first, in trial order. */
export function unfinishedJobs(state: SearchState, rungs: number[]): Job[] {
  return state.trials
    .filter((t) => t.error === undefined && t.rungs[t.assigned] === undefined)
    .map((t) => ({ trial: t, rung: t.assigned, epochs: rungs[t.assigned] }));
}

/**
 * The next job, or null when nothing can run now (every trial drawn, no trial promotable until running ones report).
 * Marks the trial as assigned to the job's rung; `draw` makes trial `id`'s state (its sampled values).
 */
export function nextJob(state: SearchState, rungs: number[], eta: number, budget: number, draw: (id: number) => TrialState): Job | null {
  const max = rungs[rungs.length - 1];
  const lower = state.lowerIsBetter ?? false;
  for (let k = rungs.length - 2; k >= 0; k--) {
    const done = state.trials.filter((t) => t.rungs[k] !== undefined);
    const top = done.sort(compareTrials(lower, (t) => t.rungs[k]!)).slice(0, Math.floor(done.length / eta));
    const promote = top.find((t) => t.assigned === k && !finished(t, max));
    if (promote) {
      promote.assigned = k + 1;
      return { trial: promote, rung: k + 1, epochs: rungs[k + 1] };
    }
  }
  if (state.trials.length >= budget) return null;
  const trial = draw(state.trials.length);
  state.trials.push(trial);
  return { trial, rung: 0, epochs: rungs[0] };
}

/** Records a job's result in its trial. */
export function recordResult(state: SearchState, job: Job, r: JobResult): void {
  const t = job.trial;
  if (r.error !== undefined) {
    t.error = r.error;
    return;
  }
  state.lowerIsBetter ??= r.lowerIsBetter;
  t.rungs[job.rung] = r.value;
  t.epochsDone = r.epochsDone;
  t.stoppedEarly = r.stoppedEarly;
  t.curve = r.curve;
}

/** The trial with the best validation value at the highest rung it reached (its best epoch so far); null if none. */
export function bestTrial(state: SearchState): TrialState | null {
  const reported = state.trials.filter((t) => t.error === undefined && Object.keys(t.rungs).length > 0);
  if (!reported.length) return null;
  const last = (t: TrialState) => t.rungs[Math.max(...Object.keys(t.rungs).map(Number))];
  return reported.sort(compareTrials(state.lowerIsBetter ?? false, last))[0];
}

/** Upper bound on the epochs a search trains: every rung filled as far as the halving allows. */
export function epochBudget(trials: number, rungs: number[], eta: number): number {
  let total = 0, n = trials, prev = 0;
  for (const r of rungs) {
    total += n * (r - prev);
    prev = r;
    n = Math.floor(n / eta);
  }
  return total;
}
