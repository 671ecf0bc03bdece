// A bundle's binary encoders through Bundle.load and the Scorer: read whole or by pread, the same scores; a format /1
// bundle (every table in encoders.json) still loads and scores alike; a damaged encoders.bin is refused by name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle, exportBundle } from '../src/export/index.js';
import { FILES, modelHash, modelVersionOf, sha256, type BundleManifest } from '../src/export/manifest.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import type { ScoreResponse, UserFeatures } from '../src/serve/scorer.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';
import { asJsonIds } from './helpers/json-ids.js';

let root: string;
let run: TinyRun;
let bundleDir: string;

before(async () => {
  root = tempDir('encbin');
  run = await tinyRun(root, 'dssm');
  bundleDir = join(root, 'b');
  await exportBundle(run.runDir, bundleDir);
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Scores of a few known users, an unknown user and a user without features, against every item. */
async function scoresOf(b: Bundle): Promise<ScoreResponse[]> {
  const scorer = createScorer(b, { store: new MemoryItemStore(b.items!) });
  const users: UserFeatures[] = [...['u0', 'u7', 'u42'].map((u) => ({ ...run.users.get(u)!, device: 'ios' })), { user_id: 'nobody', device: 'tv' }, {}];
  const out: ScoreResponse[] = [];
  for (const user of users) out.push(await scorer.scoreAll({ user, candidates: run.data.itemKeys }));
  return out;
}

/** Rewrites a bundle the way format /1 wrote it: every encoder table in encoders.json, no encoders.bin. */
function asFormat1(dir: string): void {
  asJsonIds(dir, 'prerank-bundle/1');
  writeFileSync(join(dir, FILES.encoders), JSON.stringify(run.data.encoders.toJSON()));
  rmSync(join(dir, FILES.encodersBin));
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  m.format = 'prerank-bundle/1';
  delete m.files[FILES.encodersBin];
  m.files[FILES.encoders] = sha256(readFileSync(join(dir, FILES.encoders)));
  m.hash = modelHash(m);
  m.modelVersion = modelVersionOf(m.model.kind, m.hash);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

test('a bundle writes encoders.bin beside a small encoders.json, and serves the same scores read whole or by pread', async () => {
  const meta = JSON.parse(readFileSync(join(bundleDir, FILES.encoders), 'utf8'));
  assert.equal(meta.version, 2);
  assert.equal(meta.binary.bytes, statSync(join(bundleDir, FILES.encodersBin)).size);
  assert.equal(meta.vocabularies.user_id.table.count, run.data.encoders.vocabulary('user_id').count);
  const memory = await Bundle.load(bundleDir, { encoders: 'memory' });
  const file = await Bundle.load(bundleDir, { encoders: 'file' });
  const expected = await scoresOf(memory);
  assert.ok(expected[3].oov.includes('user_id'), 'an unknown user is OOV');
  assert.deepEqual(await scoresOf(file), expected);
  file.dispose();
  await assert.rejects(scoresOf(file), /read after close/);
  memory.dispose();
});

test('a format /1 bundle (encoders as JSON) still loads and scores as its format /2 export', async () => {
  const dir = join(root, 'b-v1');
  cpSync(bundleDir, dir, { recursive: true });
  asFormat1(dir);
  const v1 = await Bundle.load(dir);
  assert.equal(v1.manifest.format, 'prerank-bundle/1');
  assert.ok(v1.encoders!.toJSON().history, 'JSON encoders');
  assert.deepEqual((await scoresOf(v1)).map((r) => r.items), (await scoresOf(await Bundle.load(bundleDir))).map((r) => r.items));
});

test('a changed, truncated or foreign encoders.bin is refused with the file and what differs', async () => {
  const mk = (tag: string): string => {
    const d = join(root, `t-${tag}`);
    cpSync(bundleDir, d, { recursive: true });
    return d;
  };
  const bin = (d: string) => join(d, FILES.encodersBin);
  let d = mk('flip');
  const bytes = readFileSync(bin(d));
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(bin(d), bytes);
  await assert.rejects(Bundle.load(d, { encoders: 'memory' }), /encoders\.bin does not match the manifest/);
  await Bundle.load(d, { parts: 'item' }); // the item side does not read the encoders

  d = mk('cut');
  writeFileSync(bin(d), readFileSync(bin(d)).subarray(0, 100));
  await assert.rejects(Bundle.load(d, { encoders: 'file' }), new RegExp(`encoders\\.bin has 100 bytes, encoders\\.json says ${bytes.length} \\(truncated or replaced\\)`));

  d = mk('magic');
  const other = readFileSync(bin(d));
  other.write('NOTMAGIC', 0, 'latin1');
  writeFileSync(bin(d), other);
  await assert.rejects(Bundle.load(d, { encoders: 'file' }), /encoders\.bin does not start with PRENCBIN/);

  d = mk('gone');
  rmSync(bin(d));
  await assert.rejects(Bundle.load(d), /cannot read encoders\.bin: ENOENT/);
});
