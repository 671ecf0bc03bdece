// Exported ONNX graphs run in onnxruntime-node (CPU) against prerank's own forward on tiny trained models.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { encodeModel } from '../src/export/onnx/proto.js';
import { onnxGraphs } from '../src/export/onnx/graphs.js';
import { Tensor } from '../src/core/index.js';
import { tempDir, tinyRun } from './serve-fixture.js';
import { batchFeeds, floatTensor, reference, relError, run, session } from './onnx-fixture.js';

const root = tempDir('onnx');
after(() => rmSync(root, { recursive: true, force: true }));
const TOL = 1e-5;

for (const kind of ['dssm', 'int-tower'] as const) {
  test(`${kind}: user_tower, item_tower, scorer and model.onnx equal encodeUser, encodeItem, score and forward`, async () => {
    const { model, data } = await tinyRun(root, kind);
    const files = new Map(onnxGraphs(model).map((f) => [f.file, encodeModel(f.graph, { doc: f.doc, producerVersion: 'test' })]));
    const b = data.batches('test', { batchSize: 64, shuffle: false }).epoch(0).next().value!;
    const u = reference(model, () => model.encodeUser!(b));
    const v = reference(model, () => model.encodeItem!(b));
    const logits = reference(model, () => model.forward(b));
    const us = await session(files.get('user_tower.onnx')!);
    const is = await session(files.get('item_tower.onnx')!);
    const ss = await session(files.get('scorer.onnx')!);
    const ms = await session(files.get('model.onnx')!);
    const uo = await run(us, batchFeeds(us, b), 'user_rep');
    const io = await run(is, batchFeeds(is, b), 'item_rep');
    console.log(kind, relError(uo, u), relError(io, v));
    assert.ok(relError(uo, u) <= TOL, `user_rep error ${relError(uo, u)}`);
    assert.ok(relError(io, v) <= TOL, `item_rep error ${relError(io, v)}`);
    const n = b.size;
    const so = await run(ss, { user_rep: floatTensor(u, [n, u.length / n]), item_rep: floatTensor(v, [n, v.length / n]) }, 'score');
    const mo = await run(ms, batchFeeds(ms, b), 'score');
    console.log(kind, relError(so, logits), relError(mo, logits));
    assert.ok(relError(so, logits) <= TOL, `scorer error ${relError(so, logits)}`);
    assert.ok(relError(mo, logits) <= TOL, `model.onnx error ${relError(mo, logits)}`);
    // One user row against every item of the batch.
    const one = reference(model, () => model.score!(Tensor.from(u.slice(0, u.length / n), [1, u.length / n]), Tensor.from(v, [n, v.length / n])));
    const o1 = await run(ss, { user_rep: floatTensor(u.slice(0, u.length / n), [1, u.length / n]), item_rep: floatTensor(v, [n, v.length / n]) }, 'score');
    console.log(kind, relError(o1, one));
    assert.ok(relError(o1, one) <= TOL);
    for (const s of [us, is, ss, ms]) await s.release();
  });
}
