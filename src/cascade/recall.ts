// The recall stage: item-to-item co-occurrence (cosine over the sets of users who interacted with each item), fitted
// on period-1 events only, seeded by the user's most recent items before t; popularity (period-1 users per item)
// fills the set when co-occurrence finds fewer than R. Items the caller excludes (seen before t, not yet in the
// corpus at t) never come back. Shape letters: N items, R recall size, M neighbours kept per item.
import type { EventLog } from './periods.js';

export interface RecallOptions {
  /** M: neighbours kept per item. */
  neighbours: number;
}

export class CooccurrenceRecall {
  private readonly score: Float64Array;
  private readonly popOrder: Int32Array;

  private constructor(
    /** [N] distinct period-1 users per item. */
    readonly popularity: Float64Array,
    /** Item i's neighbours are nbrItem[nbrStart[i] .. nbrStart[i+1]) with cosine nbrSim, best first. */
    readonly nbrStart: Int32Array,
    readonly nbrItem: Int32Array,
    readonly nbrSim: Float32Array,
    /** The latest event time the fit saw (for leak checks). */
    readonly fittedUntil: number,
  ) {
    const n = popularity.length;
    this.score = new Float64Array(n);
    this.popOrder = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => popularity[b] - popularity[a] || a - b);
  }

  /** Fits on the events `rows` (the caller passes period-1 rows only). */
  static fit(log: EventLog, rows: Int32Array, opts: RecallOptions): CooccurrenceRecall {
    const N = log.itemCount;
    let users = 0;
    let fittedUntil = -Infinity;
    for (const r of rows) {
      users = Math.max(users, log.user[r] + 1);
      fittedUntil = Math.max(fittedUntil, log.time[r]);
    }
    // distinct (user, item) pairs as CSR both ways
    const pairs = new Set<number>();
    const userItems: number[][] = Array.from({ length: users }, () => []);
    for (const r of rows) {
      const key = log.user[r] * N + log.item[r];
      if (pairs.has(key)) continue;
      pairs.add(key);
      userItems[log.user[r]].push(log.item[r]);
    }
    const itemUsers: number[][] = Array.from({ length: N }, () => []);
    userItems.forEach((items, u) => { for (const i of items) itemUsers[i].push(u); });
    const popularity = Float64Array.from(itemUsers, (l) => l.length);
    const acc = new Float64Array(N);
    const nbrStart = new Int32Array(N + 1);
    const items: number[] = [];
    const sims: number[] = [];
    const touched: number[] = [];
    for (let i = 0; i < N; i++) {
      for (const u of itemUsers[i]) {
        for (const j of userItems[u]) {
          if (j === i) continue;
          if (acc[j] === 0) touched.push(j);
          acc[j]++;
        }
      }
      const cand = touched.map((j) => ({ j, s: acc[j] / Math.sqrt(popularity[i] * popularity[j]) }));
      cand.sort((a, b) => b.s - a.s || a.j - b.j);
      for (const c of cand.slice(0, opts.neighbours)) {
        items.push(c.j);
        sims.push(c.s);
      }
      nbrStart[i + 1] = items.length;
      for (const j of touched) acc[j] = 0;
      touched.length = 0;
    }
    return new CooccurrenceRecall(popularity, nbrStart, Int32Array.from(items), Float32Array.from(sims), fittedUntil);
  }

  get itemCount(): number {
    return this.popularity.length;
  }

  /**
   * Up to R items for a user whose recent items are `seeds` (most recent last), best first: summed cosine to the
   * seeds, then popularity; ties by item id. Fewer than R only when fewer items pass `allowed`.
   */
  recall(seeds: ArrayLike<number>, allowed: (item: number) => boolean, R: number): Int32Array {
    const { score, nbrStart, nbrItem, nbrSim } = this;
    const touched: number[] = [];
    for (let k = 0; k < seeds.length; k++) {
      const s = seeds[k];
      for (let e = nbrStart[s]; e < nbrStart[s + 1]; e++) {
        const j = nbrItem[e];
        if (score[j] === 0) touched.push(j);
        score[j] += nbrSim[e];
      }
    }
    const scored = touched.filter((j) => allowed(j));
    scored.sort((a, b) => score[b] - score[a] || a - b);
    const out = scored.slice(0, R);
    for (const j of touched) score[j] = 0;
    if (out.length < R) {
      const taken = new Set(out);
      for (const j of this.popOrder) {
        if (out.length >= R) break;
        if (!taken.has(j) && allowed(j)) out.push(j);
      }
    }
    return Int32Array.from(out);
  }
}
