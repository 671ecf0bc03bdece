// What the model explorer page (/ui, the files in the package's ui/ folder) needs beyond the scoring routes:
// POST /v1/explain (scores and why, per item), GET /v1/model (what the bundle is and which user features a request
// takes), GET /v1/users (user ids the bundle knows, by prefix), GET /v1/user-profile (what the bundle holds about one user:
// statistics, histories), and the page's files: /ui/* from ui/, /ui/vendor/zod/* zod's modules, /ui/web/* the
// built prerank/web modules and WebAssembly scorer, /ui/bundle/<main|compare>/* the served bundles' own files (only
// those its manifest lists), so the page can score in the browser. Every route takes ?model=compare when the server
// has a second bundle (ServerOptions.compare).
// Shape letters: M candidates found, I item rep width.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { featureColumn, type FeatureSpec } from '../data/index.js';
import type { Bundle } from '../export/bundle.js';
import { fromBf16, toBf16 } from '../export/item-table.js';
import type { StoredAttributes } from '../export/item-attributes.js';
import type { PlanScore } from '../models/common/serving.js';
import { explainItem, type Explanation } from './explain.js';
import type { RequestSchema } from './schemas.js';
import { UnsupportedError, type ItemId, type UserFeatures } from './scorer.js';
import { TwoTowerScorer } from './scorers/two-tower.js';
import type { Deployment, Service } from './service.js';

export interface ExplainRequest {
  user: UserFeatures;
  candidates: ItemId[];
}

export interface ExplainedItem {
  id: ItemId;
  /** The served score (what /v1/score gives). */
  score: number;
  /** The item's attributes (items/attributes.json), or null. */
  attributes: Record<string, string | null> | null;
  explanation: Explanation;
}

export interface ExplainResponse {
  /** Best first, as /v1/score orders them. */
  items: ExplainedItem[];
  unknown: ItemId[];
  oov: string[];
  modelVersion: string;
}

/** The package's folders: ui/ (the page) and dist/ (this file is dist/src/serve/explorer.js once built). */
const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const UI_DIR = resolve(DIST, '..', 'ui');
/** zod's ES modules, for pages that load a bundle with prerank/web (docs/WEB.md, "A bundle in a page"). */
const ZOD_DIR = dirname(createRequire(import.meta.url).resolve('zod/package.json'));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png',
};

const scores = new WeakMap<Bundle, PlanScore | null>();
const attributes = new WeakMap<Bundle, Promise<StoredAttributes | null>>();

/** The score of the bundle's serving plan (the weights it reads), or null for a model without one. */
function planScore(bundle: Bundle): PlanScore | null {
  if (!scores.has(bundle)) {
    let s: PlanScore | null = null;
    try {
      s = bundle.model?.servingPlan?.().spec.score ?? null;
    } catch {
      s = null; // a configuration the plan cannot express: served on tensors, not explained
    }
    scores.set(bundle, s);
  }
  return scores.get(bundle)!;
}

function attributesOf(bundle: Bundle): Promise<StoredAttributes | null> {
  let a = attributes.get(bundle);
  if (!a) attributes.set(bundle, (a = bundle.itemAttributes()));
  return a;
}

/** The served scores of the candidates and, for each known one, its explanation and attributes. */
export async function explain(d: Deployment, req: ExplainRequest): Promise<ExplainResponse> {
  const score = planScore(d.bundle);
  if (!(d.scorer instanceof TwoTowerScorer) || !score || !d.store) {
    throw new UnsupportedError(`model '${d.bundle.manifest.model.kind}' has no serving plan over cached item reps: its scores cannot be explained`);
  }
  const served = await d.scorer.scoreAll(req); // validates the user features (400s) before anything else
  const rep = roundedLikeServing(d, score, d.scorer.encodeUser(req.user).rep);
  const ids = served.items.map((x) => String(x.id));
  const { found, reps } = await d.store.get(ids); // [M, I] decoded float32
  const I = d.store.dim;
  const attrs = await attributesOf(d.bundle);
  const items: ExplainedItem[] = Array.from(found, (at, k) => {
    const { id, score: s } = served.items[at];
    const values = attrs?.items[String(id)];
    return { id, score: s, attributes: values ? Object.fromEntries(attrs!.columns.map((c, j) => [c, values[j]])) : null,
      explanation: explainItem(score, rep, reps.subarray(k * I, (k + 1) * I)) };
  });
  return { items, unknown: served.unknown, oov: served.oov, modelVersion: served.modelVersion };
}

