// The serving core: a request in, a response out, over a loaded bundle and an item store. Encodes the user's raw
// features with the bundle's encoders (unknown values -> OOV, counted), runs the user tower once, fetches the
// candidates' cached representations, scores them all with the model's own score(), sorts and cuts. Unknown
// candidate ids are reported, never an error. Single-tower bundles score full (user, item) pairs instead.
// Two-tower bundles with a serving plan (DSSM, DAT, IntTower; native addon loaded) run user tower + score + top-n
// as one native call, reading item reps in place when the store holds a float32 table in process; otherwise the
// model's encodeUser + score run on tensors. The engine calls are synchronous; the only await is the store lookup,
// and no tensor scope spans it.
// Bundles with stored user encodings (a training strategy's, OneBP): a request whose user key (the encoders' user
// key column) has a stored rep is scored from that rep — the user tower is skipped (compiled: the plan's scoreRep,
// on the calling thread: these are dot-product models, ~U multiply-adds per candidate); any other user (a cold
// user) goes through the user tower as above.
// Shape letters: U user rep width, I item rep width, M candidates found, K top-k.
import { noGrad, scope, Tensor } from '../core/index.js';
import { allocBatch, type Batch } from '../data/batch.js';
import { featureColumn, type EncodedRow, type FeatureSpec } from '../data/index.js';
import { topK } from '../eval/top-k.js';
import { rawKey, type RawValue } from '../data/vocabulary.js';
import type { Bundle } from '../export/bundle.js';
import { firstIds } from '../export/id-table.js';
import { decodeRow } from '../export/item-table.js';
import { own } from '../util/own.js';
import type { AnnIndex } from './ann.js';
import { compileUserSide, type TableDType, type CompiledUserSide } from './compiled.js';
import type { ItemStore } from './stores/types.js';

export type RawFeatureValue = string | number | boolean | null | (string | number)[];
export type UserFeatures = Record<string, RawFeatureValue>;
export type ItemId = string | number;

export interface PrerankRequest {
  user: UserFeatures;
  candidates: ItemId[];
  /** Top-n to return (default: all). */
  n?: number;
}

export interface RetrieveRequest {
  user: UserFeatures;
  k: number;
}

export interface ScoredItem {
  id: ItemId;
  /** The model's logit (sigmoid gives the click probability). */
  score: number;
}

export interface ScoreResponse {
  items: ScoredItem[];
  /** Candidate ids the item store does not know, in request order. */
  unknown: ItemId[];
  /** User-side features whose value mapped to OOV. */
  oov: string[];
  modelVersion: string;
}

export interface ScoreStats {
  route: 'prerank' | 'score' | 'retrieve';
  candidates: number;
  unknown: number;
  /** Per feature: vocabulary lookups and OOV results of this request. */
  lookups: Record<string, number>;
  oovs: Record<string, number>;
  /** Where the user rep came from: a stored encoding (OneBP bundles) or the user tower. */
  userRep?: 'stored' | 'tower';
}

/** A request that is well-formed JSON but does not fit the bundle: HTTP 400 with the path of the bad field. */
export class RequestError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

/** Something the deployment cannot do (e.g. retrieval for a max-sim model): HTTP 501/409. */
export class UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedError';
  }
}

export interface ScorerOptions {
  store: ItemStore | null;
  ann?: AnnIndex | null;
  observe?: (s: ScoreStats) => void;
  /**
   * Compiled scoring of at least this many multiply-adds runs on a libuv worker thread instead of the event loop
   * (default 8M: ~20-40 us of arithmetic, several times the thread hop; IntTower 2 x 64 at 1,000 candidates stays on
   * the loop, 32 x 64 moves off it).
   */
  asyncAboveMacs?: number;
}

export const ASYNC_ABOVE_MACS = 8_000_000;

const USER_SOURCES: ('user' | 'context')[] = ['user', 'context'];

interface PreparedUser {
  row: EncodedRow;
  /** Features whose value mapped to OOV in this request. */
  oov: string[];
  lookups: Record<string, number>;
  oovs: Record<string, number>;
  /** The user's stored rep (a view into the bundle's user encodings), or null: the user tower encodes the user. */
  stored: Float32Array | null;
}

