// What limits max-sim candidate generation, with every search exact (no HNSW): for each user, the exact top-K items
// by the max-sim score, and the share of them each candidate source finds: the union of each query vector's k'
// nearest head vectors (ColBERT's gather), the summed query's D nearest (the lower bound sum_a max_b >= max_b sum_a),
// one summed query per layer (L searches), and the upper-bound order the candidate cap uses. A source that misses
// the top-K when searched exactly cannot find it through an index either. Run by `retrieve-reach --trace`.
// Shape letters: N items, H item heads, P head size, Q query vectors, L layers, K top-k.
import { topK } from '../src/eval/top-k.js';
import type { MultiVectorLayout } from '../src/export/manifest.js';
import { queryVectors } from '../src/export/retrieval-index.js';
import type { RecModel } from '../src/models/types.js';
import { innerProducts } from '../src/export/mips.js';

const K = 100;
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** Per item, max over its heads of dots [N*H] -> [N]. */
export function maxOverHeads(dots: Float32Array, heads: number, out: Float32Array): Float32Array {
  for (let r = 0; r < out.length; r++) {
    let m = -Infinity;
    for (let b = 0; b < heads; b++) m = Math.max(m, dots[r * heads + b]);
    out[r] = m;
  }
  return out;
}

/** Items [N] whose rows hold the `depth` best vectors of dots [N*H]. */
export const itemsOfTop = (dots: Float32Array, depth: number, heads: number): Set<number> =>
  new Set(Array.from(topK(dots, depth, undefined, 'last'), (v) => Math.floor(v / heads)));

export const share = (found: Set<number>, truth: Int32Array): number => truth.filter((r) => found.has(r)).length / truth.length;

/**
 * Prints, averaged over the users, the share of the exact top-100 each source finds at several depths, and how many
 * items the per-query union holds. vectors [N*H, P]: the head vectors; layers: L (Q / L query vectors per layer).
 */
export function traceMaxSim(vectors: Float32Array, l: MultiVectorLayout, users: Float32Array[], layers: number, model: RecModel | null): void {
  const nv = vectors.length / l.size, n = nv / l.heads;
  const depths = [64, 256, 1024];
  const sumDepths = [256, 1024, 4096];
  const acc = new Map<string, number>();
  const add = (key: string, x: number) => acc.set(key, (acc.get(key) ?? 0) + x / users.length);
  const dots = Array.from({ length: l.queries }, () => new Float32Array(nv));
  const score = new Float32Array(n), best = new Float32Array(n), sumDots = new Float32Array(nv);
  for (const u of users) {
    const q = queryVectors(u, l, model);
    score.fill(0);
    for (let a = 0; a < l.queries; a++) {
      innerProducts(vectors, l.size, q.subarray(a * l.size, (a + 1) * l.size), dots[a]);
      maxOverHeads(dots[a], l.heads, best);
      for (let r = 0; r < n; r++) score[r] += best[r];
    }
    const truth = topK(score, K, undefined, 'last');
    for (const d of depths) {
      const union = new Set<number>();
      for (let a = 0; a < l.queries; a++) for (const r of itemsOfTop(dots[a], d, l.heads)) union.add(r);
      add(`per query vector k'=${d}: share`, share(union, truth));
      add(`per query vector k'=${d}: items`, union.size);
    }
    const perLayer = l.queries / layers;
    for (const d of sumDepths) {
      sumDots.fill(0);
      for (let a = 0; a < l.queries; a++) for (let v = 0; v < nv; v++) sumDots[v] += dots[a][v];
      add(`summed query D=${d}: share`, share(itemsOfTop(sumDots, d, l.heads), truth));
      const union = new Set<number>();
      for (let i = 0; i < layers; i++) {
        sumDots.fill(0);
        for (let a = i * perLayer; a < (i + 1) * perLayer; a++) for (let v = 0; v < nv; v++) sumDots[v] += dots[a][v];
        for (const r of itemsOfTop(sumDots, d, l.heads)) union.add(r);
      }
      add(`one summed query per layer D=${d}: share`, share(union, truth));
    }
  }
  console.log(`  exact-search trace over ${n} items x ${l.heads} heads, ${users.length} users, top-${K} by max-sim:`);
  for (const [key, x] of acc) console.log(`    ${key} ${round(x)}`);
}
