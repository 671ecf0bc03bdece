// Request bodies (zod): strict objects, so unknown fields are 400s naming their path; limits on candidates.
import { z } from 'zod';

export interface Limits {
  /** Candidates per /v1/prerank or /v1/score request. */
  maxCandidates: number;
  /** k per /v1/retrieve request, n per /v1/recommend request. */
  maxK: number;
  /** Request body bytes (larger -> 413). */
  bodyLimit: number;
}

export const DEFAULT_LIMITS: Limits = { maxCandidates: 10_000, maxK: 1000, bodyLimit: 1 << 20 };

/** Candidates per /v1/explain request: explanations are computed in JavaScript, item by item. */
export const MAX_EXPLAIN = 200;

const scalar = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]);
const featureValue = z.union([scalar, z.array(z.union([z.string().max(1000), z.number()])).max(1000)]);
/** A candidate id: a string of 1 to 256 characters or a safe integer. */
const isCandidateId = (x: unknown): boolean => (typeof x === 'string' ? x.length >= 1 && x.length <= 256 : Number.isSafeInteger(x));

/**
 * Candidate ids: non-empty strings of at most 256 characters or safe integers, checked by one loop over the parsed
 * array itself (a zod union per element cost ~0.12 ms for 1,000 ids on AMD EPYC Zen 5, 2026-11-23, a tenth of a request's time in
 * process, and
 * z.array copies the array: 8 KB of garbage per request); each bad one is an issue at its index.
 */
function candidateIds(max: number) {
  return z.custom<(string | number)[]>().superRefine((ids, ctx) => {
    if (!Array.isArray(ids)) {
      ctx.addIssue({ code: 'custom', message: `expected an array of candidate ids, got ${ids === null ? 'null' : typeof ids}` });
      return;
    }
    if (ids.length > max) ctx.addIssue({ code: 'custom', message: `at most ${max} candidates per request (got ${ids.length})` });
    for (let i = 0; i < ids.length; i++) {
      if (!isCandidateId(ids[i])) ctx.addIssue({ code: 'custom', path: [i], message: 'expected a string of 1 to 256 characters or an integer' });
    }
  }).meta({ // what the check above accepts, for the JSON Schema of the OpenAPI document
    type: 'array', maxItems: max,
    items: { anyOf: [{ type: 'string', minLength: 1, maxLength: 256 }, { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }] },
  });
}

/**
 * A request body's schema: zod for types and for the 400's issues, and `accepts`, a plain check of exactly the
 * bodies zod accepts, run first. A valid body then never goes through zod: its parse of a 1,000-id body made the
 * parsed body outlive the young generation in the server (measured with `prerank serve` at 500 req/s, AMD EPYC Zen 4, 2026-12-02: ~1.5 MB
 * promoted per scavenge, 2-4 ms scavenge pauses and a mark-compact every ~2 s, against ~30 KB and 0.5-1.3 ms
 * without), so a valid body is passed on as parsed and zod runs only to explain a rejection. test/serve-schemas
 * holds `accepts` to zod's verdict over generated valid and broken bodies.
 */
