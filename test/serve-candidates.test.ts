// The multi-vector candidate generator on hand-made search answers: index keys map to rows (key = row * H + head),
// the cap keeps the items with the best upper bound, and the summed query's items fill at most half of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MultiVectorLayout } from '../src/export/manifest.js';
import type { AnnIndex } from '../src/serve/ann.js';
import { queryVectors } from '../src/export/retrieval-index.js';
import { MultiVectorSource, type HeadSearch } from '../src/export/multi-vector-source.js';
import { InnerProductSource } from '../src/serve/candidates.js';

const LAYOUT: MultiVectorLayout = { heads: 2, size: 2, offset: 0, queries: 2, userOffset: 0, normalize: false, fidelity: 'exact' };
const DEFAULTS = { perHead: 2, sumDepth: 0, ef: 2, maxCandidates: 10 };

/** Two query vectors: query 0 finds key 0 (row 0, .9) and key 5 (row 2, .8); query 1 key 3 (row 1, .7) and key 1 (row 0, .6). The summed query finds key 4 (row 2). */
const search: HeadSearch = (q) => (q.length === 4
  ? { keys: [0, 5, 3, 1], sims: [0.9, 0.8, 0.7, 0.6], stride: 2, counts: [2, 2] }
  : { keys: [4], sims: [1.2], stride: 1, counts: [1] });
const source = new MultiVectorSource('brute-force', LAYOUT, DEFAULTS, 6, search, (rep) => queryVectors(rep, LAYOUT));
const rep = new Float32Array([1, 0, 0, 1]);

test('multi-vector candidates: every item a query vector found, as rows, ascending', () => {
  assert.deepEqual([...source.candidates(rep, 1, DEFAULTS)], [0, 1, 2]);
});

test('multi-vector candidates: the cap keeps the best upper bounds (a miss counts as the query\'s last similarity)', () => {
  // margins over each query's last hit: row 0 .1 + 0, row 1 .1, row 2 0; the sums of similarities would keep rows 0 and 2
  assert.deepEqual([...source.candidates(rep, 1, { ...DEFAULTS, maxCandidates: 2 })], [0, 1]);
});

test('multi-vector candidates: the summed query\'s items take half of the cap, the query vectors\' the other half', () => {
  assert.deepEqual([...source.candidates(rep, 1, { ...DEFAULTS, sumDepth: 1, maxCandidates: 2 })], [0, 2]);
  assert.deepEqual([...source.candidates(rep, 1, { ...DEFAULTS, perHead: 0, sumDepth: 1 })], [2]);
  // 8 rows: the summed query finds rows 5, 6, 7 (none of the query vectors' items), more than half of a cap of 4
  const wide: HeadSearch = (q) => (q.length === 4 ? search(q, 2) : { keys: [10, 12, 14], sims: [1.5, 1.4, 1.3], stride: 3, counts: [3] });
  const eight = new MultiVectorSource('brute-force', LAYOUT, DEFAULTS, 16, wide, (rep) => queryVectors(rep, LAYOUT));
  assert.deepEqual([...eight.candidates(rep, 1, { ...DEFAULTS, sumDepth: 3, maxCandidates: 4 })], [0, 1, 5, 6]);
  // the query vectors found one item (row 0): the summed query's fill what it leaves
  const one: HeadSearch = (q) => (q.length === 4 ? { keys: [0, 1], sims: [0.9, 0.6], stride: 1, counts: [1, 1] } : wide(q, 3));
  const few = new MultiVectorSource('brute-force', LAYOUT, DEFAULTS, 16, one, (rep) => queryVectors(rep, LAYOUT));
  assert.deepEqual([...few.candidates(rep, 1, { ...DEFAULTS, perHead: 1, sumDepth: 3, maxCandidates: 3 })], [0, 5, 6]);
});

test('a depth that covers the index takes every row, whatever the graph search would miss', () => {
  // 4 rows of 2 heads = 8 vectors; the search above never returns row 3
  const wide = new MultiVectorSource('brute-force', LAYOUT, DEFAULTS, 8, search, (rep) => queryVectors(rep, LAYOUT));
  assert.deepEqual([...wide.candidates(rep, 1, { ...DEFAULTS, perHead: 8 })], [0, 1, 2, 3]);
  assert.deepEqual([...wide.candidates(rep, 1, { ...DEFAULTS, perHead: 7 })], [0, 1, 2], 'below full depth: the hits');
  assert.deepEqual([...wide.candidates(rep, 1, { ...DEFAULTS, perHead: 8, maxCandidates: 3 })].length, 3, 'the cap still holds');
  const missing: AnnIndex = { kind: 'usearch', size: 5, search: () => Int32Array.of(4, 1), close: () => {} };
  const ip = new InnerProductSource(missing, DEFAULTS);
  assert.deepEqual([...ip.candidates(rep, 5, DEFAULTS)], [0, 1, 2, 3, 4]);
  assert.deepEqual([...ip.candidates(rep, 2, { ...DEFAULTS, perHead: 2 })], [1, 4], 'below full depth: the index hits');
});
