// `npm run bench -- web-bundle --bundle DIR [--user '{"userId":"1"}'] [--k 100,1000] [--requests 300]`: a bundle
// loaded the way a page loads it (loadBundle over HTTP from a loopback static server, every file's sha256 checked),
// beside the server's native scorer on one thread. Prints the bytes fetched per file, the load time (3 loads), and
// per k the p50 / p99 of one /v1/prerank body (raw user features encoded, k candidate ids, top-100) for the
// WebBundle and for the server's scorer (in process, no HTTP), requests interleaved.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { engineInfo, setThreads } from '../src/core/index.js';
import { Bundle } from '../src/export/index.js';
import { createScorer } from '../src/serve/scorers/index.js';
import type { PrerankRequest, UserFeatures } from '../src/serve/scorer.js';
import { MemoryItemStore } from '../src/serve/stores/memory.js';
import { percentile } from '../src/util/stats.js';
import { defaultWasmUrl, loadBundle, WasmScorer } from '../src/web/index.js';
import { fileURLToPath } from 'node:url';
import { staticServer } from '../test/helpers/static-server.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

const fmt = (us: number[]): string => `${Math.round(percentile(us, 0.5))} / ${Math.round(percentile(us, 0.99))}`;

export async function benchWebBundle(args: string[]): Promise<void> {
  const dir = arg(args, 'bundle', '');
  if (!dir) throw new Error('bench web-bundle: --bundle DIR (a bundle written by `prerank export`) is required');
  const user = JSON.parse(arg(args, 'user', '{}')) as UserFeatures;
  const ks = arg(args, 'k', '100,1000').split(',').map(Number);
  const requests = Number(arg(args, 'requests', '300'));
  setThreads(1);
  const info = engineInfo();
  const http = await staticServer(dir);
  try {
    const scorer = await WasmScorer.load(readFileSync(fileURLToPath(defaultWasmUrl)));
    const loads: number[] = [];
    let web = null as Awaited<ReturnType<typeof loadBundle>> | null;
    for (let i = 0; i < 3; i++) {
      web?.dispose();
      const t = performance.now();
      web = await loadBundle(`${http.base}/`, { wasm: scorer });
      loads.push(performance.now() - t);
    }
    const b = web!;
    const bundle = await Bundle.load(dir);
    const server = createScorer(bundle, { store: new MemoryItemStore(bundle.items!) });
    console.log(`bench web-bundle: ${new Date().toISOString().slice(0, 10)}, ${info.cpu}, Node ${process.version}, 1 thread, native SIMD path ${info.detectedIsa}`);
    console.log(`bundle ${dir}: ${b.manifest.model.kind}, ${b.itemIds.size} items x ${b.manifest.items.cached ? `${b.manifest.items.dim} ${b.manifest.items.dtype}` : '-'}`);
    for (const [file, bytes] of Object.entries(b.sizes)) console.log(`  fetched ${file}: ${bytes} bytes`);
    console.log(`  total ${Object.values(b.sizes).reduce((a, x) => a + x, 0)} bytes; loadBundle ${loads.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    console.log(`user ${JSON.stringify(user)}; ${requests} requests per cell, p50 / p99 us`);
    console.log('| k | WebBundle (wasm SIMD128) | server scorer (native) | ratio p50 |');
    console.log('|---|---|---|---|');
    for (const k of ks) {
      const candidates = Array.from({ length: Math.min(k, b.itemIds.size) }, (_, i) => b.itemIds.keyAt((i * 7919) % b.itemIds.size));
      const req: PrerankRequest = { user, candidates, n: 100 };
      const w: number[] = [], n: number[] = [];
      for (let r = 0; r < requests + 20; r++) {
        let t = performance.now();
        b.prerank(req);
        const tw = (performance.now() - t) * 1000;
        t = performance.now();
        await server.prerank(req);
        const tn = (performance.now() - t) * 1000;
        if (r >= 20) [w[w.length], n[n.length]] = [tw, tn];
      }
      console.log(`| ${k} | ${fmt(w)} | ${fmt(n)} | ${(percentile(w, 0.5) / percentile(n, 0.5)).toFixed(1)}x |`);
    }
    bundle.dispose();
    b.dispose();
  } finally {
    await http.close();
  }
}