export class Scorer {
  private readonly userBatch: Batch;
  /** Raw columns a request's user object may contain. */
  readonly userColumns: Set<string>;
  /** The one-call native path (null: tensors). */
  readonly compiled: CompiledUserSide | null;
  observe: ((s: ScoreStats) => void) | undefined;
  private readonly asyncAboveMacs: number;
  /** The encoders' user key column (and the users table's key column, when it has another name). */
  private readonly userKeyColumns: string[];

  constructor(readonly bundle: Bundle, private readonly opts: ScorerOptions) {
    if (!bundle.model || !bundle.encoders) throw new Error('Scorer: the bundle was loaded without the user tower (parts "item")');
    if (bundle.twoTower && !opts.store) throw new Error('Scorer: a two-tower bundle needs an item store');
    if (!bundle.twoTower && !bundle.itemFeatures) throw new Error('Scorer: a single-tower bundle needs its item features (load parts "all")');
    if (opts.store && bundle.manifest.items.cached && opts.store.dim !== bundle.manifest.items.dim) {
      throw new Error(`Scorer: the item store holds ${opts.store.dim}-wide reps, the bundle's item tower gives ${bundle.manifest.items.dim}`);
    }
    this.observe = opts.observe;
    this.userBatch = allocBatch(bundle.manifest.features.filter((f) => f.source !== 'item'), 1);
    const j = bundle.encoders.spec;
    const cols = new Set<string>([j.keys.user]);
    if (j.keys.usersKey) cols.add(j.keys.usersKey);
    this.userKeyColumns = j.keys.usersKey ? [j.keys.user, j.keys.usersKey] : [j.keys.user];
    for (const f of j.features as FeatureSpec[]) {
      if (f.source === 'item') continue;
      if (f.kind === 'sequence' && f.flagColumns) f.flagColumns.forEach((c) => cols.add(c));
      else cols.add(featureColumn(f));
    }
    this.userColumns = cols;
    this.compiled = bundle.twoTower ? compileUserSide(bundle.model) : null;
    this.asyncAboveMacs = opts.asyncAboveMacs ?? ASYNC_ABOVE_MACS;
  }

  /** How the compiled plan treats decoded (float32) rows of this bundle's table. */
  private get decodedDtype(): TableDType {
    return this.bundle.manifest.items.cached && this.bundle.manifest.items.dtype === 'bfloat16' ? 'bfloat16' : 'float32';
  }

  get modelVersion(): string {
    return this.bundle.modelVersion;
  }

  /** Top-n candidates by score. */
  prerank(req: PrerankRequest): Promise<ScoreResponse> {
    return this.run(req, req.n ?? req.candidates.length, 'prerank');
  }

  /** Every known candidate, sorted by score (no cut). */
  scoreAll(req: Omit<PrerankRequest, 'n'>): Promise<ScoreResponse> {
    return this.run(req, req.candidates.length, 'score');
  }

  /** Top-k of the whole catalogue from the ANN index, rescored exactly with the model's score. */
  async retrieve(req: RetrieveRequest): Promise<ScoreResponse> {
    const { ann } = this.opts;
    const items = this.bundle.items;
    const info = this.bundle.manifest.items;
    if (!info.cached || !info.retrieval) throw new UnsupportedError(`model '${this.bundle.manifest.model.kind}' scores are not an inner product of user and item reps: retrieval needs a DSSM-like model`);
    if (!ann || !items) throw new UnsupportedError('no ANN index in this deployment (the item table is not loaded in process)');
    const user = this.encodeUser(req.user);
    const rows = ann.search(user.rep, req.k);
    const m = rows.length;
    const reps = new Float32Array(m * items.dim);
    for (let k = 0; k < m; k++) decodeRow(items, rows[k], reps, k * items.dim);
    // The rep the index was searched with (stored, or the tower's output) scores the hits: no second tower pass.
    const scores = this.compiled ? this.compiled.rankRep(user.rep, reps, null, m, 0, this.decodedDtype).scores : this.scorePairs(user.rep, reps, m);
    const order = topK(scores, m, undefined, 'last');
    const out = Array.from(order, (k) => ({ id: items.ids.keyAt(rows[k]), score: scores[k] }));
    this.observe?.({ route: 'retrieve', candidates: m, unknown: 0, lookups: user.lookups, oovs: user.oovs, userRep: user.stored ? 'stored' : 'tower' });
    return { items: out, unknown: [], oov: user.oov, modelVersion: this.modelVersion };
  }

