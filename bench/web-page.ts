// The page that bench/web-chromium.ts drives in headless Chromium: prerank/web's WasmScorer (two builds: SIMD128, and
// relaxed SIMD where the page validates it) and onnxruntime-web (wasm backend, one thread) side by side in one page,
// each case scored by all of them on the same candidates.
// Browser code kept as a string (it imports by URL, which tsc cannot check): window.bench's functions are called
// by page.evaluate. Typed arrays arrive as { $typed: [type, byteOffset, length] } into a case's blob.bin.
//
// What each side's timed call includes (and the bench output says so):
//   wasm: plan.score(towerInput, items, rows, { n, reuse: true }) (each build its own instance, plan and table) -- the
//         user tower's layers from its input vector, the k candidates' reps read by row from the table in the module's
//         memory, the scores, the top-n cut, the scores and top copied out into arrays the plan reuses (no allocation
//         per request, as the native side's compiled.rank);
//   ort:  the k candidates' reps copied by row from the page's Float32Array of the table into one [k, I] buffer,
//         user_tower.onnx.run (embedding lookups from the feature ids, then the tower), scorer.onnx.run({ user_rep,
//         item_rep }) (onnxruntime-web copies the feeds into its module's memory), the top-n of the scores in JS.
export const PAGE_SCRIPT = `
const { WasmScorer, wasmSupports } = await import('/src/web/index.js');
const ort = await import('/ort/ort.wasm.min.mjs');
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.proxy = false;
const scorer = await WasmScorer.load(undefined, { build: 'simd128' });
// null where the page does not validate relaxed SIMD (its column then says so)
const relaxedScorer = wasmSupports('relaxed-simd') ? await WasmScorer.load(undefined, { build: 'relaxed-simd' }) : null;
const TYPED = { Float32Array, Int32Array, BigInt64Array };
const cases = [];

function revive(v, blob) {
  if (Array.isArray(v)) return v.map((x) => revive(x, blob));
  if (!v || typeof v !== 'object') return v;
  if (v.$typed) {
    const [type, offset, length] = v.$typed;
    return new TYPED[type](blob.slice(offset, offset + length * TYPED[type].BYTES_PER_ELEMENT));
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x, blob)]));
}

// The best n of scores, best first (a min-heap of n indices; NaN last as in the wasm scorer)
function topN(s, n) {
  const better = (a, b) => (s[a] > s[b] || (s[a] === s[b] && a < b) || (Number.isNaN(s[b]) && !Number.isNaN(s[a])));
  const heap = [];
  const down = (i) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let w = i;
      if (l < heap.length && better(heap[w], heap[l])) w = l;
      if (r < heap.length && better(heap[w], heap[r])) w = r;
      if (w === i) return;
      [heap[i], heap[w]] = [heap[w], heap[i]];
      i = w;
    }
  };
  for (let j = 0; j < s.length; j++) {
    if (heap.length < n) {
      heap.push(j);
      for (let i = heap.length - 1; i > 0;) {
        const p = (i - 1) >> 1;
        if (!better(heap[p], heap[i])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (n > 0 && better(j, heap[0])) {
      heap[0] = j;
      down(0);
    }
  }
  return heap.sort((a, b) => (better(a, b) ? -1 : 1));
}

async function load(i, levels) {
  const base = '/case/' + i + '/';
  const meta = await (await fetch(base + 'meta.json')).json();
  const blob = await (await fetch(base + 'blob.bin')).arrayBuffer();
  const m = revive(meta, blob);
  const plan = scorer.compile(m.spec);
  const items = await scorer.fetchItems(base + 'table.f32', { dim: m.dim });
  const relaxed = relaxedScorer && { plan: relaxedScorer.compile(m.spec), items: await relaxedScorer.fetchItems(base + 'table.f32', { dim: m.dim }) };
  const table = new Float32Array(await (await fetch(base + 'table.f32')).arrayBuffer());
  const sessions = {};
  for (const level of levels) {
    const options = { executionProviders: ['wasm'], graphOptimizationLevel: level, executionMode: 'sequential' };
    sessions[level] = {
      user: await ort.InferenceSession.create(base + 'user_tower.onnx', options),
      score: await ort.InferenceSession.create(base + 'scorer.onnx', options),
    };
  }
  const feeds = Object.fromEntries(Object.entries(m.feeds).map(([name, f]) => [name, new ort.Tensor(f.type, f.data, f.dims)]));
  cases[i] = { plan, items, relaxed, table, dim: m.dim, input: m.input, sessions, ...sessions[levels[0]], level: levels[0], feeds, rows: null, buf: null };
}

// count onnxruntime-web requests per graph optimisation level, the levels alternating; keeps the fastest p50
async function calibrate(i, count, n) {
  const c = cases[i];
  const us = Object.fromEntries(Object.keys(c.sessions).map((l) => [l, []]));
  for (let r = 0; r < count; r++) {
    for (const [level, s] of Object.entries(c.sessions)) {
      Object.assign(c, s);
      const t = performance.now();
      await ortRequest(c, n);
      us[level].push((performance.now() - t) * 1000);
    }
  }
  const p50 = Object.fromEntries(Object.entries(us).map(([l, x]) => [l, x.sort((a, b) => a - b)[x.length >> 1]]));
  c.level = Object.keys(p50).sort((a, b) => p50[a] - p50[b])[0];
  Object.assign(c, c.sessions[c.level]);
  return { level: c.level, p50 };
}

function setRows(i, rows) {
  const c = cases[i];
  c.rows = Int32Array.from(rows);
  c.buf = new Float32Array(c.rows.length * c.dim);
}

const wasmRequest = (c, n) => c.plan.score(c.input, c.items, c.rows, { n, reuse: true });
const relaxedRequest = (c, n) => c.relaxed?.plan.score(c.input, c.relaxed.items, c.rows, { n, reuse: true });

async function ortRequest(c, n) {
  const { rows, dim, table, buf } = c;
  for (let j = 0; j < rows.length; j++) buf.set(table.subarray(rows[j] * dim, rows[j] * dim + dim), j * dim);
  const { user_rep } = await c.user.run(c.feeds);
  const out = await c.score.run({ user_rep, item_rep: new ort.Tensor('float32', buf, [rows.length, dim]) });
  const scores = out.score.data;
  return { scores, top: topN(scores, n) };
}

async function check(i, n) {
  const c = cases[i];
  const w = wasmRequest(c, n);
  const wasm = { scores: Array.from(w.scores), top: Array.from(w.top) };
  const r = relaxedRequest(c, n);
  const relaxed = r ? { scores: Array.from(r.scores), top: Array.from(r.top) } : null;
  const o = await ortRequest(c, n);
  return { wasm, relaxed, ort: { scores: Array.from(o.scores), top: o.top } };
}

// count requests of each side in a row, the sides one after another (as native's blocks in Node); microseconds per
// request. Taking turns request by request timed every request of a side just after the other's: onnxruntime-web's
// request copies the k reps and runs its own module, which leaves wasm's rows out of cache (DSSM at k = 5,000: 510-540
// against ~100 us in a row), while native ran in blocks, in cache.
async function time(i, count, n) {
  const c = cases[i];
  const wasm = [], relaxed = [], ortUs = [];
  for (let r = 0; r < count; r++) {
    const t = performance.now();
    wasmRequest(c, n);
    wasm.push((performance.now() - t) * 1000);
  }
  for (let r = 0; c.relaxed && r < count; r++) {
    const t = performance.now();
    relaxedRequest(c, n);
    relaxed.push((performance.now() - t) * 1000);
  }
  for (let r = 0; r < count; r++) {
    const t = performance.now();
    await ortRequest(c, n);
    ortUs.push((performance.now() - t) * 1000);
  }
  return { wasm, relaxed, ort: ortUs };
}

// Both sides alternating for at least ms milliseconds (and 10 requests): Chromium runs a wasm function with its
// baseline compiler (Liftoff) until it is hot, then with the optimising one (TurboFan)
async function warm(i, ms, n) {
  const c = cases[i];
  const end = performance.now() + ms;
  let count = 0;
  for (; count < 10 || performance.now() < end; count++) {
    wasmRequest(c, n);
    relaxedRequest(c, n);
    await ortRequest(c, n);
  }
  return count;
}

// The page's multiply-add peak: one function of 12 independent chains acc = acc * a + b over 4-float vectors, all in
// locals (registers: 14 v128 values, V8 has 15 xmm), n iterations; fused = f32x4.relaxed_madd, else f32x4.mul then
// f32x4.add. GFLOP/s of the best of 5 calls of 0.1-0.3 s.
function peakModule(fused) {
  const f32 = (x) => [...new Uint8Array(new Float32Array([x]).buffer)];
  const chain = (acc) => fused ? [0x20, acc, 0x20, 13, 0x20, 14, 0xfd, 0x85, 0x02, 0x21, acc]
    : [0x20, acc, 0x20, 13, 0xfd, 0xe6, 0x01, 0x20, 14, 0xfd, 0xe4, 0x01, 0x21, acc];
  const body = [0x01, 0x0e, 0x7b,
    0x43, ...f32(0.9999), 0xfd, 0x13, 0x21, 13, 0x43, ...f32(1e-4), 0xfd, 0x13, 0x21, 14,
    0x03, 0x40, ...Array.from({ length: 12 }, (_, c) => chain(c + 1)).flat(), 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b,
    0x20, 1, ...Array.from({ length: 11 }, (_, c) => [0x20, c + 2, 0xfd, 0xe4, 0x01]).flat(), 0xfd, 0x1f, 0x00, 0x0b];
  const leb = (n) => (n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7]);
  const code = [0x01, ...leb(body.length), ...body];
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7d,
    0x03, 0x02, 0x01, 0x00, 0x07, 0x08, 0x01, 0x04, 0x70, 0x65, 0x61, 0x6b, 0x00, 0x00, 0x0a, ...leb(code.length), ...code]);
}

async function peak(fused) {
  if (fused && !wasmSupports('relaxed-simd')) return null;
  const { instance } = await WebAssembly.instantiate(peakModule(fused));
  const run = instance.exports.peak;
  let n = 1e5, best = 0;
  for (let i = 0; i < 12; i++) {
    const t = performance.now();
    run(n);
    const s = (performance.now() - t) / 1000;
    if (s < 0.1) n *= 2;
    else best = Math.max(best, 96 * n / s / 1e9);
  }
  return best;
}

async function dispose(i) {
  const c = cases[i];
  c.plan.dispose();
  c.items.dispose();
  c.relaxed?.plan.dispose();
  c.relaxed?.items.dispose();
  for (const s of Object.values(c.sessions)) {
    await s.user.release();
    await s.score.release();
  }
  cases[i] = null;
}

window.bench = { load, peak, setRows, warm, calibrate, check, time, dispose, info: { crossOriginIsolated: self.crossOriginIsolated, relaxed: relaxedScorer?.isa ?? null, simd128: scorer.isa, ort: ort.env.versions.web ?? ort.env.versions.common, userAgent: navigator.userAgent } };
window.__ready = true;
`;

export const PAGE_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>prerank web bench</title></head><body>
<script type="module">
try {
${PAGE_SCRIPT}
} catch (e) {
  window.__error = String(e && e.stack || e);
}
</script></body></html>`;
