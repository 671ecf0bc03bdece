// Item tables mapped read-only from the bundle's files: scores equal to the heap table for every dtype and both score
// kinds (dot, max-sim), opening cost independent of the table size, deferred and background sha256 checks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle, exportBundle, idsOf } from '../src/export/index.js';
import { ITEM_DTYPES, tableFromBytes } from '../src/export/item-table.js';
import { openItemTable } from '../src/export/item-file.js';
import { FILES, type BundleManifest } from '../src/export/manifest.js';
import { sha256Async } from '../src/export/manifest.js';
import { canMap, mapFile } from '../src/export/mapped-file.js';
import { Service } from '../src/serve/service.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';

const skip = canMap() ? false : 'native addon not loaded: nothing is mapped';
let root: string;
let dssm: TinyRun;
let intTower: TinyRun;

before(async () => {
  root = tempDir('mmap');
  dssm = await tinyRun(root, 'dssm');
  intTower = await tinyRun(root, 'int-tower');
});
after(() => rmSync(root, { recursive: true, force: true }));

test('a mapped item table scores exactly what the heap table scores: every dtype, dot and max-sim plans', { skip }, async () => {
  for (const run of [dssm, intTower]) {
    for (const dtype of ITEM_DTYPES) {
      const dir = join(root, `b-${run.model.kind}-${dtype}`);
      await exportBundle(run.runDir, dir, { itemDtype: dtype, annIndex: false });
      const mapped = await Bundle.load(dir, { map: true });
      const heap = await Bundle.load(dir, { map: false });
      assert.equal(mapped.items!.mapped, true);
      assert.equal(heap.items!.mapped, undefined);
      assert.deepEqual(Array.from(mapped.items!.data), Array.from(heap.items!.data), `${dtype}: the same values`);
      const user = { ...run.users.get('u7')!, device: 'web' };
      const candidates = [...run.data.itemKeys].reverse();
      const score = async (b: Bundle) => {
        const scorer = createScorer(b, { store: new MemoryItemStore(b.items!) });
        assert.equal(scorer.path, 'native-plan', 'the compiled plan reads the table');
        return (await scorer.scoreAll({ user, candidates })).items;
      };
      assert.deepEqual(await score(mapped), await score(heap), `${run.model.kind} ${dtype}`);
    }
  }
});

/** A manifest and item files for n random float32 rows of width dim (what openItemTable reads). */
function fakeItems(dir: string, n: number, dim: number): { m: BundleManifest; ids: string[] } {
  mkdirSync(join(dir, 'items'), { recursive: true });
  const reps = Buffer.alloc(n * dim * 4);
  for (let i = 0; i < reps.length; i += 4096) reps[i] = i & 255;
  writeFileSync(join(dir, FILES.itemReps), reps);
  const m = { items: { cached: true, count: n, dim, userDim: dim, dtype: 'float32' }, files: { [FILES.itemReps]: 'x' } } as unknown as BundleManifest;
  return { m, ids: Array.from({ length: n }, (_, i) => String(i)) };
}

