// prerank/web around the kernels: bad plans, tables and requests are refused with errors that name the field, row
// or id (the module's own checks come back as WasmScorerError, and the instance keeps working after them); the
// module and an item table load over HTTP (fetch, the table streamed into module memory); and the entry imports no
// Node built-in (and no package but zod), so a page can import it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServingPlanSpec } from '../src/models/common/serving.js';
import { WasmScorer, WasmScorerError } from '../src/web/index.js';
import { skipWasm, wasmBytes } from './helpers/wasm-scorer.js';

const skip = skipWasm;
const scorer = wasmBytes ? await WasmScorer.load(wasmBytes) : null;

/** A small DSSM-like plan: input 4 -> linear 4x3 (relu) -> l2norm; dot with scale 2, bias 0.5. */
function spec(): ServingPlanSpec {
  const weight = Float32Array.from({ length: 12 }, (_, i) => ((i * 7) % 5) / 5 - 0.3);
  return {
    arena: 7, input: 4, repOffset: 4, repLength: 3,
    steps: [{ op: 'linear', src: 0, dst: 4, in: 4, out: 3, weight, bias: Float32Array.of(0.1, -0.2, 0.3), act: 'relu' },
      { op: 'l2norm', offset: 4, rows: 1, cols: 3, eps: 1e-12 }],
    score: { kind: 'dot', scale: 2, bias: 0.5 },
  };
}

/** The same plan's scores computed here, in float64. */
function expected(x: Float32Array, table: Float32Array): number[] {
  const s = spec();
  const step = s.steps[0] as { weight: Float32Array; bias: Float32Array };
  const h = [0, 1, 2].map((c) => Math.max(0, step.bias[c] + [0, 1, 2, 3].reduce((a, i) => a + x[i] * step.weight[i * 3 + c], 0)));
  const norm = Math.hypot(...h);
  const u = h.map((v) => v / norm);
  return Array.from({ length: table.length / 3 }, (_, r) => 2 * (u[0] * table[r * 3] + u[1] * table[r * 3 + 1] + u[2] * table[r * 3 + 2]) + 0.5);
}

const x = Float32Array.of(0.5, -1, 2, 0.25);
const table = Float32Array.from({ length: 5 * 3 }, (_, i) => Math.sin(i));

test('a plan scores what its steps compute, by row, by block and by id', { skip }, () => {
  const plan = scorer!.compile(spec());
  const items = scorer!.items(table, { dim: 3, ids: ['a', 'b', 'c', 'd', 'e'] });
  const want = expected(x, table);
  const all = plan.score(x, items, null, { n: 2 });
  all.scores.forEach((s, r) => assert.ok(Math.abs(s - want[r]) < 1e-5, `row ${r}: ${s} vs ${want[r]}`));
  const best = want.map((s, r) => [s, r]).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, r]) => r);
  assert.deepEqual(Array.from(all.top), best);
  assert.deepEqual(Array.from(plan.scoreIds(x, items, ['e', 'a']).scores), [all.scores[4], all.scores[0]]);
  plan.dispose();
  items.dispose();
});

test('with reuse, score returns the same scores and top as views of arrays the next call overwrites', { skip }, () => {
  const plan = scorer!.compile(spec());
  const items = scorer!.items(table, { dim: 3 });
  const fresh = plan.score(x, items, Int32Array.of(4, 1, 3), { n: 2 });
  const a = plan.score(x, items, Int32Array.of(4, 1, 3), { n: 2, reuse: true });
  assert.deepEqual(Array.from(a.scores), Array.from(fresh.scores));
  assert.deepEqual(Array.from(a.top), Array.from(fresh.top));
  const first = Array.from(a.scores);
  const b = plan.score(x, items, Int32Array.of(0, 2), { n: 0, reuse: true });
  assert.equal(b.scores.buffer, a.scores.buffer, 'the second call writes into the same array');
  assert.deepEqual(Array.from(b.scores), Array.from(plan.score(x, items, Int32Array.of(0, 2)).scores));
  assert.equal(b.top.length, 0);
  assert.notDeepEqual(Array.from(a.scores.subarray(0, 2)), first.slice(0, 2), 'the first result was overwritten');
  const all = plan.score(x, items, null, { n: 5, reuse: true });
  assert.deepEqual(Array.from(all.scores), Array.from(plan.score(x, items, null).scores), 'grown for more candidates');
  assert.equal(all.top.length, 5);
  assert.deepEqual(Array.from(fresh.scores), first, 'fresh arrays are the caller\'s');
  plan.dispose();
  items.dispose();
});

