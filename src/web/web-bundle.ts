// A whole bundle in a page: loadBundle fetches its manifest, encoders, weights, item ids and item table (bundle-
// fetch.ts), builds the model and its serving plan through the same readers as the server's Bundle.load
// (src/export/bundle-parts.ts), and scores the server's /v1/score and /v1/prerank request bodies with the plan
// compiled into the WebAssembly scorer: raw user features encoded by the same UserRequests, the same response
// (unknown ids in request order, OOV features, equal scores in request order, NaN last).
// Shape letters: M candidates found, H heads, P head size.
import type { FeatureEncoders } from '../data/encoders.js';
import type { UserEncodings } from '../export/bundle-ids.js';
import type { Ids } from '../export/id-table.js';
import type { BundleManifest } from '../export/manifest-format.js';
import { candidateKeys, rankedResponse, RequestError, type PrerankRequest, type ScoreResponse, type UserFeatures } from '../export/requests.js';
import { UserRequests } from '../export/user-request.js';
import type { UserServingPlan } from '../models/common/serving.js';
import type { RecModel } from '../models/types.js';
import type { WasmItems } from './wasm-items.js';
import type { WasmPlan } from './wasm-plan.js';
import type { WasmScorer } from './wasm-scorer.js';

/** A raw user (or context) column a request's user object may carry, and the feature it feeds. */
export interface UserColumn {
  column: string;
  /** The feature's name; the key columns have none (they find the user's statistics, history, stored rep). */
  feature: string | null;
  kind: 'sparse' | 'dense' | 'sequence' | 'key';
  source: 'user' | 'context' | null;
}

/** The user side's vectors, by the score's parts: views into `rep`, the rep the plan scores candidates with. */
export interface UserVectors {
  rep: Float32Array;
  kind: 'dot' | 'maxsim' | 'rankTower';
  /** dot: 'user'; maxsim: one part per tapped layer ('layer 1', ...) of H head vectors; rankTower: E, Q, U, K', V' of H. */
  parts: { name: string; vectors: Float32Array[] }[];
  /** 'stored': the bundle's stored encoding of this user (OneBP); 'tower': the user tower's output. */
  from: 'stored' | 'tower';
}

/** What loadBundle hands the WebBundle (internal). */
export interface WebBundleParts {
  url: string;
  manifest: BundleManifest;
  model: RecModel;
  encoders: FeatureEncoders;
  userEncodings: UserEncodings | null;
  itemIds: Ids;
  plan: UserServingPlan;
  compiled: WasmPlan;
  items: WasmItems;
  scorer: WasmScorer;
  sizes: Record<string, number>;
}

export class WebBundle {
  readonly url: string;
  readonly manifest: BundleManifest;
  readonly model: RecModel;
  readonly encoders: FeatureEncoders;
  readonly userEncodings: UserEncodings | null;
  /** Row r of the item table is item itemIds.keyAt(r); itemIds.indexOf(id) is its row (-1: unknown). */
  readonly itemIds: Ids;
  /** The WebAssembly scorer instance the plan and table live in. */
  readonly scorer: WasmScorer;
  /** Bytes fetched per bundle file. */
  readonly sizes: Readonly<Record<string, number>>;
  private readonly requests: UserRequests;
  private readonly plan: UserServingPlan;
  private readonly compiled: WasmPlan;
  private readonly items: WasmItems;
  private readonly input: Float32Array;

  /** @internal Made by loadBundle. */
  constructor(p: WebBundleParts) {
    ({ url: this.url, manifest: this.manifest, model: this.model, encoders: this.encoders, userEncodings: this.userEncodings,
      itemIds: this.itemIds, plan: this.plan, compiled: this.compiled, items: this.items, scorer: this.scorer, sizes: this.sizes } = p);
    this.requests = new UserRequests(this);
    this.input = new Float32Array(this.compiled.inputLength);
  }

  get modelVersion(): string {
    return this.manifest.modelVersion;
  }

  /** Raw columns a request's user object may contain, with the feature each feeds. */
  get userColumns(): UserColumn[] {
    const { keys, features } = this.encoders.spec;
    const out: UserColumn[] = [...new Set([keys.user, keys.usersKey].filter((k): k is string => !!k))]
      .map((column) => ({ column, feature: null, kind: 'key', source: null }));
    for (const f of features) {
      if (f.source === 'item') continue;
      const cols = f.kind === 'sequence' && f.flagColumns ? f.flagColumns : [f.column ?? f.name];
      for (const column of cols) out.push({ column, feature: f.name, kind: f.kind, source: f.source });
    }
    return out;
  }

