// The tuning suite's cross-dataset verdict: default vs tuned AUC per model and the targets, on planted runs whose
// numbers are worked out by hand below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suiteSummary, type SuiteExperiment } from '../src/train/tune/suite-summary.js';

/** Runs of one label: per split seed, the test AUC of each model seed. */
const runs = (label: string, bySplit: Record<number, number[]>) =>
  Object.entries(bySplit).flatMap(([split, aucs]) => aucs.map((auc) => ({ label, splitSeed: Number(split), test: { auc } })));

test('the suite summary: defaults against tuned, and the targets per dataset, from planted runs', () => {
  const planted: SuiteExperiment = {
    name: 'planted', splitSeeds: [1, 2], runs: [
      ...runs('dssm', { 1: [0.81, 0.81], 2: [0.85, 0.85] }),
      ...runs('dssm-tuned', { 1: [0.80, 0.82], 2: [0.84, 0.86] }),
      ...runs('int-tower', { 1: [0.80, 0.80], 2: [0.80, 0.80] }),
      ...runs('int-tower-tuned', { 1: [0.83, 0.83], 2: [0.86, 0.87] }),
      ...runs('lr-tuned', { 1: [0.9, 0.9], 2: [0.9, 0.9] }),
    ],
  };
  const lines = suiteSummary([planted], ['dssm', 'int-tower', 'lr', 'dcn']);
  const row = (start: string) => lines.find((l) => l.startsWith(start));
  // dssm: both means 0.83, sds: default sqrt(4 * 0.02^2 / 3) = 0.0231, tuned sqrt((0.03^2 + 0.01^2) * 2 / 3) = 0.0258
  assert.equal(row('| planted | dssm |'), '| planted | dssm | 0.8300 ± 0.0231 (4) | 0.8300 ± 0.0258 (4) | 0.0000 | yes |');
  // int-tower: 0.80 against (0.83 + 0.83 + 0.86 + 0.87) / 4 = 0.8475
  assert.match(row('| planted | int-tower |')!, /\| 0\.8000 ± 0\.0000 \(4\) \| 0\.8475 ± 0\.0206 \(4\) \| −0\.0475 \| \*\*no\*\* \|$/);
  assert.equal(row('| planted | lr |'), '| planted | lr | – | 0.9000 ± 0.0000 (4) | – | – |');
  // IntTower − DSSM tuned per split: 0.83 − 0.81 = 0.02, 0.865 − 0.85 = 0.015: mean 0.0175, sd 0.005 / sqrt(2)
  // against LR: −0.07, −0.035; no tuned DCN; defaults: 0.80 − 0.81, 0.80 − 0.85
  assert.equal(lines.at(-1), '| planted | +0.0175 (sd 0.0035) met | −0.0525 (sd 0.0247) **not met** | – | −0.0300 (sd 0.0283) |');
});

test('the lead target is missed below +0.01, and a split without both sides gives no verdict', () => {
  const exp: SuiteExperiment = {
    name: 'close', splitSeeds: [1, 2], runs: [
      ...runs('dssm-tuned', { 1: [0.80], 2: [0.80] }),
      ...runs('int-tower-tuned', { 1: [0.809], 2: [0.809] }),
      ...runs('dcn-tuned', { 1: [0.80] }),
    ],
  };
  const last = suiteSummary([exp], ['dssm']).at(-1)!;
  assert.match(last, /^\| close \| \+0\.0090 \(sd 0\.0000\) \*\*not met\*\* \| – \| – \| – \|$/);
});
