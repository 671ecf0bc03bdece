// The retrieve bench's comparison of head-index designs for a multi-vector bundle (bench/retrieve.ts --compare): one
// usearch index over all N x H item head vectors (key = row * H + head) stored as f32, f16 or i8, against one index
// per head (H indexes of N vectors, f32), each holding its vectors as the bundle's index does (augmented or raw).
// Each is built on every core as the export builds, saved to measure its bytes, then plugged into the same scorer as the bundle's own index: recall@100 against exact mode, p50/p99.
// Shape letters: N items, H item heads, P head size.
import { statSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addRows, annThreads, newUsearch, type UsearchLike } from '../src/export/ann-index.js';
import { decodeAll } from '../src/export/item-table.js';
import type { IndexVectors } from '../src/export/manifest.js';
import { HEAD_INDEX_PARAMS, headVectors, queryVectors } from '../src/export/retrieval-index.js';
import { MultiVectorSource, usearchHeads, type HeadSearch } from '../src/export/multi-vector-source.js';
import type { Deployment } from '../src/serve/service.js';
import type { UserFeatures } from '../src/serve/scorer.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { sweep, type Truth } from './retrieve-sweep.js';

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const SETTING = { perHead: 128, sumDepth: 0, ef: 128 };

async function build(vectors: Float32Array, size: number, quantization: 'f32' | 'f16' | 'i8', file: string, how?: IndexVectors): Promise<{ index: UsearchLike; s: number; bytes: number }> {
  const index = await newUsearch(how ? size + 1 : size, { ...HEAD_INDEX_PARAMS, quantization });
  const n = vectors.length / size;
  const t0 = performance.now();
  await addRows(index, vectors, size, Math.max(1024, Math.ceil(n / 100)), annThreads(), undefined, how);
  const s = (performance.now() - t0) / 1000;
  index.save(file);
  return { index, s, bytes: statSync(file).size };
}

/** H per-head indexes searched as one: each query's best `fetch` over all of them, keys as row * H + head. */
function perHeadSearch(indexes: UsearchLike[], size: number, how?: IndexVectors): HeadSearch {
  const H = indexes.length;
  const heads = indexes.map((idx) => usearchHeads(idx, 1, how));
  return (q, fetch) => {
    const nq = q.length / size;
    const keys = new Float64Array(nq * fetch), sims = new Float32Array(nq * fetch), counts = new Array<number>(nq).fill(0);
    for (let i = 0; i < nq; i++) {
      const hits: [number, number][] = [];
      heads.forEach((search, h) => {
        const r = search(q.subarray(i * size, (i + 1) * size), fetch);
        for (let j = 0; j < Number(r.counts[0]); j++) hits.push([Number(r.keys[j]) * H + h, r.sims[j]]);
      });
      hits.sort((a, b) => b[1] - a[1]);
      const m = Math.min(fetch, hits.length);
      for (let j = 0; j < m; j++) [keys[i * fetch + j], sims[i * fetch + j]] = hits[j];
      counts[i] = m;
    }
    return { keys, sims, stride: fetch, counts };
  };
}

export async function compareHeadIndexes(d: Deployment, queries: UserFeatures[], truth: Truth[], dir: string): Promise<void> {
  const info = d.bundle.manifest.items.cached ? d.bundle.manifest.items.retrievalIndex : undefined;
  if (info?.kind !== 'multi-vector' || !d.bundle.items) return;
  mkdirSync(dir, { recursive: true });
  const t = d.bundle.items, l = info.layout;
  const vectors = headVectors(decodeAll(t), t.dim, l, d.bundle.model);
  const n = vectors.length / l.size;
  console.log(`    head index designs (${t.ids.size} items x ${l.heads} heads = ${n} vectors of ${l.size}; ${annThreads()} build threads; k' = ef = 128, no summed query):`);
  const measure = async (label: string, search: HeadSearch, s: number, bytes: number) => {
    const scorer = createScorer(d.bundle, { store: d.store, ann: new MultiVectorSource('usearch', l, info.defaults, n, search, (rep) => queryVectors(rep, l, d.bundle.model)) });
    const r = await sweep(scorer, queries, truth, SETTING);
    console.log(`      ${label.padEnd(22)} build ${round(s, 1)} s (${Math.round(n / s)} vectors/s), ${round(bytes / 2 ** 20, 1)} MiB, recall@100 ${r.recall}, p50 ${r.p50} ms, p99 ${r.p99} ms`);
  };
  for (const q of ['f32', 'f16', 'i8'] as const) {
    const b = await build(vectors, l.size, q, join(dir, `heads-${q}.usearch`), info.vectors);
    await measure(`one index, ${q}`, usearchHeads(b.index, 1, info.vectors), b.s, b.bytes);
  }
  const per: UsearchLike[] = [];
  let s = 0, bytes = 0;
  for (let h = 0; h < l.heads; h++) {
    const v = new Float32Array(t.ids.size * l.size);
    for (let r = 0; r < t.ids.size; r++) v.set(vectors.subarray((r * l.heads + h) * l.size, (r * l.heads + h + 1) * l.size), r * l.size);
    const b = await build(v, l.size, 'f32', join(dir, `head-${h}.usearch`), info.vectors); // M of all heads: >= each head's
    per.push(b.index);
    s += b.s;
    bytes += b.bytes;
  }
  await measure(`one index per head, f32`, perHeadSearch(per, l.size, info.vectors), s, bytes);
}
