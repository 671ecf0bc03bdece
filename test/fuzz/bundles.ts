// Fuzzing bundle files: a copy of a real bundle with one file damaged (bytes changed, inserted, removed, the file
// cut short, emptied or deleted) is loaded as serving loads it. The rule: the load fails with a BundleError that
// names the damaged file (or manifest.json, whose hashes cover every file), or — when the damage left the bytes as
// they were — the bundle serves exactly the scores of the original. Never another error or a crash.
import { cpSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { BundleError } from '../../src/export/bundle.js';
import { Deployment } from '../../src/serve/service.js';
import type { FuzzReport } from './data-files.js';

export interface BundleTarget {
  dir: string;
  user: Record<string, string>;
  items: string[];
}

type Damage = { kind: 'flip'; at: number; byte: number } | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number } | { kind: 'truncate'; at: number } | { kind: 'empty' } | { kind: 'remove' };

const at = fc.double({ min: 0, max: 1, noNaN: true });
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, byte: fc.nat(255) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'empty' as const }, { kind: 'remove' as const }) },
);

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

function apply(path: string, d: Damage): boolean {
  if (d.kind === 'remove') {
    unlinkSync(path);
    return true;
  }
  const before = readFileSync(path);
  let b: Buffer = before;
  const i = 'at' in d ? Math.min(Math.max(0, b.length - 1), Math.floor(d.at * b.length)) : 0;
  if (d.kind === 'flip') {
    b = Buffer.from(b);
    b[i] = d.byte;
  } else if (d.kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(d.bytes), b.subarray(i)]);
  else if (d.kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + d.count)]);
  else if (d.kind === 'truncate') b = b.subarray(0, i);
  else b = Buffer.alloc(0);
  writeFileSync(path, b);
  return !b.equals(before);
}

async function scores(dir: string, user: Record<string, string>, items: string[]): Promise<string> {
  const d = await Deployment.open(dir, { ann: 'brute-force' });
  try {
    const r = await d.scorer.prerank({ user, candidates: items, n: items.length });
    return JSON.stringify(r);
  } finally {
    d.retire();
  }
}

/** Runs `runs` random damages over the targets' files; `work` is a scratch directory. */
export async function fuzzBundles(targets: BundleTarget[], work: string, runs: number, seed = 1): Promise<FuzzReport> {
  const pristine = await Promise.all(targets.map((t) => scores(t.dir, t.user, t.items)));
  const files = targets.map((t) => filesOf(t.dir));
  let n = 0;
  const result = await fc.check(fc.asyncProperty(fc.nat(targets.length - 1), fc.nat(1000), damage, async (ti, fi, d) => {
    const t = targets[ti];
    const copy = join(work, `bundle-${n++}`);
    cpSync(t.dir, copy, { recursive: true });
    try {
      const rel = files[ti][fi % files[ti].length];
      const changed = apply(join(copy, rel), d);
      let got: string;
      try {
        got = await scores(copy, t.user, t.items);
      } catch (err) {
        if (!(err instanceof BundleError)) throw new Error(`${rel} ${d.kind}: not a BundleError: ${(err as Error)?.stack ?? String(err)}`);
        if (!changed) throw new Error(`${rel} unchanged, yet refused: ${err.message}`);
        const named = err.message.includes(rel) || err.message.includes('manifest.json');
        if (!named || !err.message.includes(copy)) throw new Error(`${rel} ${d.kind}: the BundleError names neither the file nor the bundle: ${err.message}`);
        return;
      }
      if (got !== pristine[ti]) throw new Error(`${rel} ${d.kind}: loaded and scored differently instead of being refused`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }), { numRuns: runs, seed });
  return { target: `bundle files (${targets.length} bundles, ${files.flat().length} files)`, cases: result.numRuns,
    failure: result.failed ? `${fc.stringify(result.counterexample)}: ${String(result.errorInstance)}` : undefined };
}
