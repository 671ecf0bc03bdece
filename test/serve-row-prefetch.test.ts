// How far ahead the dot and max-sim kernels prefetch candidate rows (setRowPrefetch) changes no score, a distance
// out of range is refused by name, and the built kernels really issue prefetch instructions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nativeAddon } from '../src/core/kernels/native.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import { setRowPrefetch } from '../src/serve/native.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

let root: string;
const runs: Record<string, TinyRun> = {};
const bundles: Record<string, Bundle> = {};

before(async () => {
  root = tempDir('prefetch');
  for (const kind of ['dssm', 'int-tower'] as const) {
    runs[kind] = await tinyRun(root, kind);
    await exportBundle(runs[kind].runDir, join(root, kind), { annIndex: false });
    bundles[kind] = await Bundle.load(join(root, kind));
  }
});
after(() => {
  setRowPrefetch(4);
  for (const b of Object.values(bundles)) b.dispose();
  rmSync(root, { recursive: true, force: true });
});

for (const kind of ['dssm', 'int-tower']) {
  test(`any row prefetch distance gives the same scores: ${kind}`, { skip: !nativeAddon() }, async () => {
    const bundle = bundles[kind], run = runs[kind];
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
}

// A compiler may drop a prefetch loop as dead code (GCC 12 did, without a warning): then every distance is the
// same code and the setting does nothing. Each x86 ISA build of the serving kernels must hold prefetch instructions.
const objects = join(process.cwd(), 'build', 'Release', 'obj.target', 'prerank_native', 'native');
const objdump = spawnSync('objdump', ['--version']).status === 0;
test('the built x86 serving kernels issue prefetch instructions', {
  skip: process.arch !== 'x64' ? 'not an x86-64 build' : !objdump ? 'no objdump' : !existsSync(objects) ? 'no native build objects' : undefined,
}, () => {
  for (const isa of ['serve_portable', 'serve_avx2', 'serve_avx512', 'serve_avx512bf16']) {
    const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', join(objects, `${isa}.o`)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    const n = r.stdout.split('\n').filter((l) => /\sprefetcht0\s/.test(l)).length;
    assert.ok(n > 0, `${isa}.o has no prefetcht0 instruction`);
  }
});

test('a row prefetch distance out of 0..256 is refused', { skip: !nativeAddon() }, () => {
  assert.throws(() => setRowPrefetch(257), /setRowPrefetch: rows must be at most 256, got 257/);
  assert.throws(() => setRowPrefetch(-1), /setRowPrefetch: argument rows must be an integer >= 0/);
});
