// `npm run bench -- retrieve-proxy --bundle DIR --data CONFIG [--users 20]`: how well a proxy layout's vectors
// (RankTower: its scored vectors depend on the pair) find the model's exact top-100, searched exactly (no index,
// so what is measured is the proxy, not a graph). Two proxies over the same table: the bundle's anchored vectors
// (items through the cross-attention against the mean user rep, queries against the mean item rep) and the
// normalised sub-spaces before cross-attention (what bundles written before anchors index). Per proxy, the share
// of the exact top-100 in (1) the union of each query vector's k' nearest item vectors (ColBERT's gather, k' = 64,
// 256, 512) and (2) the C items with the best proxy max-sim (C = 256, 1,024, 4,096).
// Shape letters: N items, H item heads, P head size, Q query vectors.
import { noGrad, scope, Tensor } from '../src/core/index.js';
import { topK } from '../src/eval/top-k.js';
import { decodeAll } from '../src/export/item-table.js';
import { headVectors, queryVectors, retrievalIndexOf } from '../src/export/retrieval-index.js';
import type { MultiVectorLayout } from '../src/export/manifest.js';
import { innerProducts } from '../src/export/mips.js';
import { Deployment } from '../src/serve/service.js';
import { cpuModel } from './proc.js';
import { userReps } from './retrieve-reach.js';
import { opt } from './retrieve.js';
import { itemsOfTop, maxOverHeads, share } from './retrieve-trace.js';

const K = 100;

/** Items [N] of the union of each query vector's k' best item vectors, and every item's proxy max-sim [N]. */
function proxySearch(vectors: Float32Array, q: Float32Array, l: MultiVectorLayout, depths: number[]) {
  const nv = vectors.length / l.size, n = nv / l.heads;
  const dots = new Float32Array(nv), best = new Float32Array(n), maxSim = new Float32Array(n);
  const unions = depths.map(() => new Set<number>());
  for (let a = 0; a < l.queries; a++) {
    innerProducts(vectors, l.size, q.subarray(a * l.size, (a + 1) * l.size), dots);
    depths.forEach((d, i) => { for (const r of itemsOfTop(dots, d, l.heads)) unions[i].add(r); });
    maxOverHeads(dots, l.heads, best);
    for (let r = 0; r < n; r++) maxSim[r] += best[r];
  }
  return { unions, maxSim };
}

export async function benchRetrieveProxy(args: string[]): Promise<void> {
  const dir = opt(args, 'bundle'), data = opt(args, 'data');
  if (!dir || !data) throw new Error('--bundle DIR --data CONFIG: a proxy-layout bundle (RankTower) and the data config it was trained on');
  const d = await Deployment.open(dir, { ann: 'off' });
  try {
    const info = retrievalIndexOf(d.bundle.manifest.items, false), model = d.bundle.model!;
    if (info.kind !== 'multi-vector' && info.kind !== 'multi-vector-centroids') throw new Error(`${dir}: no multi-vector retrieval index (${info.kind})`);
    const l = info.layout;
    if (!l.anchors) throw new Error(`${dir}: its layout has no anchors (a bundle written before them, or not a proxy layout)`);
    const t = d.bundle.items!, reps = decodeAll(t), n = t.ids.size;
    const { anchors: _, ...plain } = l;
    const proxies = { anchored: l, 'sub-spaces': plain as MultiVectorLayout };
    const vectors = Object.fromEntries(Object.entries(proxies).map(([k, pl]) => [k, headVectors(reps, t.dim, pl, model)]));
    const users = await userReps(d, data, Number(opt(args, 'users') ?? 20));
    const depths = [64, 256, 512], caps = [256, 1024, 4096];
    const acc = new Map<string, number>();
    const add = (key: string, x: number) => acc.set(key, (acc.get(key) ?? 0) + x / users.length);
    const exact = new Float32Array(n);
    for (const u of users) {
      noGrad(() => {
        for (let at = 0; at < n; at += 8192) {
          scope(() => {
            const m = Math.min(8192, n - at);
            const s = model.score!(Tensor.from(u.slice(), [1, u.length]), Tensor.from(reps.slice(at * t.dim, (at + m) * t.dim), [m, t.dim]));
            exact.set((s.data as Float32Array).subarray(0, m), at);
          });
        }
      });
      const truth = topK(exact, K, undefined, 'last');
      for (const [name, pl] of Object.entries(proxies)) {
        const r = proxySearch(vectors[name], queryVectors(u, pl, model), pl, depths);
        depths.forEach((dp, i) => add(`${name}: per query vector k'=${dp}`, share(r.unions[i], truth)));
        for (const c of caps) add(`${name}: best ${c} by proxy max-sim`, share(new Set(topK(r.maxSim, c, undefined, 'last')), truth));
      }
    }
    console.log(`CPU ${cpuModel()}; ${dir}: ${n} items x ${l.heads} heads, ${l.queries} query vectors; ${users.length} users; share of the exact top-${K} found, searched exactly:`);
    for (const [key, x] of acc) console.log(`  ${key.padEnd(44)} ${x.toFixed(3)}`);
  } finally {
    await d.close();
  }
}
