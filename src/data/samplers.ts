// Negatives for implicit feedback. Samplers draw item entities (feed them to Dataset.fillItems for features);
// in-batch helpers give log-Q correction values and accidental-hit masks for in-batch softmax.
import { Rng } from '../core/random.js';

export interface SamplerOptions {
  seed?: number;
  /** The generator to draw from (a training strategy's checkpointed one); default: a new one seeded by `seed`. */
  rng?: Rng;
  /** Per-user sorted item entities to avoid (e.g. Dataset.trainUserItems()); redraws up to maxTries times. */
  exclude?: Int32Array[];
  maxTries?: number;
}

export interface NegativeSampler {
  /** Writes k negatives for each of users[0..n) into out[i*k + j]; returns out. */
  sample(users: ArrayLike<number>, n: number, k: number, out?: Int32Array): Int32Array;
  /** Probability that one draw returns this item (before exclusion). */
  prob(item: number): number;
}

/**
 * Draws item i with probability proportional to counts[i]^alpha among items with counts[i] > 0 (the items seen
 * in train). alpha = 0 is uniform over those items; alpha = 1 follows popularity; word2vec uses 0.75.
 */
export class PopularitySampler implements NegativeSampler {
  private readonly rng: Rng;
  private readonly items: Int32Array;
  private readonly accept: Float64Array;
  private readonly alias: Int32Array;
  private readonly p: Float64Array;
  /** Every item equally likely: one integer per draw, no alias lookup (OneBP's uniform draws, in their order). */
  private readonly uniform: boolean;

  constructor(counts: ArrayLike<number>, readonly alpha = 0, private readonly opts: SamplerOptions = {}) {
    if (!(alpha >= 0 && Number.isFinite(alpha))) throw new Error(`PopularitySampler: alpha must be a finite number >= 0, got ${alpha}`);
    this.rng = opts.rng ?? new Rng(opts.seed ?? 1);
    const items: number[] = [];
    for (let i = 0; i < counts.length; i++) if (counts[i] > 0) items.push(i);
    if (items.length === 0) throw new Error('no item has a train count: nothing to sample');
    this.items = Int32Array.from(items);
    const w = items.map((i) => Math.pow(counts[i], alpha));
    this.uniform = w.every((x) => x === w[0]);
    const total = w.reduce((a, b) => a + b, 0);
    this.p = new Float64Array(counts.length);
    items.forEach((it, k) => (this.p[it] = w[k] / total));
    ({ accept: this.accept, alias: this.alias } = aliasTable(w.map((x) => x / total)));
  }

  prob(item: number): number {
    return this.p[item] ?? 0;
  }

  sample(users: ArrayLike<number>, n: number, k: number, out = new Int32Array(n * k)): Int32Array {
    const ex = this.opts.exclude;
    const tries = this.opts.maxTries ?? 10;
    for (let i = 0; i < n; i++) {
      const avoid = ex?.[users[i]];
      for (let j = 0; j < k; j++) {
        let it = this.draw();
        for (let t = 1; avoid && t < tries && contains(avoid, it); t++) it = this.draw();
        out[i * k + j] = it;
      }
    }
    return out;
  }

  /** Items the sampler can return (count > 0), ascending. */
  get support(): Int32Array {
    return this.items;
  }

  private draw(): number {
    const slot = this.rng.int(this.items.length);
    if (this.uniform) return this.items[slot];
    return this.items[this.rng.uniform() < this.accept[slot] ? slot : this.alias[slot]];
  }
}

/** Uniform over the items seen in train. */
export class UniformSampler extends PopularitySampler {
  constructor(counts: ArrayLike<number>, opts: SamplerOptions = {}) {
    super(counts, 0, opts);
  }
}

/**
 * log Q(item) for the items in a batch, Q = the item's share of train rows (add-one smoothed): in-batch softmax
 * subtracts it from logit[i, j] so popular items are not over-penalised as negatives (Yi et al., RecSys 2019).
 */
export function inBatchLogQ(items: ArrayLike<number>, n: number, counts: ArrayLike<number>,
  out = new Float32Array(n)): Float32Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  const denom = total + counts.length;
  for (let i = 0; i < n; i++) out[i] = Math.log(((counts[items[i]] ?? 0) + 1) / denom);
  return out;
}

/**
 * [n, n] mask, 1 where column j must not count as a negative for row i: j != i and item j is row i's item (a
 * duplicate in the batch) or, with userItems, an item row i's user has in train.
 */
export function accidentalHits(users: ArrayLike<number>, items: ArrayLike<number>, n: number,
  userItems?: Int32Array[], out = new Uint8Array(n * n)): Uint8Array {
  out.fill(0, 0, n * n);
  for (let i = 0; i < n; i++) {
    const own = userItems?.[users[i]];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      if (items[j] === items[i] || (own !== undefined && contains(own, items[j]))) out[i * n + j] = 1;
    }
  }
  return out;
}

function contains(sorted: Int32Array, x: number): boolean {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === x;
}

/** Walker/Vose alias table: O(1) draws from a discrete distribution. */
function aliasTable(p: number[]): { accept: Float64Array; alias: Int32Array } {
  const n = p.length;
  const accept = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = p.map((x) => x * n);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((x, i) => (x < 1 ? small : large).push(i));
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large[large.length - 1];
    accept[s] = scaled[s];
    alias[s] = l;
    scaled[l] -= 1 - scaled[s];
    if (scaled[l] < 1) small.push(large.pop()!);
  }
  for (const i of [...small, ...large]) {
    accept[i] = 1;
    alias[i] = i;
  }
  return { accept, alias };
}
