// What every scorer does with a request before scoring (the server's, src/serve/scorers, and a page's WebBundle):
// the user object's keys checked against the bundle's raw user/context columns, its values encoded with the
// bundle's encoders into a 1-row batch (unknown values -> OOV, counted per feature), and the user's stored rep
// looked up (bundles with stored user encodings).
import { allocBatch, type Batch } from '../data/batch.js';
import type { EncodedRow, FeatureEncoders } from '../data/encoders.js';
import { featureColumn, type FeatureSpec } from '../data/spec-schema.js';
import { rawKey, type RawValue } from '../data/vocabulary.js';
import type { RecModel } from '../models/types.js';
import { own } from '../util/own.js';
import type { UserEncodings } from './bundle-ids.js';
import type { BundleManifest } from './manifest-format.js';
import { RequestError, type UserFeatures } from './requests.js';

const USER_SOURCES: ('user' | 'context')[] = ['user', 'context'];

export interface PreparedUser {
  row: EncodedRow;
  /** Features whose value mapped to OOV in this request, in the encoders' order. */
  oov: string[];
  lookups: Record<string, number>;
  oovs: Record<string, number>;
  /** The user's stored rep (a view into the bundle's user encodings), or null: the user tower encodes the user. */
  stored: Float32Array | null;
}

/** What request preparation needs of a loaded bundle (a Node Bundle, or a page's WebBundle). */
export interface UserSide {
  readonly manifest: BundleManifest;
  /** Null when the bundle was loaded without its user side. */
  readonly model: RecModel | null;
  readonly encoders: FeatureEncoders | null;
  readonly userEncodings: UserEncodings | null;
}

export class UserRequests {
  /**
   * The last prepared user's features, row 0. Shared by every request of a scorer: a scorer reads it before its
   * first await (the next request refills it).
   */
  readonly batch: Batch;
  /** Raw columns a request's user object may contain. */
  readonly columns: Set<string>;
  /** The encoders' user key column (and the users table's key column, when it has another name). */
  private readonly keyColumns: string[];

  constructor(private readonly bundle: UserSide) {
    const enc = bundle.encoders;
    if (!bundle.model || !enc) throw new Error('Scorer: the bundle was loaded without the user tower (parts "item")');
    this.batch = allocBatch(bundle.manifest.features.filter((f) => f.source !== 'item'), 1);
    const { keys, features } = enc.spec;
    this.keyColumns = keys.usersKey ? [keys.user, keys.usersKey] : [keys.user];
    const cols = new Set<string>(this.keyColumns);
    for (const f of features as FeatureSpec[]) {
      if (f.source === 'item') continue;
      if (f.kind === 'sequence' && f.flagColumns) f.flagColumns.forEach((c) => cols.add(c));
      else cols.add(featureColumn(f));
    }
    this.columns = cols;
  }

  /** Validates and encodes the user's raw features (OOV counted) into row 0 of `batch`. */
  prepare(user: UserFeatures): PreparedUser {
    for (const k of Object.keys(user)) {
      if (!this.columns.has(k)) throw new RequestError(`user.${k}`, `unknown user feature '${k}' (known: ${[...this.columns].join(', ')})`);
    }
    const enc = this.bundle.encoders!;
    const before = Object.fromEntries(Object.entries(enc.oov).map(([f, c]) => [f, { ...c }]));
    const row = enc.encodeRow(user, USER_SOURCES);
    const lookups: Record<string, number> = {};
    const oovs: Record<string, number> = {};
    const oov: string[] = [];
    for (const [f, c] of Object.entries(enc.oov)) {
      const l = c.lookups - (before[f]?.lookups ?? 0);
      const o = c.oov - (before[f]?.oov ?? 0);
      if (l) lookups[f] = l;
      if (o) {
        oovs[f] = o;
        oov.push(f);
      }
    }
    fillRow(this.batch, row, 0);
    return { row, oov, lookups, oovs, stored: this.storedRep(user) };
  }

  /** The stored rep of the request's user (by the user key column), or null (no stored encodings, or a cold user). */
  private storedRep(user: UserFeatures): Float32Array | null {
    const enc = this.bundle.userEncodings;
    if (!enc) return null;
    for (const c of this.keyColumns) {
      const key = rawKey(own(user, c) as RawValue);
      const r = key === null ? -1 : enc.ids.indexOf(key);
      if (r >= 0) return enc.data.subarray(r * enc.dim, (r + 1) * enc.dim);
    }
    return null;
  }
}

/** Writes one encoded row's user/context features into slot i of a batch. */
export function fillRow(b: Batch, row: EncodedRow, i: number): void {
  for (const [k, v] of Object.entries(row.sparse)) b.sparse[k][i] = v;
  for (const [k, v] of Object.entries(row.dense)) b.dense[k][i] = v;
  for (const [k, ids] of Object.entries(row.sequence)) {
    const s = b.sequence[k];
    const L = s.maxLen;
    const len = Math.min(L, ids.length);
    s.ids.fill(0, i * L, i * L + L);
    s.ids.set(ids.subarray(0, len), i * L);
    s.lengths[i] = len;
  }
}
