// Seeded train/val/test splits over row indices. Each split is sorted ascending (row order); batches shuffle later.
import { Rng } from '../core/random.js';

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];
export type Splits = Record<SplitName, Int32Array>;

export interface SplitInput {
  rows: number;
  user: Int32Array;
  time?: Float64Array;
  fold?: Int8Array;
}

export interface SplitOptions {
  method: 'random' | 'temporal' | 'leave-last-out' | 'column';
  val: number;
  test: number;
  seed: number;
}

export function splitRows(data: SplitInput, opts: SplitOptions): Splits {
  const fold = new Int8Array(data.rows);
  if (opts.method === 'column') {
    if (!data.fold) throw new Error("split 'column' needs the fold column");
    fold.set(data.fold);
  } else if (opts.method === 'random') {
    const perm = new Rng(opts.seed).shuffle(Int32Array.from({ length: data.rows }, (_, i) => i));
    const nTest = Math.round(opts.test * data.rows);
    const nVal = Math.round(opts.val * data.rows);
    for (let k = 0; k < nTest; k++) fold[perm[k]] = 2;
    for (let k = nTest; k < nTest + nVal; k++) fold[perm[k]] = 1;
  } else {
    if (!data.time) throw new Error(`split '${opts.method}' needs timestamps`);
    const { order, start } = byUserInTime(data.user, data.time);
    for (let u = 0; u + 1 < start.length; u++) {
      const n = start[u + 1] - start[u];
      let nTest: number, nVal: number;
      if (opts.method === 'leave-last-out') {
        nTest = n >= 2 ? 1 : 0;
        nVal = n >= 3 ? 1 : 0;
      } else {
        nTest = Math.min(Math.round(opts.test * n), n - 1);
        nVal = Math.min(Math.round(opts.val * n), n - 1 - nTest);
      }
      for (let k = 0; k < nTest; k++) fold[order[start[u + 1] - 1 - k]] = 2;
      for (let k = 0; k < nVal; k++) fold[order[start[u + 1] - 1 - nTest - k]] = 1;
    }
  }
  return collect(fold);
}

/**
 * Rows grouped by user (users in id order), each user's rows ordered by (time, row index):
 * user u's rows are order[start[u] .. start[u+1]).
 */
export function byUserInTime(user: Int32Array, time?: Float64Array): { order: Int32Array; start: Int32Array } {
  let users = 0;
  for (let i = 0; i < user.length; i++) if (user[i] + 1 > users) users = user[i] + 1;
  const start = new Int32Array(users + 1);
  for (let i = 0; i < user.length; i++) start[user[i] + 1]++;
  for (let u = 0; u < users; u++) start[u + 1] += start[u];
  const fill = start.slice(0, users);
  const order = new Int32Array(user.length);
  for (let i = 0; i < user.length; i++) order[fill[user[i]]++] = i;
  if (time) {
    for (let u = 0; u < users; u++) {
      const seg = order.subarray(start[u], start[u + 1]);
      seg.sort((a, b) => time[a] - time[b] || a - b);
    }
  }
  return { order, start };
}

function collect(fold: Int8Array): Splits {
  const counts = [0, 0, 0];
  for (let i = 0; i < fold.length; i++) counts[fold[i]]++;
  const out = [new Int32Array(counts[0]), new Int32Array(counts[1]), new Int32Array(counts[2])];
  const at = [0, 0, 0];
  for (let i = 0; i < fold.length; i++) out[fold[i]][at[fold[i]]++] = i;
  return { train: out[0], val: out[1], test: out[2] };
}
