// Versioned publishing: numbering, the CURRENT pointer, leftovers of interrupted publishes, pruning, bad pointers;
// and the recovery of a directory swap (src/util/atomic-dir.ts) interrupted by a kill.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { listVersions, publishVersion, readCurrentVersion } from '../src/export/versions.js';
import { makeTempBeside, pendingRestore, recoverSwap, writeArrayFile } from '../src/util/atomic-dir.js';
import { tempDir } from './serve-fixture.js';

const root = tempDir('versions');
after(() => rmSync(root, { recursive: true, force: true }));

const writeTag = (tag: string) => async (dir: string): Promise<void> => {
  mkdirSync(join(dir, 'sub'));
  await writeFile(join(dir, 'tag.txt'), tag);
  await writeFile(join(dir, 'sub', 'x.bin'), Buffer.from([1, 2, 3]));
};

test('versions are numbered 1 + the highest existing and CURRENT names the newest', async () => {
  const r = join(root, 'numbering');
  assert.equal(readCurrentVersion(r), null, 'no root yet -> null');
  const a = await publishVersion(r, writeTag('a'));
  assert.deepEqual([a.version, a.name], [1, 'v000001']);
  assert.equal(readFileSync(join(r, 'CURRENT'), 'utf8'), 'v000001\n');
  const b = await publishVersion(r, writeTag('b'));
  assert.deepEqual([b.version, b.name, b.dir], [2, 'v000002', join(r, 'v000002')]);
  assert.equal(readFileSync(join(b.dir, 'tag.txt'), 'utf8'), 'b');
  assert.deepEqual(readFileSync(join(b.dir, 'sub', 'x.bin')), Buffer.from([1, 2, 3]));
  // A complete version that never got the pointer (crash between rename and CURRENT) is numbered past.
  mkdirSync(join(r, 'v000007'));
  const c = await publishVersion(r, writeTag('c'));
  assert.equal(c.name, 'v000008');
  assert.deepEqual(readCurrentVersion(r), c);
});

test('a failing writer publishes nothing and leaves no temporary directory', async () => {
  const r = join(root, 'failing');
  const a = await publishVersion(r, writeTag('a'));
  await assert.rejects(publishVersion(r, async (dir) => {
    await writeFile(join(dir, 'half.bin'), 'x');
    throw new Error('disk full');
  }), /disk full/);
  assert.deepEqual(readCurrentVersion(r), a);
  assert.deepEqual(readdirSync(r).sort(), ['CURRENT', 'v000001']);
  assert.equal((await publishVersion(r, writeTag('b'))).version, 2);
});

test('leftover temporary directories are ignored by readers and cleaned by the next publish', async () => {
  const r = join(root, 'leftover');
  const a = await publishVersion(r, writeTag('a'));
  // What a kill -9 in the middle of a publish leaves: a half-written temp dir and a stray pointer temp file, both
  // named after a writer pid that is gone (above Linux's pid_max, so it cannot be alive).
  const deadPid = 2 ** 22 + 12345;
  const stale = join(r, `.tmp-${deadPid}-1-abc`);
  mkdirSync(join(stale, 'weights'), { recursive: true });
  writeFileSync(join(stale, 'weights', 'w.bin'), 'half');
  writeFileSync(join(r, `.CURRENT.tmp-${deadPid}-xyz`), 'v000099\n');
  assert.deepEqual(readCurrentVersion(r), a);
  assert.deepEqual(listVersions(r).map((v) => v.name), ['v000001']);
  const b = await publishVersion(r, writeTag('b'));
  assert.equal(b.version, 2);
  assert.ok(!existsSync(stale), 'stale temp dir removed');
  assert.deepEqual(readdirSync(r).sort(), ['CURRENT', 'v000001', 'v000002']);
});

test('a temp dir of a live publisher is left alone', async () => {
  const r = join(root, 'live');
  await publishVersion(r, writeTag('a'));
  const live = join(r, `.tmp-${process.ppid}-1-live`);
  mkdirSync(live);
  await publishVersion(r, writeTag('b'));
  assert.ok(existsSync(live), 'another live process may still be writing it');
});

