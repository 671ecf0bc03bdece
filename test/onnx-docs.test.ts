// docs/ONNX.md's onnxruntime-node program, run as written against a fresh export: it prints the worked example's
// score through user_tower -> item_tower -> scorer, which must equal prerank's.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportOnnxRun } from '../src/export/onnx/export-onnx.js';
import { tempDir, tinyRun } from './serve-fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const root = tempDir('onnx-docs');
// Beside the repository's node_modules, so `import 'onnxruntime-node'` resolves as it would in a user's project.
const script = join(REPO, 'dist', 'onnx-docs-example.mjs');
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(script, { force: true });
});

/** The ```js block after the `<!-- example: name -->` marker of docs/ONNX.md. */
function example(name: string): string {
  const doc = readFileSync(join(REPO, 'docs', 'ONNX.md'), 'utf8');
  const at = doc.indexOf(`<!-- example: ${name} -->`);
  assert.ok(at >= 0, `docs/ONNX.md has no example '${name}'`);
  const m = /```js\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(m, `docs/ONNX.md: example '${name}' has no js block`);
  return m[1];
}

for (const kind of ['int-tower', 'dssm', 'rank-tower'] as const) {
  test(`docs/ONNX.md's onnxruntime-node example prints prerank's score for the worked example (${kind})`, async () => {
    const run = await tinyRun(root, kind);
    const out = join(root, 'onnx', kind);
    const r = await exportOnnxRun(run.runDir, out);
    writeFileSync(script, example('onnxruntime-node'));
    const p = spawnSync(process.execPath, [script, out], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const m = /^score (-?[\d.]+) \(prerank: (-?[\d.]+)\)$/m.exec(p.stdout);
    assert.ok(m, `unexpected output: ${p.stdout}`);
    const [got, want] = [Number(m[1]), Number(m[2])];
    assert.equal(want.toFixed(6), r.inputs.example!.score.toFixed(6));
    assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
  });
}
