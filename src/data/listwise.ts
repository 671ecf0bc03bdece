// User-level listwise groups: G users per batch, each with L items from the split (sampled without replacement when
// the user has more). A short list is topped up with sampled negatives (label 0) when a sampler is given, else padded
// (mask 0). Slots are laid out [G, L]: slot g*L + j is item j of group g.
import { Rng } from '../core/random.js';
import { allocBatch, BatchFiller, headOf, type Batch } from './batch.js';
import type { Dataset } from './dataset.js';
import type { NegativeSampler } from './samplers.js';
import type { SplitName } from './split.js';
import { byUserInTime } from './split.js';

export interface ListwiseOptions {
  usersPerBatch: number;
  listSize: number;
  /** Users with fewer rows in the split are left out (default 1). */
  minItems?: number;
  sampler?: NegativeSampler;
  seed?: number;
}

export interface ListBatch extends Batch {
  groups: number;
  listSize: number;
  /** [G*L] 1 for a real or sampled item, 0 for padding. */
  mask: Float32Array;
  /** [G*L] 1 where the item was sampled rather than taken from the user's rows. */
  sampled: Uint8Array;
}

export class ListwiseStream {
  private readonly order: Int32Array;
  private readonly start: Int32Array;
  private readonly users: Int32Array;
  private readonly batch: ListBatch;
  private readonly rowFiller: BatchFiller;
  private readonly itemFiller: BatchFiller;
  private readonly scratch: Int32Array;
  private readonly negs: Int32Array;

  constructor(private readonly ds: Dataset, split: SplitName | Int32Array, private readonly opts: ListwiseOptions) {
    const rows = typeof split === 'string' ? ds.splits[split] : split;
    const u = Int32Array.from(rows, (r) => ds.rowUser[r]);
    const g = byUserInTime(u);
    this.order = Int32Array.from(g.order, (k) => rows[k]);
    this.start = g.start;
    const min = opts.minItems ?? 1;
    const users: number[] = [];
    for (let x = 0; x + 1 < g.start.length; x++) if (g.start[x + 1] - g.start[x] >= Math.max(min, 1)) users.push(x);
    this.users = Int32Array.from(users);
    const cap = opts.usersPerBatch * opts.listSize;
    const b = allocBatch(ds.features, cap, !!ds.weight);
    this.batch = { ...b, groups: opts.usersPerBatch, listSize: opts.listSize, mask: new Float32Array(cap),
      sampled: new Uint8Array(cap) };
    this.rowFiller = new BatchFiller(ds);
    this.itemFiller = new BatchFiller(ds, ['item']);
    let longest = 0;
    for (let x = 0; x + 1 < g.start.length; x++) longest = Math.max(longest, g.start[x + 1] - g.start[x]);
    this.scratch = new Int32Array(longest);
    this.negs = new Int32Array(opts.listSize);
  }

  get userCount(): number {
    return this.users.length;
  }

  *epoch(e = 0): Generator<ListBatch> {
    const { usersPerBatch: G, listSize: L, sampler } = this.opts;
    const rng = new Rng((Math.imul(this.opts.seed ?? this.ds.config.seed, 0x85ebca6b) + e) >>> 0);
    const users = rng.shuffle(this.users.slice());
    const b = this.batch;
    for (let at = 0; at < users.length; at += G) {
      const groups = Math.min(G, users.length - at);
      for (let gi = 0; gi < groups; gi++) {
        const u = users[at + gi];
        const seg = this.order.subarray(this.start[u], this.start[u + 1]);
        const take = Math.min(L, seg.length);
        this.scratch.set(seg);
        for (let j = 0; j < take; j++) {
          const pick = j + rng.int(seg.length - j);
          const t = this.scratch[j];
          this.scratch[j] = this.scratch[pick];
          this.scratch[pick] = t;
        }
        for (let j = 0; j < L; j++) {
          const s = gi * L + j;
          b.rows[s] = this.scratch[j < take ? j : 0];
          b.mask[s] = j < take || sampler ? 1 : 0;
          b.sampled[s] = j >= take && sampler ? 1 : 0;
        }
      }
      const n = groups * L;
      this.rowFiller.fillRows(b, n);
      if (sampler) this.topUp(b, groups);
      for (let s = 0; s < n; s++) if (b.mask[s] === 0) b.label[s] = 0;
      if (groups === G) yield b;
      else yield { ...headOf(b, n), groups, listSize: L, mask: b.mask.subarray(0, n), sampled: b.sampled.subarray(0, n) };
    }
  }

  private topUp(b: ListBatch, groups: number): void {
    const L = this.opts.listSize;
    let any = false;
    for (let gi = 0; gi < groups; gi++) {
      let need = 0;
      for (let j = 0; j < L; j++) need += b.sampled[gi * L + j];
      if (!need) continue;
      any = true;
      this.opts.sampler!.sample([b.user[gi * L]], 1, need, this.negs);
      let k = 0;
      for (let j = 0; j < L; j++) {
        const s = gi * L + j;
        if (!b.sampled[s]) continue;
        b.item[s] = this.negs[k++];
        b.label[s] = 0;
        if (b.weight) b.weight[s] = 1;
      }
    }
    if (any) this.itemFiller.fillEntities(b, groups * L);
  }
}
