// Prequential (test-then-train) evaluation: every batch is scored by the model before it trains on it. Progressive
// AUC and logloss over the whole stream and per day, from score histograms so the state is small and checkpointed
// with the model: predicted probabilities are binned into BINS equal-width bins (AUC ties within a bin count half,
// i.e. AUC at 1e-4 resolution); logloss is exact (softplus(z) - y z from the logit z).
export const BINS = 10_000;

export interface AccJson {
  events: number;
  lossSum: number;
  /** Sparse histograms: [bin, count] pairs. */
  pos: [number, number][];
  neg: [number, number][];
}

export class BinnedAcc {
  events = 0;
  lossSum = 0;
  private pos = new Float64Array(BINS);
  private neg = new Float64Array(BINS);

  add(logit: number, label: number): void {
    const p = 1 / (1 + Math.exp(-logit));
    const bin = Math.min(BINS - 1, Math.max(0, Math.floor(p * BINS)));
    // A soft label counts as that fraction of a positive.
    this.pos[bin] += label;
    this.neg[bin] += 1 - label;
    const softplus = logit > 0 ? logit + Math.log1p(Math.exp(-logit)) : Math.log1p(Math.exp(logit));
    this.lossSum += softplus - label * logit;
    this.events++;
  }

  /** NaN while one class is missing. */
  auc(): number {
    let negBelow = 0, num = 0, P = 0, N = 0;
    for (let b = 0; b < BINS; b++) {
      num += this.pos[b] * (negBelow + this.neg[b] / 2);
      negBelow += this.neg[b];
      P += this.pos[b];
    }
    N = negBelow;
    return P > 0 && N > 0 ? num / (P * N) : NaN;
  }

  logloss(): number {
    return this.events ? this.lossSum / this.events : NaN;
  }

  toJSON(): AccJson {
    const sparse = (a: Float64Array): [number, number][] => {
      const out: [number, number][] = [];
      for (let b = 0; b < BINS; b++) if (a[b] !== 0) out.push([b, a[b]]);
      return out;
    };
    return { events: this.events, lossSum: this.lossSum, pos: sparse(this.pos), neg: sparse(this.neg) };
  }

  static fromJSON(j: AccJson): BinnedAcc {
    const a = new BinnedAcc();
    a.events = j.events;
    a.lossSum = j.lossSum;
    for (const [b, c] of j.pos) a.pos[b] = c;
    for (const [b, c] of j.neg) a.neg[b] = c;
    return a;
  }
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

export interface DayRecord {
  kind: 'day';
  day: number;
  date: string;
  events: number;
  auc: number | null;
  logloss: number | null;
}

export interface PrequentialJson {
  total: AccJson;
  day: { day: number; acc: AccJson } | null;
}

/** Running totals plus the current day's accumulator; `add` returns a finished day's record when the day changes. */
export class Prequential {
  total = new BinnedAcc();
  private day: { day: number; acc: BinnedAcc } | null = null;

  /** Adds one scored event; returns the record of the previous day when this event starts a new one. */
  add(logit: number, label: number, time: number): DayRecord | null {
    this.total.add(logit, label);
    if (!Number.isFinite(time)) return null;
    const d = Math.floor(time / 86400);
    let done: DayRecord | null = null;
    if (this.day && d > this.day.day) {
      done = this.dayRecord();
      this.day = null;
    }
    this.day ??= { day: d, acc: new BinnedAcc() };
    this.day.acc.add(logit, label);
    return done;
  }

  /** The current (unfinished) day's record, or null. */
  dayRecord(): DayRecord | null {
    if (!this.day) return null;
    const { day, acc } = this.day;
    return { kind: 'day', day, date: new Date(day * 86400_000).toISOString().slice(0, 10), events: acc.events, auc: num(acc.auc()), logloss: num(acc.logloss()) };
  }

  toJSON(): PrequentialJson {
    return { total: this.total.toJSON(), day: this.day ? { day: this.day.day, acc: this.day.acc.toJSON() } : null };
  }

  static fromJSON(j: PrequentialJson): Prequential {
    const p = new Prequential();
    p.total = BinnedAcc.fromJSON(j.total);
    p.day = j.day ? { day: j.day.day, acc: BinnedAcc.fromJSON(j.day.acc) } : null;
    return p;
  }
}

export { num as finiteOrNull };