  private async run(req: Omit<PrerankRequest, 'n'>, n: number, route: 'prerank' | 'score'): Promise<ScoreResponse> {
    const ids = req.candidates.every((c) => typeof c === 'string') ? (req.candidates as string[]) : req.candidates.map(String);
    let found: Int32Array, scores: Float32Array, order: Int32Array, user: PreparedUser;
    if (this.compiled) {
      user = this.prepareUser(req.user);
      const store = this.opts.store!;
      const at = store.locate?.(ids) ?? null;
      // The input is written before any await (the next request refills userBatch): into the reused buffer when
      // the whole request runs synchronously, into a fresh array when it waits for the store or a worker thread.
      const m = at ? at.found.length : -1;
      const sync = at !== null && this.compiled.work(m) < this.asyncAboveMacs;
      const input = user.stored ? null : sync ? this.compiled.inputView(this.userBatch) : this.compiled.input(this.userBatch); // stored rep: no tower input
      const lookup = at ? null : await store.get(ids);
      found = (at ?? lookup!).found;
      // Decoded rows (Redis) are float32, but a bf16 bundle's still score as bf16 (compiled.ts, TableDType).
      const [table, rows, dtype, scales] = at ? [at.table.data, at.rows, at.table.dtype, at.table.scales] : [lookup!.reps, null, this.decodedDtype, undefined];
      const stored = user.stored; // a view into the bundle's user encodings: valid across the await
      ({ scores, top: order } = stored ? this.compiled.rankRep(stored, table, rows, found.length, n, dtype, scales)
        : this.compiled.work(found.length) >= this.asyncAboveMacs // never when sync
          ? await this.compiled.rankAsync(input!, table, rows, found.length, n, dtype, scales)
          : this.compiled.rank(input!, table, rows, found.length, n, dtype, scales));
    } else if (this.bundle.twoTower) {
      const encoded = this.encodeUser(req.user);
      user = encoded;
      const lookup = await this.opts.store!.get(ids);
      found = lookup.found;
      scores = this.scorePairs(encoded.rep, lookup.reps, found.length);
      order = topK(scores, n, undefined, 'last');
    } else {
      user = this.prepareUser(req.user);
      ({ found, scores } = this.scoreFullPairs(user.row, ids));
      order = topK(scores, n, undefined, 'last');
    }
    const unknown = found.length < ids.length ? this.unknownIds(req.candidates, found) : [];
    const items = Array.from(order, (k) => ({ id: req.candidates[found[k]], score: scores[k] }));
    this.observe?.({ route, candidates: ids.length, unknown: unknown.length, lookups: user.lookups, oovs: user.oovs,
      ...(this.bundle.twoTower ? { userRep: user.stored ? 'stored' as const : 'tower' as const } : {}) });
    return { items, unknown, oov: user.oov, modelVersion: this.modelVersion };
  }

  private unknownIds(candidates: ItemId[], found: Int32Array): ItemId[] {
    const hit = new Uint8Array(candidates.length);
    for (const i of found) hit[i] = 1;
    return candidates.filter((_, i) => !hit[i]);
  }

  /** Validates and encodes the user's raw features and runs the user tower once (or takes the user's stored rep). */
  encodeUser(user: UserFeatures): PreparedUser & { rep: Float32Array } {
    const prepared = this.prepareUser(user);
    if (prepared.stored) return { ...prepared, rep: Float32Array.from(prepared.stored) };
    if (this.compiled) return { ...prepared, rep: this.compiled.encode(this.compiled.inputView(this.userBatch)) };
    const model = this.bundle.model!;
    const rep = noGrad(() => scope(() => {
      const u = model.encodeUser ? model.encodeUser(this.userBatch) : null;
      return u ? (u.data as Float32Array).slice(0, u.cols) : new Float32Array(0);
    }));
    return { ...prepared, rep };
  }

