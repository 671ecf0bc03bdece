// The WebAssembly scorer in a real browser: Debian's chromium (scripts/install-browser.sh), headless, driven by
// playwright-core against a static file server on loopback. The page imports prerank/web as plain ES modules (no
// bundler), loads each build of the module from its default address (relaxed SIMD, which Chromium validates and
// prerank/web picks there; SIMD128; portable), streams item tables in over fetch, compiles DSSM, IntTower and
// RankTower plans and scores candidates by id, SIMD on and off: every score equals the native scorer's in Node
// within 1e-5 (relative to the largest; the relaxed build's fused multiply-adds round differently), a NaN item head
// gives a NaN score in every build, and the page logs no error. A
// second page loads whole exported bundles (DSSM, IntTower, RankTower) with loadBundle, zod mapped by an import
// map, and answers /v1/prerank and /v1/score bodies as the server's native scorer does in Node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dataset, parseDataConfig, writeSyntheticLog } from '../src/data/index.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import type { PrerankRequest, ScoreResponse } from '../src/serve/scorer.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { tinyRun } from './serve-fixture.js';
import type { ModelName } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { compileUserSide } from '../src/serve/compiled.js';
import { itemTable } from './helpers/item-table.js';
import { perturbedModel } from './helpers/perturbed-model.js';
import { skipWasm } from './helpers/wasm-scorer.js';
import { chromiumMissing, launchChromium, openPage } from './browser-fixture.js';

const missing = chromiumMissing();
if (missing && process.env.CI) throw new Error(missing);
const skip = skipWasm || missing || false;

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'prerank-web-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CASES: [string, ModelName, Record<string, unknown>, boolean][] = [
  ['dssm', 'dssm', {}, false],
  ['int-tower (2 heads x 16, last layer: grouped)', 'int-tower', { heads: 2, headSize: 16, taps: 'last' }, false],
  ['int-tower (20 heads x 16: split tiles)', 'int-tower', { heads: 20, headSize: 16, tower: [32, 24] }, false],
  ['int-tower (32 heads x 64: split tiles, 24 user vectors)', 'int-tower', { heads: 32, headSize: 64 }, false],
  ['int-tower (5 heads x 8, NaN in item heads)', 'int-tower', { heads: 5, headSize: 8 }, true],
  ['rank-tower (gated cross-attention)', 'rank-tower', {}, false],
];

interface Case { name: string; spec: unknown; dim: number; ids: string[]; input: Float32Array; candidates: string[]; native: Float32Array; table: Float32Array }

/** Each case: the plan spec, an item table from the item tower, a user's tower input and the native scores of 200 candidates. */
async function makeCases(): Promise<Case[]> {
  const ds = await Dataset.load(parseDataConfig(writeSyntheticLog(dir, { users: 80, items: 50, interactionsPerUser: 12, seed: 9 })));
  const users = ds.batches('test', { batchSize: 2, shuffle: false }).epoch(0).next().value!;
  return CASES.map(([name, kind, extra, nan]) => {
    const model: RecModel = perturbedModel(ds, kind, extra);
    const compiled = compileUserSide(model)!;
    const { table, dim, n } = itemTable(ds, model);
    if (nan) for (const r of [3, 17, n - 1]) table[r * dim + ((r * 7) % dim)] = NaN;
    const ids = Array.from({ length: n }, (_, r) => `i${r}`);
    const rows = Int32Array.from({ length: 200 }, (_, k) => (k * 37 + 11) % n);
    const input = compiled.input(users, 1);
    const native = Float32Array.from(compiled.rank(input, table, rows, rows.length, 0).scores);
    return { name, spec: model.servingPlan!().spec, dim, ids, input, candidates: Array.from(rows, (r) => ids[r]), native, table };
  });
}

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>prerank/web check</title></head><body>
<script type="module">
import { WasmScorer } from '/src/web/index.js';
const revive = (k, v) => (v && typeof v === 'object' && Array.isArray(v.f32) ? Float32Array.from(v.f32) : v);
try {
  const cases = JSON.parse(await (await fetch('/cases.json')).text(), revive);
  const picked = (await WasmScorer.load()).build;
  const scores = [];
  for (const build of ['relaxed-simd', 'simd128', 'portable']) {
    const scorer = await WasmScorer.load(undefined, { build });
    for (const [i, c] of cases.entries()) {
      const plan = scorer.compile(c.spec);
      const items = await scorer.fetchItems('/items/' + i + '.f32', { dim: c.dim, ids: c.ids });
      const res = (scores[i] ??= {});
      for (const simd of [true, false]) {
        scorer.simd = simd;
        res[build + ' ' + scorer.isa] = Array.from(plan.scoreIds(c.input, items, c.candidates, { n: 10 }).scores);
      }
      plan.dispose();
      items.dispose();
    }
  }
  window.__result = { picked, scores };
} catch (e) {
  window.__error = String(e && e.stack || e);
}
</script></body></html>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
let server: Server | null = null;
let base = '';
let cases: Case[] = [];
let bundleRequests: { bundle: string; req: PrerankRequest }[] = [];
const serverAnswers: { prerank: ScoreResponse; score: ScoreResponse }[] = [];
const BUNDLES: ModelName[] = ['dssm', 'int-tower', 'rank-tower'];

