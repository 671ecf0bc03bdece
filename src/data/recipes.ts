// Built-in dataset recipes: IntTower's MovieLens setup (the paper's and its code's preprocessing) for the three
// MovieLens layouts.
// configs/data/*.json hold the same configs as files (a test keeps them equal); any other dataset is a config file.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDataConfig, type DataConfig, type DataConfigInput } from './spec.js';

export const ML_100K_GENRES = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime',
  'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller',
  'War', 'Western'];
export const ML_1M_PARTIAL_NAME = 'ML-1M partial (users 1-2999)';
export const ML_1M_PARTIAL_FILE = 'ratings.PARTIAL-users-0001-2999.dat.gz';

export const RECIPES = ['ml-100k', 'ml-1m', 'ml-latest-small'] as const;
export type RecipeName = (typeof RECIPES)[number];

/** The repository root (this file is dist/src/data/recipes.js once built). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** ../shared/data beside the repository, or $PRERANK_SHARED_DATA. */
export function sharedDataDir(): string {
  return process.env.PRERANK_SHARED_DATA ?? resolve(REPO_ROOT, '../shared/data');
}

export function embeddedDataDir(): string {
  return join(REPO_ROOT, 'data/ml-latest-small');
}

type Input = DataConfigInput;
const intTowerCommon = (): Pick<Input, 'seed' | 'onBadRow' | 'label' | 'split'> => ({
  seed: 42,
  onBadRow: 'error',
  label: { column: 'rating', rule: { op: '>', value: 3 }, drop: [3] },
  split: { method: 'random', val: 0.1, test: 0.2 },
});

const meanRatings = (): NonNullable<Input['derived']> => [
  { kind: 'stat', name: 'user_mean_rating', source: 'user', stat: 'mean', column: 'rating', scaler: 'standard' },
  { kind: 'stat', name: 'item_mean_rating', source: 'item', stat: 'mean', column: 'rating', scaler: 'standard' },
];

const demographics = (): Input['features'] => [
  { kind: 'sparse', name: 'user_id', source: 'user', dim: 32 },
  { kind: 'sparse', name: 'gender', source: 'user', dim: 32 },
  { kind: 'sparse', name: 'age', source: 'user', dim: 32 },
  { kind: 'sparse', name: 'occupation', source: 'user', dim: 32 },
  { kind: 'sparse', name: 'movie_id', source: 'item', dim: 32 },
];

/** A recipe as a config object (paths as given, unresolved); `recipeConfig` validates and resolves it. */
export function recipeInput(name: RecipeName, dir: string): DataConfigInput {
  if (name === 'ml-100k') {
    return {
      name: 'ML-100K', ...intTowerCommon(),
      sources: {
        interactions: { path: join(dir, 'u.data.gz'), format: 'tsv', header: false,
          columns: ['user_id', 'movie_id', 'rating', 'timestamp'] },
        users: { path: join(dir, 'u.user'), delimiter: '|', header: false, key: 'user_id',
          columns: ['user_id', 'age', 'gender', 'occupation', 'zip'] },
        items: { path: join(dir, 'u.item'), delimiter: '|', header: false, encoding: 'latin-1', quote: '',
          key: 'movie_id', columns: ['movie_id', 'title', 'release_date', 'video_release_date', 'imdb_url', ...ML_100K_GENRES] },
      },
      keys: { user: 'user_id', item: 'movie_id', time: 'timestamp' },
      features: [...demographics(), { kind: 'sequence', name: 'genres', source: 'item', flagColumns: ML_100K_GENRES,
        pooling: 'mean', maxLen: 6, dim: 32 }],
      derived: meanRatings(),
    };
  }
  if (name === 'ml-1m') {
    const full = ['ratings.dat', 'ratings.dat.gz'].find((f) => existsSync(join(dir, f)));
    return {
      name: full ? 'ML-1M' : ML_1M_PARTIAL_NAME, ...intTowerCommon(),
      sources: {
        interactions: { path: join(dir, full ?? ML_1M_PARTIAL_FILE), delimiter: '::', header: false, quote: '',
          columns: ['user_id', 'movie_id', 'rating', 'timestamp'] },
        users: { path: join(dir, 'users.dat'), delimiter: '::', header: false, quote: '', key: 'user_id',
          columns: ['user_id', 'gender', 'age', 'occupation', 'zip'] },
        items: { path: join(dir, 'movies.dat'), delimiter: '::', header: false, quote: '', encoding: 'latin-1',
          key: 'movie_id', columns: ['movie_id', 'title', 'genres'] },
      },
      keys: { user: 'user_id', item: 'movie_id', time: 'timestamp' },
      features: [...demographics(), { kind: 'sequence', name: 'genres', source: 'item', separator: '|', pooling: 'mean',
        maxLen: 6, dim: 32 }],
      derived: meanRatings(),
    };
  }
  return {
    name: 'ml-latest-small', ...intTowerCommon(),
    sources: {
      interactions: { path: join(dir, 'ratings.csv.gz') },
      items: { path: join(dir, 'movies.csv'), key: 'movieId' },
      lists: [{ path: join(dir, 'tags.csv'), side: 'item', key: 'movieId', column: 'tag', as: 'tags', lowercase: true }],
    },
    keys: { user: 'userId', item: 'movieId', time: 'timestamp' },
    features: [
      { kind: 'sparse', name: 'user_id', source: 'user', column: 'userId', dim: 32 },
      { kind: 'sparse', name: 'movie_id', source: 'item', column: 'movieId', dim: 32 },
      { kind: 'sequence', name: 'genres', source: 'item', separator: '|', pooling: 'mean', maxLen: 6, dim: 32 },
      { kind: 'sequence', name: 'tags', source: 'item', pooling: 'mean', maxLen: 16, minFreq: 2, dim: 32 },
    ],
    derived: [...meanRatings(),
      { kind: 'history', name: 'liked_movies', shareWith: 'movie_id', maxLen: 20, pooling: 'mean' }],
  };
}

export function recipeConfig(name: RecipeName, dir?: string): DataConfig {
  const d = dir ?? (name === 'ml-latest-small' ? embeddedDataDir() : join(sharedDataDir(), name));
  return parseDataConfig(recipeInput(name, d));
}

/** Why a recipe cannot run here (its files are absent), or undefined when it can. */
export function recipeMissing(name: RecipeName, dir?: string): string | undefined {
  const cfg = recipeInput(name, dir ?? (name === 'ml-latest-small' ? embeddedDataDir() : join(sharedDataDir(), name)));
  const s = cfg.sources;
  const paths = [s.interactions.path, s.users?.path, s.items?.path, ...(s.lists ?? []).map((l) => l.path)];
  const absent = paths.filter((p): p is string => !!p && !existsSync(p));
  return absent.length ? `${cfg.name}: data not found (${absent.join(', ')})` : undefined;
}
