// Time periods and requests. Events split at two global time cuts into period 1 (fit recall, teacher and production
// pre-ranker), period 2 (pre-ranker training requests) and period 3 (evaluation requests). A request is (user, t);
// its ground truth is what the user did in [t, t + window), cut at its period's end, so no window crosses a cut.
import { Rng } from '../core/random.js';
import { byUserInTime } from '../data/split.js';

export type RequestSplit = 'train' | 'eval';

/** Period 1 is [start, fitEnd), period 2 [fitEnd, trainEnd), period 3 [trainEnd, end]. */
export interface Periods {
  start: number;
  fitEnd: number;
  trainEnd: number;
  end: number;
  events: { fit: number; train: number; eval: number };
}

/** Events as the simulator sees them: one per interaction row, with its raw feedback value. */
export interface EventLog {
  rows: number;
  user: Int32Array;
  item: Int32Array;
  time: Float64Array;
  feedback: Float32Array;
  itemCount: number;
}

export interface GroundTruth {
  item: number;
  feedback: number;
  time: number;
}

export interface Request {
  id: number;
  split: RequestSplit;
  user: number;
  t: number;
  /** Exclusive end of the ground-truth window. */
  windowEnd: number;
  /** Items of the user's events before t, oldest first, distinct (the most recent occurrence kept). */
  seen: Int32Array;
  truth: GroundTruth[];
}

export interface RequestSkips {
  noGroundTruth: number;
}

/** The two cuts at the `fit` and `fit + train` quantiles of event time; fails when a period would be empty. */
export function splitPeriods(time: Float64Array, fit: number, train: number): Periods {
  if (time.length === 0) throw new Error('periods: the dataset has no events');
  const sorted = Float64Array.from(time).sort();
  const n = sorted.length;
  const fitEnd = sorted[Math.min(n - 1, Math.floor(fit * n))];
  const trainEnd = sorted[Math.min(n - 1, Math.floor((fit + train) * n))];
  const count = (lo: number, hi: number): number => lowerBound(sorted, hi) - lowerBound(sorted, lo);
  const p: Periods = { start: sorted[0], fitEnd, trainEnd, end: sorted[n - 1],
    events: { fit: count(-Infinity, fitEnd), train: count(fitEnd, trainEnd), eval: n - lowerBound(sorted, trainEnd) } };
  for (const [k, v] of Object.entries(p.events)) {
    if (v === 0) throw new Error(`periods: period '${k}' has no events (cuts at t = ${fitEnd} and ${trainEnd}; change periods.fit/train)`);
  }
  return p;
}

/** First time each item occurs (Infinity: never): an item is in the corpus at t when it has an event before t. */
export function firstSeen(log: EventLog): Float64Array {
  const f = new Float64Array(log.itemCount).fill(Infinity);
  for (let r = 0; r < log.rows; r++) if (log.time[r] < f[log.item[r]]) f[log.item[r]] = log.time[r];
  return f;
}

export interface RequestOptions {
  count: number;
  /** Requests per user at most (default 1), each at a different time. */
  perUser?: number;
  windowSeconds: number;
  minGroundTruth: number;
}

/**
 * Requests of one split: users with an event in the period, in seeded random order; in round k each user gets its
 * k-th request (k < perUser) until `count` are accepted. t is the time of one of the user's events in the period,
 * drawn uniformly among the events whose time no earlier request of that user took, so requests come when users are
 * active and the ground truth always holds that event unless the user had already seen the item.
 */
export function sampleRequests(log: EventLog, periods: Periods, split: RequestSplit, opts: RequestOptions, rng: Rng,
  firstId = 0): { requests: Request[]; skips: RequestSkips; activeUsers: number } {
  const from = split === 'train' ? periods.fitEnd : periods.trainEnd;
  const to = split === 'train' ? periods.trainEnd : Infinity;
  const { order, start } = byUserInTime(log.user, log.time);
  const inPeriod = new Map<number, Int32Array>();
  for (let u = 0; u + 1 < start.length; u++) {
    const ev = order.subarray(start[u], start[u + 1]).filter((r) => log.time[r] >= from && log.time[r] < to);
    if (ev.length) inPeriod.set(u, ev);
  }
  const users = rng.shuffle(Int32Array.from(inPeriod.keys()));
  const requests: Request[] = [];
  const skips: RequestSkips = { noGroundTruth: 0 };
  for (let round = 0; round < (opts.perUser ?? 1); round++) {
    for (const u of users) {
      if (requests.length >= opts.count) break;
      const left = inPeriod.get(u)!;
      if (!left.length) continue;
      const t = log.time[left[rng.int(left.length)]];
      inPeriod.set(u, left.filter((r) => log.time[r] !== t));
      const req = requestAt(log, order.subarray(start[u], start[u + 1]), u, t, Math.min(t + opts.windowSeconds, to), split);
      if (req.truth.length < opts.minGroundTruth) {
        skips.noGroundTruth++;
        continue;
      }
      req.id = firstId + requests.length;
      requests.push(req);
    }
  }
  return { requests, skips, activeUsers: users.length };
}

/** The request of user u at t: `ev` are the user's events in time order. */
function requestAt(log: EventLog, ev: Int32Array, u: number, t: number, windowEnd: number, split: RequestSplit): Request {
  const seenOrder = new Map<number, number>();
  let k = 0;
  for (; k < ev.length && log.time[ev[k]] < t; k++) {
    seenOrder.delete(log.item[ev[k]]);
    seenOrder.set(log.item[ev[k]], k);
  }
  const truth: GroundTruth[] = [];
  const inTruth = new Set<number>();
  for (; k < ev.length && log.time[ev[k]] < windowEnd; k++) {
    const r = ev[k], it = log.item[r];
    if (seenOrder.has(it) || inTruth.has(it)) continue;
    inTruth.add(it);
    truth.push({ item: it, feedback: log.feedback[r], time: log.time[r] });
  }
  return { id: -1, split, user: u, t, windowEnd, seen: Int32Array.from(seenOrder.keys()), truth };
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