  /** The candidates by score, best first, cut to n (default: all); the body and answer of the server's /v1/prerank. */
  prerank(req: PrerankRequest): ScoreResponse {
    checkRequest(req, true);
    return this.rank(req, req.n ?? req.candidates.length);
  }

  /** Every known candidate by score, best first; the body and answer of the server's /v1/score. */
  score(req: Omit<PrerankRequest, 'n'>): ScoreResponse {
    checkRequest(req, false);
    return this.rank(req, req.candidates.length);
  }

  private rank(req: Omit<PrerankRequest, 'n'>, n: number): ScoreResponse {
    const ids = candidateKeys(req.candidates);
    const user = this.requests.prepare(req.user);
    const rows = new Int32Array(ids.length);
    const found = new Int32Array(ids.length);
    let m = 0;
    for (let k = 0; k < ids.length; k++) {
      const r = this.itemIds.indexOf(ids[k]);
      if (r >= 0) {
        rows[m] = r;
        found[m++] = k;
      }
    }
    const u = user.stored ?? this.towerInput();
    const { scores, top } = this.compiled.score(u, this.items, rows.subarray(0, m), { n, fromRep: !!user.stored, reuse: true });
    return rankedResponse(req.candidates, found.subarray(0, m), scores, top, user.oov, this.modelVersion);
  }

  /** The tower input of the last prepared user (row 0 of the requests' batch). */
  private towerInput(): Float32Array {
    this.plan.writeInput(this.requests.batch, 0, this.input);
    return this.input;
  }

  /** The user's vectors (the user tower's output, or the stored encoding), split as the score reads them. */
  userVectors(user: UserFeatures): UserVectors {
    const prepared = this.requests.prepare(user);
    const rep = prepared.stored ? Float32Array.from(prepared.stored) : this.compiled.encode(this.towerInput());
    const s = this.plan.spec.score;
    const split = (at: number, heads: number, size: number) => Array.from({ length: heads }, (_, h) => rep.subarray(at + h * size, at + (h + 1) * size));
    const from = prepared.stored ? 'stored' : 'tower';
    if (s.kind === 'dot') return { rep, kind: s.kind, parts: [{ name: 'user', vectors: [rep] }], from };
    if (s.kind === 'maxsim') {
      const width = s.heads * s.headSize;
      const parts = Array.from({ length: rep.length / width }, (_, l) => ({ name: `layer ${l + 1}`, vectors: split(l * width, s.heads, s.headSize) }));
      return { rep, kind: s.kind, parts, from };
    }
    const H = s.userHeads;
    const widths: [string, number][] = [['E', s.headSize], ...(s.crossAttention ? [['Q', s.attnDim], ['U', s.valueDim], ["K'", s.attnDim], ["V'", s.valueDim]] as [string, number][] : [])];
    let at = 0;
    const parts = widths.map(([name, size]) => {
      const part = { name, vectors: split(at, H, size) };
      at += H * size;
      return part;
    });
    return { rep, kind: s.kind, parts, from };
  }

  /** Frees the plan and the item table in the scorer module (the module's memory does not shrink). */
  dispose(): void {
    this.compiled.dispose();
    this.items.dispose();
  }
}

/** The request body's shape (the server validates it with its JSON schema, src/serve/schemas.ts). */
function checkRequest(req: Omit<PrerankRequest, 'n'> & { n?: unknown }, withN: boolean): void {
  if (typeof req !== 'object' || req === null) throw new RequestError('', 'the request must be an object with user and candidates');
  if (typeof req.user !== 'object' || req.user === null || Array.isArray(req.user)) throw new RequestError('user', 'user must be an object of raw feature values');
  if (!Array.isArray(req.candidates)) throw new RequestError('candidates', 'candidates must be an array of item ids');
  req.candidates.forEach((c, i) => {
    if (typeof c !== 'string' && !(typeof c === 'number' && Number.isFinite(c))) throw new RequestError(`candidates.${i}`, `candidates[${i}] must be a string or a number`);
  });
  if (withN && req.n !== undefined && !(Number.isInteger(req.n) && (req.n as number) >= 1)) throw new RequestError('n', `n must be a positive integer (got ${String(req.n)})`);
}
