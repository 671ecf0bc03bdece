// How deep the inner-product candidate search looks: its breadth is the request's (or bundle's) ef, whatever the
// number of items kept, so a deeper ef reaches items a shallow graph search misses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnnIndex } from '../src/serve/ann.js';
import { InnerProductSource } from '../src/serve/candidates.js';

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
