// How far ahead the dot kernel prefetches candidate rows (setRowPrefetch) changes no score, and a distance out of
// range is refused by name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { nativeAddon } from '../src/core/kernels/native.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import { setRowPrefetch } from '../src/serve/native.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
let run: TinyRun;
let bundle: Bundle;

before(async () => {
  root = tempDir('prefetch');
  run = await tinyRun(root, 'dssm');
  await exportBundle(run.runDir, join(root, 'b'), { annIndex: false });
  bundle = await Bundle.load(join(root, 'b'));
});
after(() => {
  setRowPrefetch(4);
  bundle.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('any row prefetch distance gives the same scores', { skip: !nativeAddon() }, async () => {
  const scorer = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
  // every item, repeated and shuffled, so the kernel reads rows in a random order and past its prefetch distance
  const keys = run.data.itemKeys;
  const candidates = Array.from({ length: 700 }, (_, i) => keys[(i * 37) % keys.length]);
  const scores: number[][] = [];
  for (const rows of [0, 1, 4, 16, 256]) {
    setRowPrefetch(rows);
    scores.push((await scorer.scoreAll({ user: run.users.get('u7')!, candidates })).items.map((x) => x.score));
  }
  assert.equal(scores[0].length, candidates.length);
  for (const s of scores.slice(1)) assert.deepEqual(s, scores[0]);
});

test('a row prefetch distance out of 0..256 is refused', { skip: !nativeAddon() }, () => {
  assert.throws(() => setRowPrefetch(257), /setRowPrefetch: rows must be at most 256, got 257/);
  assert.throws(() => setRowPrefetch(-1), /setRowPrefetch: argument rows must be an integer >= 0/);
});
