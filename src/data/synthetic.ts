// A small synthetic interaction log with learnable structure (users prefer items whose category matches a latent
// taste), written as CSV files plus the config that reads them: for tests and demos without real data.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../core/random.js';
import { parseDataConfig, type DataConfig, type DataConfigInput } from './spec.js';

export interface SyntheticOptions {
  users?: number;
  items?: number;
  interactionsPerUser?: number;
  seed?: number;
}

const GENRES = ['action', 'comedy', 'drama', 'horror', 'romance', 'scifi'];
const DEVICES = ['ios', 'android', 'web'];

/** Writes users.csv, items.csv and events.csv into dir; returns the config input (edit it, then parseDataConfig). */
export function writeSyntheticLog(dir: string, opts: SyntheticOptions = {}): DataConfigInput {
  const U = opts.users ?? 60, I = opts.items ?? 80, K = opts.interactionsPerUser ?? 20;
  const rng = new Rng(opts.seed ?? 7);
  mkdirSync(dir, { recursive: true });
  const taste = Array.from({ length: U }, () => rng.int(GENRES.length));
  const users = ['user_id,gender,age', ...Array.from({ length: U }, (_, u) =>
    `u${u},${rng.uniform() < 0.5 ? 'F' : 'M'},${18 + rng.int(50)}`)];
  const itemGenre = Array.from({ length: I }, () => rng.int(GENRES.length));
  const items = ['item_id,category,genres,price', ...Array.from({ length: I }, (_, i) => {
    const second = GENRES[(itemGenre[i] + 1 + rng.int(GENRES.length - 1)) % GENRES.length];
    return `i${i},c${i % 5},${GENRES[itemGenre[i]]}|${second},${(1 + rng.uniform() * 99).toFixed(2)}`;
  })];
  const events = ['user_id,item_id,rating,ts,device'];
  for (let u = 0; u < U; u++) {
    let t = 1_000_000 + rng.int(1000);
    for (let k = 0; k < K; k++) {
      const i = rng.int(I);
      const likes = itemGenre[i] === taste[u];
      const rating = Math.max(1, Math.min(5, Math.round((likes ? 4.3 : 2.5) + rng.normal() * 0.8)));
      t += 1 + rng.int(100);
      events.push(`u${u},i${i},${rating},${t},${DEVICES[rng.int(DEVICES.length)]}`);
    }
  }
  writeFileSync(join(dir, 'users.csv'), `${users.join('\n')}\n`);
  writeFileSync(join(dir, 'items.csv'), `${items.join('\n')}\n`);
  writeFileSync(join(dir, 'events.csv'), `${events.join('\n')}\n`);
  return {
    name: 'synthetic',
    seed: opts.seed ?? 7,
    sources: {
      interactions: { path: join(dir, 'events.csv') },
      users: { path: join(dir, 'users.csv'), key: 'user_id' },
      items: { path: join(dir, 'items.csv'), key: 'item_id' },
    },
    keys: { user: 'user_id', item: 'item_id', time: 'ts' },
    label: { column: 'rating', rule: { op: '>', value: 3 }, drop: [] },
    features: [
      { kind: 'sparse', name: 'user_id', source: 'user', dim: 8 },
      { kind: 'sparse', name: 'gender', source: 'user' },
      { kind: 'dense', name: 'age', source: 'user', scaler: 'minmax' },
      { kind: 'sparse', name: 'item_id', source: 'item', dim: 8 },
      { kind: 'sparse', name: 'category', source: 'item' },
      { kind: 'sequence', name: 'genres', source: 'item', separator: '|', maxLen: 3, pooling: 'mean' },
      { kind: 'dense', name: 'price', source: 'item', scaler: 'log1p' },
      { kind: 'sparse', name: 'device', source: 'context' },
    ],
    derived: [
      { kind: 'stat', name: 'user_ctr', source: 'user', stat: 'meanLabel' },
      { kind: 'stat', name: 'item_count', source: 'item', stat: 'count', scaler: 'log1p' },
      { kind: 'history', name: 'user_hist', shareWith: 'item_id', maxLen: 5 },
    ],
    split: { method: 'random', val: 0.1, test: 0.2 },
  };
}

export function syntheticConfig(dir: string, opts: SyntheticOptions = {}): DataConfig {
  return parseDataConfig(writeSyntheticLog(dir, opts));
}
