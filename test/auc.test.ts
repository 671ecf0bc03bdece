import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc } from '../src/eval/auc.js';
import { Rng } from '../src/core/index.js';

/** Independent O(n^2) definition: P(score_pos > score_neg) + 0.5 P(tie). */
function pairwiseAuc(s: number[], y: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) {
    if (y[i] === 1 && y[j] === 0) {
      den++;
      num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return num / den;
}

test('AUC equals the pairwise definition, with ties', () => {
  const rng = new Rng(4);
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + rng.int(200);
    const s = Array.from({ length: n }, () => Math.round(rng.normal() * 3) / 3);
    const y = Array.from({ length: n }, (_, i) => (rng.uniform() < 0.3 + 0.1 * Math.tanh(s[i]) ? 1 : 0));
    if (!y.includes(1) || !y.includes(0)) continue;
    assert.ok(Math.abs(auc(s, y) - pairwiseAuc(s, y)) < 1e-12);
  }
  assert.equal(auc([0.1, 0.9], [0, 1]), 1);
  assert.equal(auc([0.5, 0.5], [0, 1]), 0.5);
  assert.ok(Number.isNaN(auc([1, 2], [1, 1])));
});