/** Bundles exported from tiny training runs under dir/bundles, and requests with the server's answers to them. */
async function makeBundleRequests(): Promise<{ bundle: string; req: PrerankRequest }[]> {
  const out: { bundle: string; req: PrerankRequest }[] = [];
  for (const kind of BUNDLES) {
    const run = await tinyRun(join(dir, 'runs'), kind);
    await exportBundle(run.runDir, join(dir, 'bundles', kind), { annIndex: false });
    const bundle = await Bundle.load(join(dir, 'bundles', kind));
    const server = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    const keys = [...run.data.itemKeys];
    const candidates: (string | number)[] = [...keys.slice(0, 40).reverse(), 'unknown-item', 7, keys[3]];
    for (const user of [{ ...run.users.get('u3')!, device: 'ios' }, { user_id: 'nobody', device: 'fridge' }, {}]) {
      const req = { user, candidates, n: 12 } as PrerankRequest;
      out.push({ bundle: kind, req });
      serverAnswers.push({ prerank: await server.prerank(req), score: await server.scoreAll(req) });
    }
    bundle.dispose();
  }
  return out;
}

const BUNDLE_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>prerank/web bundles</title>
<script type="importmap">{ "imports": { "zod": "/node_modules/zod/index.js" } }</script></head><body>
<script type="module">
import { loadBundle } from '/src/web/index.js';
try {
  const requests = await (await fetch('/requests.json')).json();
  const bundles = {};
  const out = [];
  for (const { bundle, req } of requests) {
    const b = bundles[bundle] ??= await loadBundle('/bundles/' + bundle + '/');
    out.push({ prerank: b.prerank(req), score: b.score({ user: req.user, candidates: req.candidates }) });
  }
  window.__result = out;
} catch (e) {
  window.__error = String(e && e.stack || e);
}
</script></body></html>`;

before(async () => {
  if (skip) return;
  cases = await makeCases();
  bundleRequests = await makeBundleRequests();
  const json = JSON.stringify(cases.map((c) => ({ ...c, table: undefined, native: undefined })),
    (_k, v: unknown) => (v instanceof Float32Array ? { f32: Array.from(v) } : v));
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    const item = /^\/items\/(\d+)\.f32$/.exec(url);
    if (url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (url === '/cases.json') return void res.writeHead(200, { 'content-type': TYPES['.json'] }).end(json);
    if (item && cases[Number(item[1])]) {
      const t = cases[Number(item[1])].table;
      return void res.writeHead(200, { 'content-length': t.byteLength }).end(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
    }
    if (url === '/bundle.html') return void res.writeHead(200, { 'content-type': 'text/html' }).end(BUNDLE_PAGE);
    if (url === '/requests.json') return void res.writeHead(200, { 'content-type': TYPES['.json'] }).end(JSON.stringify(bundleRequests));
    // dist/src/**/*.js, dist/wasm/*.wasm, zod's ES modules and the exported bundles, nothing else
    const file = /^\/bundles\/[\w-]+\/[\w/.-]+$/.test(url) ? normalize(join(dir, url))
      : url.startsWith('/node_modules/zod/') ? normalize(join(DIST, '..', url)) : normalize(join(DIST, url));
    const allowed = /^\/src\/[\w/-]+\.js$/.test(url) || /^\/wasm\/[\w-]+\.wasm$/.test(url) || /^\/node_modules\/zod\/[\w/.-]+\.js$/.test(url) || url.startsWith('/bundles/');
    if (allowed && !url.includes('..') && existsSync(file)) {
      const body = readFileSync(file);
      return void res.writeHead(200, { 'content-type': TYPES[url.slice(url.lastIndexOf('.'))] ?? 'application/octet-stream', 'content-length': body.length }).end(body);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server?.close());

/** Largest |a - b| over the largest |b| (at least 1); NaN only where the other has NaN. */
function relDiff(a: number[], b: Float32Array, what: string): number {
  assert.equal(a.length, b.length, what);
  let d = 0, top = 1;
  for (let i = 0; i < a.length; i++) {
    assert.equal(Number.isNaN(a[i]), Number.isNaN(b[i]), `${what}: candidate ${i} is ${a[i]} in the page, ${b[i]} native`);
    if (!Number.isNaN(b[i])) [d, top] = [Math.max(d, Math.abs(a[i] - b[i])), Math.max(top, Math.abs(b[i]))];
  }
  return d / top;
}

test('in headless chromium, prerank/web picks the relaxed-SIMD build, and every build scores every candidate as the native scorer does', { skip, timeout: 300_000 }, async () => {
  const browser = await launchChromium();
  try {
    const { errors, flags: { __result: result, __error: error } } = await openPage(browser, `${base}/`, ['__result', '__error']);
    assert.equal(error, undefined, `the page failed: ${error}`);
    const { picked, scores: got } = result as { picked: string; scores: Record<string, number[]>[] };
    assert.equal(picked, 'relaxed-simd', 'Chromium validates relaxed SIMD');
    assert.equal(got.length, cases.length);
    // each build with its SIMD kernels on, then off (the portable build has none: portable both times)
    const paths = ['relaxed-simd relaxed-simd', 'relaxed-simd portable', 'simd128 simd128', 'simd128 portable', 'portable portable'];
    cases.forEach((c, i) => {
      assert.deepEqual(Object.keys(got[i]), paths, c.name);
      for (const path of paths) {
        const d = relDiff(got[i][path], c.native, `${c.name} (${path})`);
        assert.ok(d < 1e-5, `${c.name} (${path}): the page's scores differ from native by ${d} (relative)`);
      }
    });
    // fused multiply-adds round once: some scores of the relaxed build differ in their last bits from SIMD128's
    const fused = cases.filter((_c, i) => got[i]['relaxed-simd relaxed-simd'].some((x, j) => x !== got[i]['simd128 simd128'][j] && !Number.isNaN(x)));
    assert.ok(fused.length > 0, 'the relaxed build computes with FMA');
    const nanCase = CASES.findIndex((c) => c[3]);
    for (const path of paths) assert.ok(got[nanCase][path].filter(Number.isNaN).length > 0, `the NaN case scored some candidates NaN (${path})`);
    assert.deepEqual(errors, [], 'console errors on the page');
  } finally {
    await browser.close();
  }
});