/** A bf16 table's dot and max-sim scores take the user rep rounded to bf16 (src/serve/compiled.ts): so does this. */
function roundedLikeServing(d: Deployment, score: PlanScore, rep: Float32Array): Float32Array {
  const it = d.bundle.manifest.items;
  if (!(it.cached && it.dtype === 'bfloat16') || score.kind === 'rankTower') return rep;
  return Float32Array.from(rep, (x) => fromBf16(toBf16(x)));
}

/** What the page needs to know of a bundle: the model, the user features a request takes, the item attributes. */
export function modelInfo(d: Deployment, model: 'main' | 'compare') {
  const { manifest: m, encoders } = d.bundle;
  const spec = encoders?.spec;
  const columns = (spec?.features ?? []).filter((f) => f.source !== 'item').map((f: FeatureSpec) => ({
    feature: f.name, kind: f.kind, source: f.source,
    columns: f.kind === 'sequence' && f.flagColumns ? f.flagColumns : [featureColumn(f)],
    separator: f.kind === 'sequence' && !f.flagColumns ? f.separator ?? null : null,
  }));
  const score = planScore(d.bundle);
  return {
    model, modelVersion: d.modelVersion, kind: m.model.kind, data: m.data?.name ?? null, score: score?.kind ?? null,
    items: m.items.count, retrieve: !!d.bundle.items && d.scorer instanceof TwoTowerScorer,
    userKey: spec?.keys.user ?? null, userIdFeature: idFeature(d)?.name ?? null, userFeatures: columns,
    attributes: m.attributes?.columns ?? null, bundleUrl: `/ui/bundle/${model}/`,
  };
}

function idFeature(d: Deployment): FeatureSpec | undefined {
  const spec = d.bundle.encoders?.spec;
  return spec?.features.find((f) => f.kind === 'sparse' && f.source === 'user' && featureColumn(f) === spec.keys.user);
}

/** Up to `limit` user ids of the bundle's user-id vocabulary starting with `prefix`, most active in training first. */
export function findUsers(d: Deployment, prefix: string, limit: number): { users: string[]; known: number } {
  const f = idFeature(d);
  if (!f) return { users: [], known: 0 };
  const vocab = d.bundle.encoders!.vocabulary(f.name);
  const users: string[] = [];
  const exact = prefix && vocab.has(prefix) ? prefix : null;
  if (exact !== null) users.push(exact);
  for (let i = 0; i < vocab.count && users.length < limit; i++) {
    const t = vocab.token(i + 2)!;
    if (t !== exact && t.startsWith(prefix)) users.push(t);
  }
  return { users, known: vocab.count };
}

/** What the bundle holds about one user: whether its id is known, its statistics, and its histories with attributes. */
export async function userDetail(d: Deployment, id: string) {
  const f = idFeature(d);
  const enc = d.bundle.encoders;
  if (!f || !enc) return { id, known: false, stats: {}, history: {} };
  const { stats, history } = enc.entityFeatures('user', id);
  const attrs = await attributesOf(d.bundle);
  const withAttributes = (item: string) => {
    const v = attrs?.items[item];
    return { id: item, attributes: v ? Object.fromEntries(attrs!.columns.map((c, j) => [c, v[j]])) : null };
  };
  return { id, known: enc.vocabulary(f.name).has(id), stats,
    history: Object.fromEntries(Object.entries(history).map(([k, items]) => [k, items.map(withAttributes)])) };
}

