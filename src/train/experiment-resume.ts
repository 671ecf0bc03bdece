// Resuming an interrupted experiment (`prerank experiment --resume`): the runs already recorded in the outDir's
// results.json are kept and not trained again, provided that file was written by the same experiment (its config,
// paths and title aside, equal to this one, except that entries may have been added to its list of models or
// rows); anything else stops with the difference named, so a changed config never mixes with old numbers. A run
// recorded with a model config that the model's defaults now resolve differently (a default changed since) is
// trained again.
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

const PATH_KEYS = new Set(['outDir', 'config', 'logs']);

/** The experiment config as its results.json records it: its paths (outDir, a data config, logs) relative to the
 * working directory (the repository's root for committed results), so the file names no machine's folders. */
export function recordedConfig<T>(exp: T): T {
  return JSON.parse(JSON.stringify(exp, (k, v) => (PATH_KEYS.has(k) && typeof v === 'string' && isAbsolute(v) ? relative(process.cwd(), v) : v)));
}

/** The experiment config without its paths (a clone moved to another directory resumes too): the data config by its file name. */
function comparable(exp: unknown): string {
  return JSON.stringify(exp, (k, v) => (k === 'outDir' || k === 'logs' ? undefined
    : k === 'config' && typeof v === 'string' ? basename(v)
      : typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

/** The keys of an experiment's list of entries (a model experiment's models, a cascade experiment's rows). */
const ENTRY_KEYS = new Set(['models', 'rows']);

/** The experiment config without its title and its entries (those are compared one by one). */
function settingsOf(exp: unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries((exp ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'name' && !ENTRY_KEYS.has(k)));
}

type Entry = { label?: string; kind?: string };
/** The experiment's entries by label (an entry without one: its model kind). */
function entriesOf(exp: unknown): Map<string, Entry> {
  const o = (exp ?? {}) as Record<string, unknown>;
  const list = [...ENTRY_KEYS].map((k) => o[k]).find(Array.isArray) as Entry[] | undefined;
  return new Map((list ?? []).map((e) => [e.label ?? e.kind ?? '', e]));
}

/** Why `now` cannot resume what `stored` recorded (null: it can; entries may have been added). */
function resumeConflict(stored: unknown, now: unknown): string | null {
  const [a, b] = [comparable(settingsOf(stored)), comparable(settingsOf(now))];
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    return `was written by a different experiment config (they differ at ...${b.slice(Math.max(0, i - 40), i + 40)}...)`;
  }
  const later = entriesOf(now);
  for (const [label, e] of entriesOf(stored)) {
    const n = later.get(label);
    if (!n) return `records entry '${label}', which this config no longer has`;
    if (comparable(e) !== comparable(n)) return `records entry '${label}' with another config (${comparable(e)}; now ${comparable(n)})`;
  }
  return null;
}

/** The recorded runs of this experiment in outDir/results.json ([] when there is none). */
export function recordedRuns<R extends { label: string; seed: number }>(outDir: string, exp: unknown): R[] {
  const path = join(outDir, 'results.json');
  if (!existsSync(path)) return [];
  let stored: { experiment?: unknown; runs?: R[] };
  try {
    stored = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`--resume: cannot read ${path}: ${(e as Error).message}`);
  }
  const conflict = resumeConflict(stored.experiment, exp);
  if (conflict) throw new Error(`--resume: ${path} ${conflict}; remove it or run without --resume`);
  return stored.runs ?? [];
}

/** The recorded run of (label, seed, split seed), if any; no split seed: the data config's own split. */
export function findRun<R extends { label: string; seed: number; splitSeed?: number }>(runs: R[], label: string, seed: number, splitSeed?: number): R | undefined {
  return runs.find((r) => r.label === label && r.seed === seed && r.splitSeed === splitSeed);
}

/** The top-level keys on which two resolved model configs differ, as `key: old -> new` (JSON values), comma-separated. */
export function configChanges(before: unknown, after: unknown): string {
  const a = (before ?? {}) as Record<string, unknown>;
  const b = (after ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !isDeepStrictEqual(a[k], b[k]))
    .map((k) => `${k}: ${JSON.stringify(a[k]) ?? 'absent'} -> ${JSON.stringify(b[k]) ?? 'absent'}`).join(', ');
}
