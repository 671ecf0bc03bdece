// User histories as of a request's time t: a history feature of a cascade request (user, t) holds the
// user's positive events strictly before t, whatever period they fall in: what a production system knows at t. The
// stage models' Dataset only holds period 1, so its own histories are frozen at the first cut; this rebuilds them
// from every event with the Dataset's label rule, `drop` values and item vocabulary (items first seen after the cut
// map to OOV, as for the item tower). Used by the simulator's stage scorers, the training lists and the evaluation.
// Shape letters: E positive events of one user, L a history feature's maxLen.
import type { Batch } from '../data/batch.js';
import type { Dataset } from '../data/dataset.js';
import { ruleLabel } from '../data/spec.js';
import { byUserInTime } from '../data/split.js';
import type { EventLog } from './periods.js';

interface UserEvents {
  /** User u's positive events are rows[start[u] .. start[u+1]), in time order (ties: row order). */
  start: Int32Array;
  rows: Int32Array;
  times: Float64Array;
}

interface HistoryFeature {
  name: string;
  maxLen: number;
  /** Item entity -> id in the shared item feature's vocabulary. */
  itemIds: Int32Array;
}

export class RequestHistories {
  private constructor(private readonly log: EventLog, private readonly events: UserEvents,
    readonly features: HistoryFeature[]) {}

  /** Positive events of `log` (data's label rule, its drop values left out) for every user-side history feature. */
  static fit(data: Dataset, log: EventLog): RequestHistories {
    const cfg = data.config;
    const drop = new Set(cfg.label.drop);
    const pos = Int32Array.from({ length: log.rows }, (_, r) => r)
      .filter((r) => !drop.has(log.feedback[r]) && ruleLabel(cfg.label.rule, log.feedback[r]) > 0.5);
    const grouped = byUserInTime(Int32Array.from(pos, (r) => log.user[r]), Float64Array.from(pos, (r) => log.time[r]));
    const users = data.userKeys.length;
    const start = new Int32Array(users + 1);
    start.set(grouped.start.subarray(0, Math.min(grouped.start.length, users + 1)));
    for (let u = grouped.start.length; u <= users; u++) start[u] = start[u - 1];
    const rows = Int32Array.from(grouped.order, (k) => pos[k]);
    const times = Float64Array.from(rows, (r) => log.time[r]);
    const features: HistoryFeature[] = [];
    for (const f of data.features) {
      if (f.derived !== 'history' || f.source !== 'user') continue;
      const spec = cfg.derived.find((d) => d.name === f.name);
      if (spec?.kind !== 'history') throw new Error(`request histories: '${f.name}' has no history spec in data config '${cfg.name}'`);
      const itemIds = data.tables.item.sparse.get(spec.shareWith);
      if (!itemIds) throw new Error(`request histories: '${f.name}' shares '${spec.shareWith}', which is not an item sparse feature`);
      features.push({ name: f.name, maxLen: f.maxLen ?? spec.maxLen, itemIds });
    }
    return new RequestHistories(log, { start, rows, times }, features);
  }

  /** The event rows of `user`'s history at t: its last `maxLen` positive events with time < t, oldest first. */
  rowsAt(user: number, t: number, maxLen: number): Int32Array {
    const { start, rows, times } = this.events;
    let lo = start[user], hi = start[user + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return rows.subarray(Math.max(start[user], lo - maxLen), lo);
  }

  /** Writes every history feature of slot i of b as of (user, t): ids left-aligned, padded with 0. */
  fill(b: Batch, i: number, user: number, t: number): void {
    for (const f of this.features) {
      const s = b.sequence[f.name];
      const got = this.rowsAt(user, t, s.maxLen);
      const at = i * s.maxLen;
      for (let j = 0; j < got.length; j++) s.ids[at + j] = f.itemIds[this.log.item[got[j]]];
      s.ids.fill(0, at + got.length, at + s.maxLen);
      s.lengths[i] = got.length;
    }
  }
}
