// A search's state on disk (outDir/tune.json): every trial's sampled values, the rung it was assigned, its result at
// each rung reached and its validation curve. Rewritten atomically after every assignment and every result, so a
// killed search resumes from the last complete state: finished rungs are kept, a job that was running is run again
// from its trial's last checkpoint. Every event is also appended to outDir/trials.jsonl.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-dir.js';
import type { TuneConfig } from './config.js';

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  /** The early-stopping metric of this epoch. */
  value: number;
}

export interface TrialState {
  id: number;
  /** The sampled values by dotted path; {} for the baseline trial. */
  values: Record<string, unknown>;
  /** The base config as it is (trial 0 of a search with baseline on): no searched key changed. */
  baseline?: true;
  /** The highest rung this trial was given to train to. */
  assigned: number;
  /** rungs[k]: the best validation value up to rung k's epochs (absent: not reached). */
  rungs: Record<number, number>;
  epochsDone: number;
  stoppedEarly: boolean;
  curve: EpochPoint[];
  error?: string;
}

export interface SearchState {
  /** The search config as written (outDir and parallel aside): a resumed search must be the same search. */
  search: unknown;
  metric: string;
  /** Known once a trial has reported (the objective's own answer for the metric). */
  lowerIsBetter?: boolean;
  trials: TrialState[];
  /** The best trial's test metrics: read once, at the end. */
  final?: { trial: number; test: Record<string, number> };
}

const statePath = (outDir: string) => join(outDir, 'tune.json');

/**
 * The parts of a search config that define the search (the baseline setting only when on). The folder and the process count may change on resume, and
 * so may the trial count: trial i's values depend only on (seed, i), so a resumed search with more trials widens it.
 */
export function searchIdentity(cfg: TuneConfig): unknown {
  const { outDir: _o, parallel: _p, trials: _t, ...rest } = cfg;
  // a search without the baseline is recorded as searches were before the setting existed, so those resume
  if (!rest.baseline) delete (rest as Partial<typeof rest>).baseline;
  return rest;
}

/** JSON has no NaN or Infinity: they are written as strings and read back as numbers. */
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);
const reviveNumbers = (_k: string, v: unknown) => (typeof v === 'string' && NON_FINITE.has(v) ? Number(v) : v);

/**
 * The state recorded in outDir, or null when there is none. A state written by another search is an error naming
 * where they differ, so a changed space never mixes with old trials.
 */
export function readState(outDir: string, cfg: TuneConfig): SearchState | null {
  const path = statePath(outDir);
  if (!existsSync(path)) return null;
  let state: SearchState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8'), reviveNumbers);
  } catch (e) {
    throw new Error(`cannot read the search state ${path}: ${(e as Error).message}`);
  }
  const [a, b] = [JSON.stringify(state.search), JSON.stringify(searchIdentity(cfg))];
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    throw new Error(`${path} was written by a different search (they differ at ...${b.slice(Math.max(0, i - 40), i + 40)}...); remove it or use another outDir`);
  }
  return state;
}

export function writeState(outDir: string, state: SearchState): void {
  writeFileAtomic(statePath(outDir), JSON.stringify(state, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1));
}
