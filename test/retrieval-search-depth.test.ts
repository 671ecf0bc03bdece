// How deep the candidate searches look: the inner-product search's breadth is the request's (or bundle's) ef, whatever
// the number of items kept, so a deeper ef reaches items a shallow graph search misses; the multi-vector summed query
// is one per group of query vectors (IntTower: per layer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MultiVectorLayout } from '../src/export/manifest.js';
import { multiVectorDefaults } from '../src/export/retrieval-index.js';
import type { AnnIndex } from '../src/serve/ann.js';
import { queryVectors } from '../src/export/retrieval-index.js';
import { groupSums, MultiVectorSource, type HeadSearch } from '../src/export/multi-vector-source.js';
import { InnerProductSource } from '../src/serve/candidates.js';

const DEFAULTS = { perHead: 0, sumDepth: 0, ef: 1, maxCandidates: 10 };

/** An index of `size` rows whose search answers rows in descending order and records the k it was asked for. */
function recording(size: number): AnnIndex & { asked: number[] } {
  const asked: number[] = [];
  return {
    kind: 'usearch', size, asked, close: () => {},
    search: (_q, k) => { asked.push(k); return Int32Array.from({ length: Math.min(k, size) }, (_, i) => size - 1 - i); },
  };
}

test('the inner-product search fetches ef items and keeps the best max(k, perHead)', () => {
  const index = recording(1000);
  const source = new InnerProductSource(index, { perHead: 0, ef: 512, maxCandidates: 4096 });
  const rows = source.candidates(new Float32Array(2), 10, { perHead: 0, ef: 300, maxCandidates: 4096 });
  assert.deepEqual(index.asked, [300]);
  assert.deepEqual([...rows], Array.from({ length: 10 }, (_, i) => 990 + i), 'the 10 best hits, ascending');
  source.candidates(new Float32Array(2), 10, { perHead: 50, ef: 20, maxCandidates: 4096 });
  assert.equal(index.asked[1], 50, 'a depth above ef is fetched as it is');
  source.candidates(new Float32Array(2), 10, { perHead: 0, ef: 5000, maxCandidates: 4096 });
  assert.equal(index.asked[2], 1000, 'never more than the index holds');
});

test('the summed query is one per group of consecutive query vectors', () => {
  const q = Float32Array.of(1, 2, 3, 4, 5, 6); // 3 query vectors of 2
  assert.deepEqual([...groupSums(q, 2, 1)], [9, 12]);
  assert.deepEqual([...groupSums(q, 2, 2)], [1, 2, 8, 10]);
  assert.deepEqual([...groupSums(q, 2, 3)], [...q]);
});

test('each group\'s summed query adds the items it finds, and IntTower bundles sum per layer', () => {
  const layout: MultiVectorLayout = { heads: 2, size: 2, offset: 0, queries: 2, userOffset: 0, normalize: false, fidelity: 'exact' };
  // one summed query finds key 4 (row 2); two (one per query vector) find key 4 and key 6 (row 3)
  const search: HeadSearch = (v) => (v.length === 2
    ? { keys: [4], sims: [1], stride: 1, counts: [1] }
    : { keys: [4, 6], sims: [0.5, 0.4], stride: 1, counts: [1, 1] });
  const source = new MultiVectorSource('brute-force', layout, DEFAULTS, 8, search, (rep) => queryVectors(rep, layout));
  const rep = Float32Array.of(1, 0, 0, 1);
  assert.deepEqual([...source.candidates(rep, 1, { ...DEFAULTS, perHead: 0, sumDepth: 1 })], [2]);
  assert.deepEqual([...source.candidates(rep, 1, { ...DEFAULTS, perHead: 0, sumDepth: 1, sumGroups: 2 })], [2, 3]);
  assert.equal(multiVectorDefaults({ ...layout, heads: 8, size: 64, queries: 24 }).sumGroups, 3, 'IntTower: 3 layers of 8 heads');
  assert.equal(multiVectorDefaults({ ...layout, heads: 3, size: 64, queries: 4 }).sumGroups, 1);
});
