// Listwise training batches from a built cascade (in memory): one list per request of a split = up to `caps` samples
// of each stage (impressions, ranking candidates, pre-ranking candidates, random samples; a capped stage is sampled
// uniformly per epoch, stage order kept), padded to L = sum of caps. Per slot: aggregated label y, teacher p (0 where
// the teacher did not score), stage, the pointwise label (impression with feedback > 0) and the hybrid's scopes.
// Features come from the period-1 Dataset the stage models were fitted on (cascade.fit.data): item features from its
// item entities, user features from its user entities, except history features: the user's positive events strictly
// before the request's t (cascade.histories, src/cascade/history.ts); context features stay at padding.
// Shape letters: G lists (requests) per batch, L slots per list.
import { Rng } from '../core/random.js';
import { allocBatch, BatchFiller, headOf, type Batch } from '../data/batch.js';
import type { CascadeSource, RequestLog } from './simulate.js';
import { STAGES } from './labels.js';
import type { RequestSplit } from './periods.js';

/** Samples kept per stage and list (the paper's full-stage sampling sizes). */
export interface StageCaps {
  impression: number;
  ranking_candidate: number;
  prerank_candidate: number;
  random: number;
}

export interface CascadeListOptions {
  listsPerBatch: number;
  caps: StageCaps;
  seed?: number;
  /** Keep only the split's requests passing this (e.g. the training part of a time-based validation cut). */
  only?: (log: RequestLog) => boolean;
}

/** The stage value of a padded slot. */
export const PAD_STAGE = 255;

export interface CascadeListBatch {
  groups: number;
  slots: number;
  /** G user slots (rows -1; histories as of each request's t), for encodeUser. */
  users: Batch;
  /** G*L item slots (padding holds item 0), for encodeItem. */
  items: Batch;
  /** `items` with each slot's request user features (histories as of t) filled in: the pair batch of a single-tower
   * model's forward (filled on the first call). */
  pairs: () => Batch;
  /** [G*L] aggregated label y (0 at padding). */
  labels: Float32Array;
  /** [G*L] teacher probability, 0 where the teacher did not score or at padding. */
  teacher: Float32Array;
  /** [G*L] index into STAGES, PAD_STAGE at padding. */
  stage: Uint8Array;
  /** [G*L] 1 for a real sample, 0 for padding. */
  mask: Float32Array;
  /** [G*L] impression whose raw feedback > 0 (pointwise BCE target). */
  clicked: Float32Array;
  scopes: { impressions: Float32Array; candidates: Float32Array; all: Float32Array };
  /** The G requests' logs (for checks and evaluation). */
  requests: RequestLog[];
}

export class CascadeLists {
  readonly slots: number;
  private readonly logs: RequestLog[];
  private readonly userFiller: BatchFiller;
  private readonly itemFiller: BatchFiller;

  constructor(private readonly cascade: CascadeSource, split: RequestSplit, private readonly opts: CascadeListOptions) {
    this.logs = cascade.logs.filter((e) => e.request.split === split && (opts.only?.(e) ?? true));
    this.slots = STAGES.reduce((s, st) => s + opts.caps[st], 0);
    if (!(this.slots > 0)) throw new Error('cascade lists: every stage cap is 0');
    if (!(opts.listsPerBatch >= 1)) throw new Error('cascade lists: listsPerBatch must be >= 1');
    const data = cascade.fit.data;
    this.userFiller = new BatchFiller(data, ['user']);
    this.itemFiller = new BatchFiller(data, ['item']);
  }

  get listCount(): number {
    return this.logs.length;
  }

  /** Batches in an epoch (a trailing batch of one list joins the one before). */
  get batchesPerEpoch(): number {
    const n = this.logs.length, G = this.opts.listsPerBatch;
    return n > G && n % G === 1 ? Math.floor(n / G) : Math.ceil(n / G);
  }

  /** Batches of epoch e in a seeded order; every batch is freshly allocated (small: G*L slots). */
  *epoch(e = 0): Generator<CascadeListBatch> {
    const G = this.opts.listsPerBatch;
    const rng = new Rng((Math.imul(this.opts.seed ?? this.cascade.config.seed, 0x9e3779b1) + e) >>> 0);
    const order = rng.shuffle(Int32Array.from(this.logs.keys()));
    // a trailing batch of one list joins the one before: a user tower with batch norm cannot train on one row
    const n = order.length;
    const last = n > G && n % G === 1 ? n - G - 1 : Infinity;
    for (let at = 0; at < n; at += G) {
      const end = at === last ? n : Math.min(at + G, n);
      yield this.build(Array.from(order.subarray(at, end), (k) => this.logs[k]), rng);
      if (end === n) break;
    }
  }

  /** The batch of these requests (slots chosen with rng when a stage has more samples than its cap). */
  build(requests: RequestLog[], rng: Rng): CascadeListBatch {
    const data = this.cascade.fit.data;
    const G = requests.length, L = this.slots, n = G * L;
    const users = headOf(allocBatch(data.features, G), G);
    const items = headOf(allocBatch(data.features, n), n);
    const out: CascadeListBatch = { groups: G, slots: L, users, items, labels: new Float32Array(n),
      teacher: new Float32Array(n), stage: new Uint8Array(n).fill(PAD_STAGE), mask: new Float32Array(n),
      clicked: new Float32Array(n), scopes: { impressions: new Float32Array(n), candidates: new Float32Array(n),
        all: new Float32Array(n) }, requests, pairs: () => items };
    users.rows.fill(-1);
    items.rows.fill(-1);
    requests.forEach((log, g) => {
      users.user[g] = log.request.user;
      let s = g * L;
      STAGES.forEach((st, si) => {
        const idx: number[] = [];
        for (let k = 0; k < log.items.length; k++) if (log.stage[k] === si) idx.push(k);
        for (const k of pick(idx, this.opts.caps[st], rng)) {
          items.user[s] = log.request.user;
          items.item[s] = log.items[k];
          out.labels[s] = log.label[k];
          out.teacher[s] = Number.isNaN(log.p[k]) ? 0 : log.p[k];
          out.stage[s] = si;
          out.mask[s] = 1;
          out.clicked[s] = si === 0 && log.feedback[k] > 0 ? 1 : 0;
          out.scopes.impressions[s] = si === 0 ? 1 : 0;
          out.scopes.candidates[s] = si <= 1 ? 1 : 0;
          out.scopes.all[s] = 1;
          s++;
        }
      });
      for (; s < (g + 1) * L; s++) items.user[s] = log.request.user;
    });
    this.userFiller.fillEntities(users, G);
    requests.forEach((log, g) => this.cascade.histories.fill(users, g, log.request.user, log.request.t));
    this.itemFiller.fillEntities(items, n);
    // single-tower models (COLD, LR, ...) need user features on every item slot: filled on first use only
    let paired = false;
    out.pairs = () => {
      if (!paired) {
        this.userFiller.fillEntities(items, n);
        requests.forEach((log, g) => {
          for (let s = g * L; s < (g + 1) * L; s++) this.cascade.histories.fill(items, s, log.request.user, log.request.t);
        });
        paired = true;
      }
      return items;
    };
    return out;
  }
}

/** Up to `cap` of idx, uniformly without replacement, in their original order. */
function pick(idx: number[], cap: number, rng: Rng): number[] {
  if (idx.length <= cap) return idx;
  const a = idx.slice();
  for (let j = 0; j < cap; j++) {
    const r = j + rng.int(a.length - j);
    [a[j], a[r]] = [a[r], a[j]];
  }
  return a.slice(0, cap).sort((x, y) => x - y);
}