export interface ExplorerRoutes {
  scoring: <T, R>(schema: RequestSchema<T>, run: (d: Deployment, body: T) => Promise<R>) => (req: FastifyRequest, reply: FastifyReply) => Promise<R>;
  serviceFor: (req: FastifyRequest) => Service;
  schema: RequestSchema<ExplainRequest>;
  hasCompare: boolean;
  /** The deployment serving now, of the main or the compare bundle (null: none loaded). */
  current: (model: 'main' | 'compare') => Deployment | null;
}

const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ error: 'not found', message: `no such file: ${what}` });

export function registerExplorer(app: FastifyInstance, r: ExplorerRoutes): void {
  const which = (req: FastifyRequest): 'main' | 'compare' => ((req.query as { model?: string }).model === 'compare' ? 'compare' : 'main');
  app.post('/v1/explain', r.scoring(r.schema, explain));
  app.get('/v1/model', async (req) => {
    const svc = r.serviceFor(req);
    return svc.with(async (d) => ({ ...modelInfo(d, which(req)), compare: r.hasCompare }));
  });
  app.get('/v1/users', async (req, reply) => {
    const q = req.query as { prefix?: unknown; limit?: unknown };
    const prefix = q.prefix === undefined ? '' : String(q.prefix);
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (prefix.length > 256) return reply.code(400).send({ error: 'bad request', path: 'prefix', message: 'at most 256 characters' });
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return reply.code(400).send({ error: 'bad request', path: 'limit', message: 'expected an integer from 1 to 1000' });
    return r.serviceFor(req).with(async (d) => findUsers(d, prefix, limit));
  });
  app.get('/v1/user-profile', async (req, reply) => {
    const id = (req.query as { id?: unknown }).id;
    if (typeof id !== 'string' || id.length < 1 || id.length > 256) return reply.code(400).send({ error: 'bad request', path: 'id', message: 'expected a user id of 1 to 256 characters' });
    return r.serviceFor(req).with((d) => userDetail(d, id));
  });
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/*', async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    const file = await staticFile(rel, r);
    if (!file) return notFound(reply, `/ui/${rel}`);
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return notFound(reply, `/ui/${rel}`);
    return reply.type(TYPES[extname(file)] ?? 'application/octet-stream').header('content-length', st.size)
      .header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(createReadStream(file));
  });
}

/** The file behind /ui/<rel>, or null: only the page's files, the built web modules and the bundles' listed files. */
async function staticFile(rel: string, r: ExplorerRoutes): Promise<string | null> {
  if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((s) => s === '..' || s === '.')) return null;
  let root: string, path: string;
  const bundle = /^bundle\/(main|compare)\/(.+)$/.exec(rel);
  if (bundle) {
    const dir = r.current(bundle[1] as 'main' | 'compare')?.bundle;
    if (!dir || !(bundle[2] === 'manifest.json' || Object.hasOwn(dir.manifest.files, bundle[2]))) return null;
    [root, path] = [dir.dir, bundle[2]];
  } else if (rel.startsWith('vendor/zod/')) { // the page's import map points 'zod' here: prerank/web's models need it
    path = rel.slice('vendor/zod/'.length);
    if (!/^[\w/.-]+\.js$/.test(path)) return null;
    root = ZOD_DIR;
  } else if (rel.startsWith('web/')) {
    path = rel.slice(4);
    if (!/^src\/[\w/.-]+\.js$/.test(path) && !/^wasm\/[\w.-]+\.wasm$/.test(path)) return null;
    root = DIST;
  } else {
    path = rel === '' ? 'index.html' : rel;
    if (!/^[\w.-]+\.(html|js|css|svg|png)$/.test(path)) return null;
    root = UI_DIR;
  }
  return inside(root, path);
}

/** root/path when it resolves (symlinks too) inside root, else null. */
async function inside(root: string, path: string): Promise<string | null> {
  try {
    const [r, f] = await Promise.all([realpath(root), realpath(join(root, path))]);
    return f.startsWith(r + sep) ? f : null;
  } catch {
    return null;
  }
}