  /** Validates and encodes the user's raw features (OOV counted) into the 1-row user batch. */
  private prepareUser(user: UserFeatures): PreparedUser {
    for (const k of Object.keys(user)) {
      if (!this.userColumns.has(k)) throw new RequestError(`user.${k}`, `unknown user feature '${k}' (known: ${[...this.userColumns].join(', ')})`);
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
    fillRow(this.userBatch, row, 0);
    return { row, oov, lookups, oovs, stored: this.storedRep(user) };
  }

  /** The stored rep of the request's user (by the user key column), or null (no stored encodings, or a cold user). */
  private storedRep(user: UserFeatures): Float32Array | null {
    const enc = this.bundle.userEncodings;
    if (!enc) return null;
    for (const c of this.userKeyColumns) {
      const key = rawKey(own(user, c) as RawValue);
      const r = key === null ? -1 : enc.ids.indexOf(key);
      if (r >= 0) return enc.data.subarray(r * enc.dim, (r + 1) * enc.dim);
    }
    return null;
  }

  /** score(user [1, U], items [M, I]) -> [M]. */
  private scorePairs(rep: Float32Array, reps: Float32Array, m: number): Float32Array {
    if (m === 0) return new Float32Array(0);
    const model = this.bundle.model!;
    const dim = reps.length / m;
    return noGrad(() => scope(() => (model.score!(Tensor.from(rep, [1, rep.length]), Tensor.from(reps, [m, dim])).data as Float32Array).slice(0, m)));
  }

  /** Single-tower: a batch of M (user, item) rows -> forward -> [M]. */
  private scoreFullPairs(row: EncodedRow, ids: string[]): { found: Int32Array; scores: Float32Array } {
    const found: number[] = [];
    const rows: number[] = [];
    const index = this.bundle.itemFeatures!.ids;
    ids.forEach((id, i) => {
      const r = index.indexOf(id);
      if (r >= 0) {
        found.push(i);
        rows.push(r);
      }
    });
    const m = found.length;
    if (m === 0) return { found: new Int32Array(0), scores: new Float32Array(0) };
    const b = allocBatch(this.bundle.manifest.features, m);
    for (let i = 0; i < m; i++) fillRow(b, row, i);
    const t = this.bundle.itemFeatures!.tensors;
    for (const f of this.bundle.manifest.features) {
      if (f.source !== 'item') continue;
      if (f.kind === 'sparse' || f.kind === 'dense') {
        const src = t.get(`${f.kind}.${f.name}`)!.data;
        const dst = f.kind === 'sparse' ? b.sparse[f.name] : b.dense[f.name];
        for (let i = 0; i < m; i++) dst[i] = src[rows[i]];
      } else {
        const s = b.sequence[f.name];
        const ids2 = t.get(`sequence.${f.name}.ids`)!.data, lens = t.get(`sequence.${f.name}.lengths`)!.data;
        const L = s.maxLen;
        for (let i = 0; i < m; i++) {
          s.ids.set(ids2.subarray(rows[i] * L, rows[i] * L + L) as Int32Array, i * L);
          s.lengths[i] = lens[rows[i]];
        }
      }
    }
    const model = this.bundle.model!;
    const scores = noGrad(() => scope(() => (model.forward(b).data as Float32Array).slice(0, m)));
    return { found: Int32Array.from(found), scores };
  }

  /** Runs a few requests so the first real one does not pay for JIT and buffer-pool warm-up. */
  async warm(rounds = 3): Promise<void> {
    const observe = this.observe;
    this.observe = undefined;
    try {
      const index = this.bundle.items?.ids ?? this.bundle.itemFeatures?.ids;
      const ids = index ? firstIds(index, 256) : [];
      for (let r = 0; r < rounds; r++) {
        await this.scoreAll({ user: {}, candidates: ids });
        if (this.opts.ann && this.bundle.manifest.items.cached && this.bundle.manifest.items.retrieval) await this.retrieve({ user: {}, k: 10 });
      }
    } finally {
      this.observe = observe;
    }
  }
}

/** Writes one encoded row's user/context features into slot i of a batch. */
function fillRow(b: Batch, row: EncodedRow, i: number): void {
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