test('pruning keeps the newest versions and never the current one', async () => {
  const r = join(root, 'prune');
  for (let i = 0; i < 4; i++) await publishVersion(r, writeTag(String(i)), { keep: 2 });
  assert.deepEqual(listVersions(r).map((v) => v.name), ['v000003', 'v000004']);
  assert.equal(readCurrentVersion(r)?.name, 'v000004');
  // keep defaults to 5
  for (let i = 0; i < 5; i++) await publishVersion(r, writeTag(String(i)));
  assert.deepEqual(listVersions(r).map((v) => v.version), [5, 6, 7, 8, 9]);
  // A stray higher version without the pointer: the next publish numbers past it and keeps its own new version.
  mkdirSync(join(r, 'v000020'));
  const v = await publishVersion(r, writeTag('x'), { keep: 1 });
  assert.equal(v.name, 'v000021');
  assert.deepEqual(listVersions(r).map((x) => x.name), ['v000021']);
  await assert.rejects(publishVersion(r, writeTag('y'), { keep: 0 }), /keep must be an integer >= 1/);
});

test('a malformed CURRENT or one naming a missing version is a clear error', async () => {
  const r = join(root, 'bad');
  await publishVersion(r, writeTag('a'));
  writeFileSync(join(r, 'CURRENT'), 'v000042\n');
  assert.throws(() => readCurrentVersion(r), /CURRENT names version v000042 but .*v000042 does not exist/);
  writeFileSync(join(r, 'CURRENT'), 'latest\n');
  assert.throws(() => readCurrentVersion(r), /CURRENT: expected a version name like v000001, found "latest\\n"/);
  // Publishing repairs it.
  const b = await publishVersion(r, writeTag('b'));
  assert.deepEqual(readCurrentVersion(r), b);
});

test('recoverSwap puts back the previous version a dead writer left mid-swap and removes dead leftovers; live writers\' temp dirs stay', async () => {
  const parent = join(root, 'swap');
  const dir = join(parent, 'x');
  mkdirSync(parent, { recursive: true });
  const deadPid = 2 ** 22 + 777; // above Linux's pid_max: never alive
  const other = spawn('sleep', ['30']); // a live writer in another process
  try {
    const entry = (pid: number, ms: number, tail: string) => join(parent, `.x.tmp-${pid}-${ms}-${tail}`);
    const prev = entry(deadPid, 2000, 'aaa.old'); // killed between its two renames: x is missing
    mkdirSync(prev);
    writeFileSync(join(prev, 'manifest.json'), '{"v":1}');
    const half = entry(deadPid, 2000, 'aaa'); // its new version, half written
    mkdirSync(half);
    const older = entry(deadPid, 1000, 'bbb'); // an earlier killed write
    mkdirSync(older);
    const mineOld = entry(process.pid, 500, 'ccc'); // this pid, not being written now (a previous process with the same pid)
    mkdirSync(mineOld);
    const live = entry(other.pid!, 3000, 'ddd');
    mkdirSync(live);
    const mine = await makeTempBeside(dir); // this process is writing it
    assert.equal(pendingRestore(dir), prev);
    assert.equal(await recoverSwap(dir), true);
    assert.equal(readFileSync(join(dir, 'manifest.json'), 'utf8'), '{"v":1}');
    for (const gone of [prev, half, older, mineOld]) assert.ok(!existsSync(gone), `${gone} removed`);
    for (const kept of [live, mine]) assert.ok(existsSync(kept), `${kept} kept`);
    assert.equal(pendingRestore(dir), null);
  } finally {
    other.kill('SIGKILL');
  }
});

test('recoverSwap puts back a previous version without a manifest (an online checkpoint: state.json and model/)', async () => {
  const parent = join(root, 'swap-state');
  const dir = join(parent, 'checkpoint');
  mkdirSync(parent, { recursive: true });
  const prev = join(parent, `.checkpoint.tmp-${2 ** 22 + 778}-2000-eee.old`); // a dead trainer killed between its two renames
  mkdirSync(join(prev, 'model'), { recursive: true });
  writeFileSync(join(prev, 'state.json'), '{"applied":528}');
  assert.equal(pendingRestore(dir), prev);
  assert.equal(await recoverSwap(dir), true);
  assert.equal(readFileSync(join(dir, 'state.json'), 'utf8'), '{"applied":528}');
  assert.ok(existsSync(join(dir, 'model')) && !existsSync(prev));
});

test('writeArrayFile writes a typed array view in slices, byte for byte (tables past 4 GiB are written so)', async () => {
  const dir = tempDir('write-array-');
  const whole = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5 - 7);
  const view = whole.subarray(3, 997); // an offset into its buffer
  for (const slice of [4096, 1000, 12, 1 << 30]) {
    const path = join(dir, `t-${slice}.bin`);
    await writeArrayFile(path, view, slice);
    const back = readFileSync(path);
    assert.equal(back.byteLength, view.byteLength);
    assert.deepEqual(new Float32Array(back.buffer, back.byteOffset, view.length), view);
  }
});