test('opening a mapped table costs the same at any size (a 64 MiB table opens as fast as a 64 KiB one)', { skip }, async () => {
  const fail = (msg: string) => new Error(msg);
  const read = async () => Buffer.alloc(0);
  const open = async (n: number): Promise<number> => {
    const dir = tempDir(`mmap-size-${n}`);
    try {
      const { m, ids } = fakeItems(dir, n, 64);
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const { table } = await openItemTable(dir, m, idsOf(ids), { map: true, verify: 'defer', read, fail });
        best = Math.min(best, performance.now() - t0);
        assert.equal(table.data.length, n * 64);
      }
      return best;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const small = await open(256);
  const large = await open(256 * 1024);
  // loose: reading 64 MiB into the heap takes tens of ms; a mapping is well under one
  assert.ok(large < 5 + 4 * small, `64 MiB: ${large.toFixed(2)} ms, 64 KiB: ${small.toFixed(2)} ms`);
});

test('a deferred check finds a changed mapped table; a truncated one is refused at load even when the check is deferred', { skip }, async () => {
  const src = join(root, 'b-dssm-float32');
  const d = join(root, 't-changed');
  cpSync(src, d, { recursive: true });
  const reps = readFileSync(join(d, FILES.itemReps));
  reps[40] ^= 0xff;
  writeFileSync(join(d, FILES.itemReps), reps);
  await assert.rejects(Bundle.load(d), /items\/reps\.bin does not match the manifest/);
  const b = await Bundle.load(d, { verify: 'defer' });
  assert.equal(b.verifyPending, true);
  await assert.rejects(b.verifyDeferred(), /items\/reps\.bin does not match the manifest/);
  const good = await Bundle.load(src, { verify: 'defer' });
  await good.verifyDeferred();
  assert.equal(good.verifyPending, false);

  const t = join(root, 't-truncated');
  cpSync(src, t, { recursive: true });
  truncateSync(join(t, FILES.itemReps), 64);
  await assert.rejects(Bundle.load(t, { verify: 'defer' }), /items\/reps\.bin has 64 bytes, expected \d+ \(60 items x \d+ float32\)/);
});

test('a first bundle checked in the background serves at once and is dropped when its table turns out corrupt', { skip }, async () => {
  const d = join(root, 't-background');
  cpSync(join(root, 'b-dssm-float32'), d, { recursive: true });
  const reps = readFileSync(join(d, FILES.itemReps));
  reps[8] ^= 0x01;
  writeFileSync(join(d, FILES.itemReps), reps);
  const corrupt: Error[] = [];
  const service = new Service({ firstVerify: 'background', ann: 'off', onCorrupt: (e) => corrupt.push(e) });
  await service.load(d);
  assert.ok(service.ready, 'serving before the check ends');
  for (let i = 0; i < 100 && corrupt.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(corrupt[0]?.message ?? '', /items\/reps\.bin does not match the manifest/);
  assert.equal(service.ready, false, 'a corrupt table is not served');
  // a reload checks before it swaps: the corrupt bundle is refused and the good one keeps serving
  await service.load(join(root, 'b-dssm-float32'));
  await assert.rejects(service.load(d), /items\/reps\.bin does not match the manifest/);
  assert.ok(service.ready);
  await service.close();
});

test('a mapped table is read-only: a write faults the process and never reaches the file', { skip }, () => {
  const path = join(root, 'b-dssm-float32', FILES.itemReps);
  const before = readFileSync(path);
  const url = new URL('../src/export/mapped-file.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const { mapFile } = await import(${JSON.stringify(url)}); new Float32Array(mapFile(${JSON.stringify(path)}))[0] = 1;`]);
  assert.equal(r.signal, 'SIGSEGV', `the write was not refused: status ${r.status}, ${r.stderr}`);
  assert.deepEqual(readFileSync(path), before);
  assert.equal(mapFile(join(root, 'data', 'config.json'), 'normal').byteLength, readFileSync(join(root, 'data', 'config.json')).length);
});

test('sha256 of a mapped buffer in slices equals the one-shot hash, at offsets past a slice', { skip }, async () => {
  const path = join(root, 'b-dssm-float32', FILES.itemReps);
  const bytes = readFileSync(path);
  const { createHash } = await import('node:crypto');
  const buf = mapFile(path, 'sequential');
  assert.equal(await sha256Async(new DataView(buf)), createHash('sha256').update(bytes).digest('hex'));
  assert.equal(await sha256Async(new DataView(buf, 3, 100)), createHash('sha256').update(bytes.subarray(3, 103)).digest('hex'));
});

test('a table file past 4 GiB maps whole and is read in place as float32 rows', { skip }, () => {
  // sparse: only the pages written hold disk blocks; a 10M x 128 float32 table is 5.1 GB
  const path = join(root, 'big-sparse.bin');
  const dim = 1024, rows = 2 ** 20 + 1; // 4 GiB + one row
  const fd = openSync(path, 'w');
  const last = Float32Array.from({ length: dim }, (_, i) => i + 0.5);
  writeSync(fd, new Uint8Array(last.buffer), 0, last.byteLength, (rows - 1) * dim * 4);
  closeSync(fd);
  try {
    const buf = mapFile(path, 'random');
    assert.equal(buf.byteLength, rows * dim * 4);
    const t = tableFromBytes(idsOf(['only']), dim, 'float32', new DataView(buf));
    assert.equal(t.data.length, rows * dim);
    assert.deepEqual(Array.from(t.data.subarray((rows - 1) * dim, (rows - 1) * dim + 4)), [0.5, 1.5, 2.5, 3.5]);
    assert.equal(t.data[0], 0);
  } finally {
    rmSync(path, { force: true });
  }
});
