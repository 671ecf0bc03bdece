// `prerank export --format onnx` (exportOnnxRun, and exportOnnxBundle through the command line): the files it writes,
// inputs.json against the graphs, the worked example run through model.onnx, the independent onnx checker over every
// graph, the same files from a bundle as from its run, and the message for a model kind without an ONNX export.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportOnnxRun } from '../src/export/onnx/export-onnx.js';
import { onnxGraphs } from '../src/export/onnx/graphs.js';
import { ONNX_MODELS } from '../src/export/onnx/registry.js';
import type { OnnxInputsJson } from '../src/export/onnx/inputs-json.js';
import { MODELS, TINY_CONFIGS, type ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Rng } from '../src/core/index.js';
import type { EncodersJson } from '../src/data/index.js';
import { exportBundle } from '../src/export/export-bundle.js';
import { decodeModel, encodeModel } from '../src/export/onnx/proto.js';
import { PRERANK } from '../src/cli/commands.js';
import { runCommand } from '../src/cli/command.js';
import { tempDir, tinyRun } from './serve-fixture.js';
import { relError, session } from './onnx-fixture.js';

const root = tempDir('onnx-export');
after(() => rmSync(root, { recursive: true, force: true }));
const PY = '/usr/bin/python3';
const hasChecker = spawnSync(PY, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
const CHECKER_SKIP = 'python3-onnx is not installed (run scripts/install-onnx-checker.sh): the onnx checker is skipped';
const TWO_TOWER_FILES = ['user_tower.onnx', 'item_tower.onnx', 'scorer.onnx', 'model.onnx'];

const run = await tinyRun(root, 'int-tower');
const out = join(root, 'onnx', 'int-tower');
const result = await exportOnnxRun(run.runDir, out);
const inputs = JSON.parse(readFileSync(join(out, 'inputs.json'), 'utf8')) as OnnxInputsJson;

// The same model through a bundle, `prerank export --bundle <dir> --format onnx` (written before any test runs: the
// root's after hook removes the files).
const bundleDir = join(root, 'bundle');
await exportBundle(run.runDir, bundleDir);
const fromBundle = join(root, 'onnx', 'from-bundle');
await runCommand(PRERANK, ['export', '--bundle', bundleDir, '--format', 'onnx', '--out', fromBundle], () => {});
const bundleInputs = JSON.parse(readFileSync(join(fromBundle, 'inputs.json'), 'utf8')) as OnnxInputsJson;

test('a two-tower export writes the four graphs, encoders.json, inputs.json and model.safetensors', () => {
  for (const f of [...TWO_TOWER_FILES, 'encoders.json', 'inputs.json', 'model.safetensors']) assert.ok(existsSync(join(out, f)), f);
  assert.deepEqual(result.files.map((f) => f.file), TWO_TOWER_FILES);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'encoders.json'), 'utf8')), JSON.parse(JSON.stringify(run.data.encoders.toJSON())));
  assert.equal(inputs.model, 'int-tower');
  assert.equal(inputs.opset, 17);
});

test('inputs.json names every input and output of every graph with its dtype and shape, and how each feature is encoded', async () => {
  for (const file of TWO_TOWER_FILES) {
    const s = await session(readFileSync(join(out, file)));
    const entry = inputs.files[file];
    assert.deepEqual(entry.inputs.map((i) => i.name), [...s.inputNames], file);
    assert.deepEqual(entry.outputs.map((o) => o.name), [...s.outputNames], file);
    for (const i of entry.inputs) {
      assert.ok(i.dtype === 'int64' || i.dtype === 'float32', `${file} ${i.name} dtype`);
      assert.equal(i.shape[0], file === 'scorer.onnx' ? (i.name === 'user_rep' ? 'users' : 'items') : 'batch', `${file} ${i.name} batch axis`);
      if (file !== 'scorer.onnx') assert.ok(inputs.features[i.feature]?.encoding, `${file} ${i.name}: no encoding for feature '${i.feature}'`);
    }
    await s.release();
  }
  const seq = run.data.features.find((f) => f.kind === 'sequence')!;
  assert.match(inputs.features[seq.name].encoding, /padded with 0/);
  assert.ok(inputs.files['user_tower.onnx'].inputs.some((i) => i.name === `${seq.name}_length` && i.role === 'lengths') ||
    inputs.files['item_tower.onnx'].inputs.some((i) => i.name === `${seq.name}_length` && i.role === 'lengths'));
});

test("the worked example's feeds give its score through model.onnx", async () => {
  await assertExampleScore(join(out, 'model.onnx'), inputs);
});

test('every exported graph passes the onnx checker with full shape inference', { skip: hasChecker ? false : CHECKER_SKIP }, () => {
  const script = 'import onnx, sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n    print("ok", p)';
  const r = spawnSync(PY, ['-c', script, ...TWO_TOWER_FILES.map((f) => join(out, f))], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, TWO_TOWER_FILES.length);
});