test('bad plans are refused naming the field, and the instance works after', { skip }, () => {
  const bad = (edit: (s: ServingPlanSpec) => void, message: RegExp) => {
    const s = spec();
    edit(s);
    assert.throws(() => scorer!.compile(s), (e: Error) => e instanceof WasmScorerError && message.test(e.message), String(message));
  };
  bad((s) => ((s.steps[0] as { weight: unknown }).weight = [1, 2]), /spec\.steps\[0\]\.weight must be a Float32Array/);
  bad((s) => ((s.steps[0] as { act: string }).act = 'tanh'), /spec\.steps\[0\]\.act 'tanh' is not one of none, relu, silu, sigmoid/);
  bad((s) => ((s.steps[1] as { op: string }).op = 'softmax'), /spec\.steps\[1\]\.op 'softmax' is not one of/);
  bad((s) => (s.arena = -1), /spec\.arena must be a non-negative integer/);
  // the module's own checks (native/serve.cc, serve_scores.cc), their messages carried out of wasm
  bad((s) => ((s.steps[0] as { weight: Float32Array }).weight = new Float32Array(5)), /step 0: weight must have in\*out floats/);
  bad((s) => (s.repOffset = 6), /the user rep \[6, 9\) is outside the arena of 7 floats/);
  bad((s) => ((s.score as { kind: string }).kind = 'cosine'), /spec\.score\.kind 'cosine' is not one of dot, maxsim, rankTower/);
  bad((s) => (s.score = { kind: 'maxsim', scale: 1, bias: 0 } as never), /spec\.score\.heads must be a number/);
  bad((s) => (s.score = { kind: 'maxsim', heads: 2.5, headSize: 3, scale: 1, bias: 0 } as never), /spec\.score\.heads must be a non-negative integer/);
  bad((s) => (s.score = { kind: 'rankTower', userHeads: 1, itemHeads: 1, headSize: 1, attnDim: 1, valueDim: 1, crossAttention: true, lnEps: 1e-5, scale: 1, bias: 0,
    userToItem: null, itemToUser: null } as never), /rank-tower: the user rep width does not match/);
  // after errors thrown out of the module (its stack unwound by JS), it still builds and scores plans
  // (each throw would leave ~340 bytes of its 1 MiB stack behind if the stack pointer were not put back)
  for (let i = 0; i < 4000; i++) assert.throws(() => scorer!.compile({ ...spec(), repOffset: 6 }), /outside the arena/);
  const plan = scorer!.compile(spec());
  const items = scorer!.items(table, { dim: 3 });
  assert.ok(Math.abs(plan.score(x, items, null).scores[1] - expected(x, table)[1]) < 1e-5);
  plan.dispose();
  items.dispose();
});