/** The same answer: ids in order, scores within 1e-5 of the largest, unknown, oov and modelVersion equal. */
function assertSameAnswer(got: ScoreResponse, want: ScoreResponse, what: string): void {
  assert.deepEqual(got.items.map((x) => x.id), want.items.map((x) => x.id), `${what}: order`);
  const top = Math.max(1, ...want.items.map((x) => Math.abs(x.score)));
  got.items.forEach((x, i) => assert.ok(Math.abs(x.score - want.items[i].score) <= 1e-5 * top, `${what}: ${x.id} ${x.score} vs ${want.items[i].score}`));
  assert.deepEqual({ ...got, items: [] }, { ...want, items: [] }, `${what}: unknown, oov, modelVersion`);
}

test('in headless chromium, a page loads whole bundles with loadBundle and answers as the server does', { skip, timeout: 300_000 }, async () => {
  const browser = await launchChromium();
  try {
    const { errors, flags: { __result: result, __error: error } } = await openPage(browser, `${base}/bundle.html`, ['__result', '__error']);
    assert.equal(error, undefined, `the page failed: ${error}`);
    const got = result as { prerank: ScoreResponse; score: ScoreResponse }[];
    assert.equal(got.length, bundleRequests.length);
    got.forEach((g, i) => {
      const what = `${bundleRequests[i].bundle} request ${i}`;
      assertSameAnswer(g.prerank, serverAnswers[i].prerank, `${what} prerank`);
      assertSameAnswer(g.score, serverAnswers[i].score, `${what} score`);
    });
    assert.ok(got.every((g) => g.prerank.unknown.includes('unknown-item')), 'unknown ids reported');
    assert.deepEqual(errors, [], 'console errors on the page');
  } finally {
    await browser.close();
  }
});