test("every zoo model's graphs pass the onnx checker with full shape inference", { skip: hasChecker ? false : CHECKER_SKIP }, () => {
  const dir = join(root, 'checker');
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (const kind of Object.keys(ONNX_MODELS) as ModelName[]) {
    const model = MODELS[kind]({ features: run.data.features, rng: new Rng(3) }, TINY_CONFIGS[kind] as never) as RecModel;
    for (const f of onnxGraphs(model)) {
      paths.push(join(dir, `${kind}-${f.file}`));
      writeFileSync(paths.at(-1)!, encodeModel(f.graph, { doc: f.doc, producerVersion: 'test' }));
    }
  }
  const script = 'import onnx, sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n    print("ok", p)';
  const r = spawnSync(PY, ['-c', script, ...paths], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, paths.length);
});

test('every zoo model has an ONNX export; a model kind without one fails naming it and the kinds that have one', () => {
  assert.deepEqual(Object.keys(MODELS).filter((k) => !(k in ONNX_MODELS)), []);
  const model = MODELS.dssm({ features: run.data.features, rng: new Rng(1) }, TINY_CONFIGS.dssm);
  Object.defineProperty(model, 'kind', { value: 'my-model' });
  assert.throws(() => onnxGraphs(model), /onnx export: model 'my-model' has no ONNX export yet \(exportable: .*int-tower.*rank-tower/);
});

/** Statistics as key -> value per feature: the bundle lists entities in its own order. */
const statMaps = (enc: EncodersJson) => Object.fromEntries(Object.entries(enc.stats).map(([k, st]) => [k, { fallback: st.fallback, values: new Map(st.keys.map((key, i) => [key, st.values[i]])) }]));

test('ONNX files written from a bundle are the graphs, weights, encoders and inputs written from its training run', () => {
  for (const file of TWO_TOWER_FILES) {
    const [a, b] = [out, fromBundle].map((d) => decodeModel(readFileSync(join(d, file))) as { graph: unknown; metadata_props: { key: string; value: string }[] });
    assert.deepEqual(b.graph, a.graph, file);
    assert.ok(b.metadata_props.some((m) => m.key === 'modelVersion' && m.value.startsWith('int-tower-')), `${file}: the bundle's model version`);
  }
  assert.deepEqual(readFileSync(join(fromBundle, 'model.safetensors')), readFileSync(join(out, 'model.safetensors')));
  assert.equal(JSON.parse(readFileSync(join(bundleDir, 'encoders.json'), 'utf8')).version, 2, 'the bundle keeps its tables in encoders.bin');
  const [runEnc, bundleEnc] = [out, fromBundle].map((d) => JSON.parse(readFileSync(join(d, 'encoders.json'), 'utf8')) as EncodersJson);
  assert.ok(Object.keys(runEnc.stats).length > 0 && Object.keys(runEnc.history).length > 0, 'the dataset has statistics and histories');
  assert.deepEqual({ ...bundleEnc, stats: statMaps(bundleEnc) }, { ...runEnc, stats: statMaps(runEnc) });
  assert.deepEqual(bundleInputs.files, inputs.files);
  assert.deepEqual(bundleInputs.features, inputs.features);
});

test("a bundle's worked example is a row of each vocabulary's first value, and its feeds give its score through model.onnx", async () => {
  const ex = bundleInputs.example!;
  const enc = JSON.parse(readFileSync(join(fromBundle, 'encoders.json'), 'utf8')) as EncodersJson;
  const sparse = run.data.features.find((f) => f.kind === 'sparse')!;
  assert.equal(ex.raw[sparse.name], enc.vocabularies[sparse.table ?? sparse.name].tokens[0]);
  assert.deepEqual(ex.feeds[sparse.name], [2]);
  await assertExampleScore(join(fromBundle, 'model.onnx'), bundleInputs);
});

/** Runs model.onnx on the worked example's feeds of `inputs` and checks it gives the example's score. */
async function assertExampleScore(modelPath: string, inputs: OnnxInputsJson): Promise<void> {
  const ex = inputs.example!;
  const s = await session(readFileSync(modelPath));
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of inputs.files['model.onnx'].inputs) {
    const v = ex.feeds[i.name];
    const dims = i.shape.length === 2 ? [1, v.length] : [1];
    feeds[i.name] = i.dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v, (x) => BigInt(x)), dims) : new ort.Tensor('float32', Float32Array.from(v), dims);
  }
  const score = (await s.run(feeds)).score.data as Float32Array;
  assert.ok(relError(score, [ex.score]) <= 1e-5, `${score[0]} vs ${ex.score}`);
  await s.release();
}
