// Property tests over what the outside world hands prerank: data files. Each target's harness lives in test/fuzz/
// and is shared with `npm run bench -- faults`, which runs many more cases.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzzDataFiles } from './fuzz/data-files.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const RUNS = Number(process.env.PRERANK_FUZZ_RUNS ?? 1);

test('corrupted data files load with counted skips or fail with a DataError naming file and line', async () => {
  const r = await fuzzDataFiles(join(dir, 'data'), Math.round(300 * RUNS), 20261205);
  assert.equal(r.failure, undefined, r.failure);
});
