// Derived features, fitted on the training rows only: per-user / per-item statistics and the user history of positive
// items. Statistics of entities without train rows fall back to the global train value (counts to 0).
import type { RawData } from './ingest.js';
import { byUserInTime } from './split.js';
import type { HistorySpec, StatSpec } from './spec-schema.js';

export interface FittedStat {
  /** Raw statistic per entity (before scaling). */
  perEntity: Float64Array;
  fallback: number;
  /** Train rows per entity: the weights of the scaler fit. */
  trainCount: Float64Array;
}

export function fitStat(spec: StatSpec, raw: RawData, train: Int32Array): FittedStat {
  const side = spec.source === 'user' ? raw.user : raw.item;
  const entities = (spec.source === 'user' ? raw.users : raw.items).keys.length;
  let values: ArrayLike<number> = raw.label;
  if (spec.stat === 'mean') {
    const col = raw.rowColumns.get(spec.column ?? '');
    if (col?.kind !== 'num') throw new Error(`stat '${spec.name}': column '${spec.column}' is not a numeric row column`);
    values = col.values;
  }
  const sum = new Float64Array(entities);
  const cnt = new Float64Array(entities);
  let gsum = 0, gcnt = 0;
  for (let k = 0; k < train.length; k++) {
    const r = train[k];
    const v = values[r];
    cnt[side[r]]++;
    if (!Number.isFinite(v)) continue;
    sum[side[r]] += v;
    gsum += v;
    gcnt++;
  }
  const perEntity = new Float64Array(entities);
  if (spec.stat === 'count') {
    perEntity.set(cnt);
    return { perEntity, fallback: 0, trainCount: cnt };
  }
  const g = gcnt > 0 ? gsum / gcnt : 0;
  for (let e = 0; e < entities; e++) {
    const d = cnt[e] + spec.prior;
    perEntity[e] = d > 0 ? (sum[e] + spec.prior * g) / d : g;
  }
  return { perEntity, fallback: g, trainCount: cnt };
}

/**
 * Each user's positive train events in time order (ids already mapped through the shared item vocabulary), and for
 * every row the slice of its user's list it may see: events strictly before the row's time when causal, else all
 * of them minus the row's own event.
 */
export interface FittedHistory {
  maxLen: number;
  /** User u's events are ids[start[u] .. start[u+1]). */
  start: Int32Array;
  ids: Int32Array;
  /** Per row: exclusive end into ids, and an index into ids to leave out (-1: none). */
  end: Int32Array;
  skip: Int32Array;
}

export function fitHistory(spec: HistorySpec, raw: RawData, train: Int32Array, itemIds: Int32Array,
  causal: boolean): FittedHistory {
  if (causal && !raw.time) throw new Error(`history '${spec.name}': causal history needs keys.time`);
  const pos = train.filter((r) => raw.label[r] > 0.5);
  const users = raw.users.keys.length;
  const posUser = new Int32Array(pos.length);
  const posTime = raw.time ? new Float64Array(pos.length) : undefined;
  for (let k = 0; k < pos.length; k++) {
    posUser[k] = raw.user[pos[k]];
    if (posTime && raw.time) posTime[k] = raw.time[pos[k]];
  }
  const grouped = byUserInTime(posUser, posTime);
  const start = new Int32Array(users + 1);
  start.set(grouped.start.subarray(0, Math.min(grouped.start.length, users + 1)));
  for (let u = grouped.start.length; u <= users; u++) start[u] = start[u - 1];
  const ids = new Int32Array(pos.length);
  const times = new Float64Array(pos.length);
  const slot = new Int32Array(raw.rows).fill(-1);
  for (let k = 0; k < pos.length; k++) {
    const r = pos[grouped.order[k]];
    ids[k] = itemIds[raw.item[r]];
    times[k] = raw.time ? raw.time[r] : 0;
    slot[r] = k;
  }
  const end = new Int32Array(raw.rows);
  const skip = new Int32Array(raw.rows).fill(-1);
  for (let r = 0; r < raw.rows; r++) {
    const u = raw.user[r];
    if (!causal || !raw.time) {
      end[r] = start[u + 1];
      skip[r] = slot[r];
      continue;
    }
    let lo = start[u], hi = start[u + 1];
    const t = raw.time[r];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    end[r] = lo;
  }
  return { maxLen: spec.maxLen, start, ids, end, skip };
}

/**
 * Writes row r's history (oldest first, at most maxLen, right-padded with 0) into out; returns its length.
 * r < 0 is a request with no dataset row (e.g. a simulated cascade request): all of the user's fitted positives.
 */
export function gatherHistory(h: FittedHistory, r: number, user: number, out: Int32Array, at: number): number {
  const first = h.start[user];
  const end = r < 0 ? h.start[user + 1] : h.end[r];
  let n = 0;
  let k = end - 1;
  const s = r < 0 ? -1 : h.skip[r];
  while (k >= first && n < h.maxLen) {
    if (k !== s) n++;
    k--;
  }
  let w = at;
  for (let j = k + 1; j < end; j++) if (j !== s) out[w++] = h.ids[j];
  for (let j = n; j < h.maxLen; j++) out[at + j] = 0;
  return n;
}