test('bad tables and requests are refused naming the row, id or size', { skip }, () => {
  const plan = scorer!.compile(spec());
  const items = scorer!.items(table, { dim: 3, ids: ['a', 'b', 'c', 'd', 'e'] });
  assert.throws(() => scorer!.items(table, { dim: 4 }), /a table of 15 values is not a whole number of rows of 4/);
  assert.throws(() => scorer!.items(table, { dim: 3, dtype: 'int8' }), /an int8 table is a Int8Array, not a Float32Array|int8 table needs scales/);
  assert.throws(() => scorer!.items(new Int8Array(15), { dim: 3, dtype: 'int8' }), /int8 table needs scales, a Float32Array of one scale per row \(5\)/);
  assert.throws(() => scorer!.items(table, { dim: 3, ids: ['a'] }), /1 ids for 5 rows/);
  assert.throws(() => plan.score(x, items, Int32Array.of(0, 5)), /rows\[1\] = 5 is outside the item table's 5 rows/);
  assert.throws(() => plan.score(x, items, Int32Array.of(-1)), /rows\[0\] = -1 is outside/);
  assert.throws(() => plan.scoreIds(x, items, ['a', 'zz', 'yy']), /2 candidate id\(s\) are not in the item table: "zz", "yy"/);
  assert.throws(() => plan.score(new Float32Array(3), items, null), /the tower input must be a Float32Array of 4 floats/);
  assert.throws(() => plan.score(x, items, null, { fromRep: true }), /the user rep must be a Float32Array of 3 floats/);
  assert.throws(() => plan.score(x, items, null, { n: -1 }), /n must be a non-negative integer/);
  const wide = scorer!.items(new Float32Array(8), { dim: 4 });
  assert.throws(() => plan.score(x, wide, null), /the item table has reps of 4 floats; this plan scores reps of 3/);
  wide.dispose();
  items.dispose();
  assert.throws(() => plan.score(x, items, null), /the item table was disposed/);
  plan.dispose();
  assert.throws(() => plan.encode(x), /the plan was disposed/);
});

let server: Server | null = null;
let base = '';
before(async () => {
  if (skip) return;
  const tableBytes = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  server = createServer((req, res) => {
    if (req.url === '/prerank-scorer.wasm') res.writeHead(200, { 'content-type': 'application/wasm' }).end(wasmBytes);
    else if (req.url === '/items.f32') res.writeHead(200, { 'content-length': tableBytes.length }).end(tableBytes);
    else if (req.url === '/short.f32') res.writeHead(200, { 'content-length': 16 }).end(tableBytes.subarray(0, 16));
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server?.close());

test('the module and an item table load over HTTP; the table streams into module memory', { skip }, async () => {
  const web = await WasmScorer.load(`${base}/prerank-scorer.wasm`);
  const plan = web.compile(spec());
  const items = await web.fetchItems(`${base}/items.f32`, { dim: 3 });
  assert.equal(items.count, 5);
  assert.deepEqual(plan.score(x, items, null).scores, scorer!.compile(spec()).score(x, scorer!.items(table, { dim: 3 }), null).scores);
  await assert.rejects(web.fetchItems(`${base}/short.f32`, { dim: 3 }), /16 bytes.*not a whole number of rows of 3|4 values is not a whole number of rows of 3/);
  await assert.rejects(web.fetchItems(`${base}/missing.f32`, { dim: 3 }), /HTTP 404/);
  await assert.rejects(WasmScorer.load(`${base}/nothing.wasm`), /cannot load the scorer module from .*: HTTP 404/);
  await assert.rejects(WasmScorer.load(new URL('file:///x.wasm')), /fetch reads no file: URLs/);
});

/**
 * Packages prerank/web's modules import, which a page maps with an import map (docs/WEB.md): zod, for the models'
 * and the data spec's config schemas (a bundle's model is built from its config as in Node). Only loadBundle's
 * modules, loaded when it is first called, import it.
 */
const PAGE_PACKAGES = ['zod'];

/** The files reachable from prerank/web's entry (static imports only, or dynamic ones too) and what they import of outside. */
function webGraph(dynamic: boolean): { seen: Set<string>; found: string[] } {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'web', 'index.js');
  const seen = new Set<string>();
  const found: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (m[2] && !dynamic) continue;
      if (spec.startsWith('.')) walk(join(dirname(file), spec));
      else found.push(`${file}: imports ${spec}`);
    }
    for (const m of src.matchAll(/\b(process|Buffer|require|setImmediate)\s*[.(]/g)) found.push(`${file}: uses ${m[1]}`);
  };
  walk(root);
  return { seen, found };
}

test('prerank/web imports no Node built-in and uses no Node global; the scorer alone imports no package', () => {
  const scorerOnly = webGraph(false);
  assert.ok(scorerOnly.seen.size >= 5, `walked ${scorerOnly.seen.size} files`);
  assert.deepEqual(scorerOnly.found, []);
  const all = webGraph(true);
  // loadBundle's whole path: the model registry, the encoders, the bundle readers and the request encoding
  for (const part of ['models/registry.js', 'data/encoders.js', 'export/bundle-parts.js', 'export/user-request.js', 'nn/tensor-bytes.js']) {
    assert.ok([...all.seen].some((f) => f.endsWith(join('src', part))), `the walk reaches ${part}`);
  }
  assert.deepEqual(all.found.filter((f) => !PAGE_PACKAGES.some((p) => f.endsWith(`imports ${p}`))), []);
});