export interface RequestSchema<T> {
  zod: z.ZodType<T>;
  accepts(body: unknown): body is T;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const hasOnly = (o: Record<string, unknown>, allowed: readonly string[]): boolean => Object.keys(o).every((k) => allowed.includes(k));
const intIn = (x: unknown, min: number, max: number): boolean => Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
const isNumber = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
const isShortString = (x: unknown): boolean => typeof x === 'string' && x.length <= 1000;
const isScalar = (x: unknown): boolean => x === null || typeof x === 'boolean' || isNumber(x) || isShortString(x);
function isFeatureValue(x: unknown): boolean {
  if (isScalar(x)) return true;
  if (!Array.isArray(x) || x.length > 1000) return false;
  for (let i = 0; i < x.length; i++) if (!(isShortString(x[i]) || isNumber(x[i]))) return false; // holes too, as zod
  return true;
}
function isUser(u: unknown): boolean {
  if (!isPlainObject(u)) return false;
  for (const k of Object.keys(u)) if (k.length > 200 || !isFeatureValue(u[k])) return false;
  return true;
}
function isCandidates(c: unknown, max: number): boolean {
  if (!Array.isArray(c) || c.length > max) return false;
  for (let i = 0; i < c.length; i++) if (!isCandidateId(c[i])) return false; // (not every(): it skips holes; zod does not)
  return true;
}

function requestSchema<T>(zod: z.ZodType<T>, accepts: (b: Record<string, unknown>) => boolean): RequestSchema<T> {
  return { zod, accepts: (body: unknown): body is T => isPlainObject(body) && accepts(body) };
}

const MODES = ['ann', 'exact'] as const;
const mode = z.enum(MODES);
const isMode = (x: unknown): boolean => (MODES as readonly unknown[]).includes(x);
/** Upper bound of a retrieval request's perHead, sumDepth, ef and nprobe; of its sumGroups. */
const MAX_SEARCH = 10_000;
const MAX_SUM_GROUPS = 64;
const RETRIEVE_FIELDS = ['user', 'k', 'mode', 'perHead', 'sumDepth', 'sumGroups', 'ef', 'maxCandidates', 'nprobe'];
const optIntIn = (x: unknown, min: number, max: number): boolean => x === undefined || intIn(x, min, max);

export function schemas(l: Limits) {
  const user = z.record(z.string().max(200), featureValue);
  return {
    prerank: requestSchema(z.strictObject({ user, candidates: candidateIds(l.maxCandidates), n: z.number().int().min(1).max(l.maxCandidates).optional() }),
      (b) => hasOnly(b, ['user', 'candidates', 'n']) && isUser(b.user) && isCandidates(b.candidates, l.maxCandidates) && (b.n === undefined || intIn(b.n, 1, l.maxCandidates))),
    score: requestSchema(z.strictObject({ user, candidates: candidateIds(l.maxCandidates) }),
      (b) => hasOnly(b, ['user', 'candidates']) && isUser(b.user) && isCandidates(b.candidates, l.maxCandidates)),
    retrieve: requestSchema(z.strictObject({ user, k: z.number().int().min(1).max(l.maxK), mode: mode.optional(),
      perHead: z.number().int().min(0).max(MAX_SEARCH).optional(), sumDepth: z.number().int().min(0).max(MAX_SEARCH).optional(),
      sumGroups: z.number().int().min(1).max(MAX_SUM_GROUPS).optional(), ef: z.number().int().min(1).max(MAX_SEARCH).optional(),
      maxCandidates: z.number().int().min(1).max(l.maxCandidates).optional(), nprobe: z.number().int().min(1).max(MAX_SEARCH).optional() }),
    (b) => hasOnly(b, RETRIEVE_FIELDS) && isUser(b.user) && intIn(b.k, 1, l.maxK) && (b.mode === undefined || isMode(b.mode))
      && optIntIn(b.perHead, 0, MAX_SEARCH) && optIntIn(b.sumDepth, 0, MAX_SEARCH) && optIntIn(b.sumGroups, 1, MAX_SUM_GROUPS) && optIntIn(b.ef, 1, MAX_SEARCH) && optIntIn(b.maxCandidates, 1, l.maxCandidates)
      && optIntIn(b.nprobe, 1, MAX_SEARCH)),
    recommend: requestSchema(z.strictObject({ user, n: z.number().int().min(1).max(l.maxK), k: z.number().int().min(1).max(l.maxCandidates).optional(),
      exclude: candidateIds(l.maxCandidates).optional(), mode: mode.optional() }),
    (b) => hasOnly(b, ['user', 'n', 'k', 'exclude', 'mode']) && isUser(b.user) && intIn(b.n, 1, l.maxK) && optIntIn(b.k, 1, l.maxCandidates)
      && (b.exclude === undefined || isCandidates(b.exclude, l.maxCandidates)) && (b.mode === undefined || isMode(b.mode))),
    explain: requestSchema(z.strictObject({ user, candidates: candidateIds(Math.min(MAX_EXPLAIN, l.maxCandidates)) }),
      (b) => hasOnly(b, ['user', 'candidates']) && isUser(b.user) && isCandidates(b.candidates, Math.min(MAX_EXPLAIN, l.maxCandidates))),
    reload: requestSchema(z.strictObject({ bundle: z.string().min(1) }), (b) => hasOnly(b, ['bundle']) && typeof b.bundle === 'string' && b.bundle.length >= 1),
  };
}

export interface BadField {
  path: string;
  message: string;
}

/** Checks a body or returns the issues with dotted paths ('candidates.3', 'user.age'); '' is the body itself. */
export function validate<T>(schema: RequestSchema<T>, body: unknown): { ok: true; value: T } | { ok: false; issues: BadField[] } {
  if (schema.accepts(body)) return { ok: true, value: body };
  const r = schema.zod.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  const issues: BadField[] = [];
  for (const i of r.error.issues) {
    const path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') for (const k of i.keys) issues.push({ path: path ? `${path}.${k}` : k, message: `unknown field '${k}'` });
    else issues.push({ path, message: i.message });
  }
  return { ok: false, issues };
}
