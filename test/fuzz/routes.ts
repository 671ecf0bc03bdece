// Fuzzing the HTTP routes in process (fastify inject) on real bundles: bodies built from the request shapes with
// hostile values (prototype member names, huge and odd numbers, nested objects, holes, long strings), random
// mutations of a valid body, and raw payloads under several content types. The rule: no 5xx other than 501 (a route
// the model cannot serve) and 503 (with Retry-After); every error answer is JSON with an `error`; and after each case
// the server still answers a valid request with 200.
import fc from 'fast-check';
import type { PrerankServer } from '../../src/serve/server.js';
import type { FuzzReport } from './data-files.js';

export interface RouteTarget {
  name: string;
  server: PrerankServer;
  /** A valid raw user row and candidate ids the bundle knows. */
  user: Record<string, string>;
  items: string[];
  /** Bundle paths /admin/reload may be sent (valid ones, corrupt ones, non-bundles). */
  reloadPaths: string[];
  adminToken?: string;
}

export interface RouteFuzzReport extends FuzzReport {
  /** Answers with a 5xx status other than 501/503. */
  fiveXX: number;
}

const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'isPrototypeOf', '__defineGetter__'];
const oddString = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...PROTO) }, { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\u0000', '\uFFFF', '\uD800', '1', '-1', '1e309', 'NaN', '../../etc/passwd',
    'a'.repeat(257), 'b'.repeat(1001)) });
const oddNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 5e-324, 0.5, 1e21));
const scalar = fc.oneof(oddString, oddNumber, fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<unknown> = fc.oneof({ depthSize: 'small' }, oddString, scalar, fc.array(scalar, { maxLength: 5 }),
  fc.dictionary(oddString, scalar, { maxKeys: 3 }), fc.jsonValue({ maxDepth: 3 }));

interface Case {
  target: number;
  route: '/v1/prerank' | '/v1/score' | '/v1/retrieve' | '/admin/reload' | '/readyz' | '/metrics' | '/healthz' | '/nope';
  body: BodyPlan;
  contentType: string | null;
  token: 'right' | 'wrong' | 'none';
}
type BodyPlan =
  | { kind: 'shaped'; userKeys: (string | number)[]; userValues: unknown[]; candidates: unknown[]; extra: [string, unknown][];
    n: unknown; k: unknown; drop: string[] }
  | { kind: 'mutated'; path: number[]; replacement: unknown; remove: boolean }
  | { kind: 'raw'; text: string }
  | { kind: 'reload'; pick: number; suffix: string };

const SCORING = ['/v1/prerank', '/v1/score', '/v1/retrieve'] as const;
const caseArb = (targets: number): fc.Arbitrary<Case> => fc.record({
  target: fc.nat(targets - 1),
  route: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...SCORING) },
    { weight: 2, arbitrary: fc.constant('/admin/reload' as const) },
    { weight: 1, arbitrary: fc.constantFrom('/readyz' as const, '/metrics' as const, '/healthz' as const, '/nope' as const) }),
  body: fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('shaped' as const),
      userKeys: fc.array(fc.oneof(fc.nat(9), oddString), { maxLength: 6 }), userValues: fc.array(value, { maxLength: 6 }),
      candidates: fc.array(fc.oneof(fc.nat(40), oddString, oddNumber, value), { maxLength: 12 }),
      extra: fc.array(fc.tuple(oddString, value), { maxLength: 2 }), n: fc.oneof(fc.constant(undefined), oddNumber, value),
      k: fc.oneof(fc.integer({ min: 1, max: 20 }), oddNumber, value), drop: fc.subarray(['user', 'candidates', 'n', 'k']) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('mutated' as const), path: fc.array(fc.nat(10), { minLength: 1, maxLength: 3 }),
      replacement: value, remove: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: fc.oneof(fc.string({ maxLength: 60 }),
      fc.constantFrom('', '{', '[]', 'null', '{"user":', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '"x"', '1e999')) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const), pick: fc.nat(20),
      suffix: fc.constantFrom('', '/', '/..', '/manifest.json', '/../..', 'x', '/weights') }) },
  ),
  contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom(null, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1') }),
  token: fc.oneof({ weight: 6, arbitrary: fc.constant('right' as const) }, { weight: 1, arbitrary: fc.constantFrom('wrong' as const, 'none' as const) }),
});

function validBody(t: RouteTarget, route: string): Record<string, unknown> {
  if (route === '/v1/retrieve') return { user: { ...t.user }, k: 5 };
  if (route === '/admin/reload') return { bundle: t.reloadPaths[0] };
  return { user: { ...t.user }, candidates: t.items.slice(0, 10), ...(route === '/v1/prerank' ? { n: 5 } : {}) };
}

function bodyOf(t: RouteTarget, route: string, plan: BodyPlan): string {
  if (plan.kind === 'raw') return plan.text;
  if (plan.kind === 'reload') {
    const base = t.reloadPaths[plan.pick % t.reloadPaths.length];
    return JSON.stringify({ bundle: base + plan.suffix });
  }
  const body = validBody(t, route);
  if (plan.kind === 'mutated') {
    // walk into the body by index over each level's keys, then replace or remove what is there
    let node: unknown = body;
    for (let i = 0; i < plan.path.length; i++) {
      if (typeof node !== 'object' || node === null) break;
      const keys = Object.keys(node);
      if (!keys.length) break;
      const key = keys[plan.path[i] % keys.length];
      if (i === plan.path.length - 1 || typeof (node as Record<string, unknown>)[key] !== 'object') {
        if (plan.remove) delete (node as Record<string, unknown>)[key];
        else (node as Record<string, unknown>)[key] = plan.replacement;
        break;
      }
      node = (node as Record<string, unknown>)[key];
    }
    return JSON.stringify(body);
  }
  const realKeys = Object.keys(t.user);
  const user: Record<string, unknown> = {};
  plan.userKeys.forEach((k, i) => {
    const key = typeof k === 'number' ? realKeys[k % realKeys.length] : k;
    Object.defineProperty(user, key, { value: plan.userValues[i] ?? t.user[key] ?? 'x', enumerable: true, writable: true, configurable: true });
  });
  const candidates = plan.candidates.map((c) => (typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 40 ? t.items[c % t.items.length] : c));
  const out: Record<string, unknown> = { user, candidates, n: plan.n, k: plan.k };
  if (route === '/v1/retrieve') delete out.candidates;
  else delete out.k;
  if (route !== '/v1/prerank') delete out.n;
  for (const [k, v] of plan.extra) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const d of plan.drop) delete out[d];
  return JSON.stringify(out);
}

async function send(t: RouteTarget, route: string, payload: string | undefined, contentType: string | null, token: Case['token']) {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  if (route === '/admin/reload' && t.adminToken !== undefined && token !== 'none') headers['x-admin-token'] = token === 'right' ? t.adminToken : `${t.adminToken}x`;
  const get = route === '/readyz' || route === '/metrics' || route === '/healthz';
  return t.server.app.inject({ method: get ? 'GET' : 'POST', url: route, headers, payload: get ? undefined : payload });
}

/** Runs `runs` random requests over the targets; reloads are undone (the first reload path is the served bundle). */
export async function fuzzRoutes(targets: RouteTarget[], runs: number, seed = 1): Promise<RouteFuzzReport> {
  let fiveXX = 0;
  const result = await fc.check(fc.asyncProperty(caseArb(targets.length), async (c) => {
    const t = targets[c.target];
    const payload = bodyOf(t, c.route, c.body.kind === 'reload' && c.route !== '/admin/reload' ? { kind: 'raw', text: '{}' } : c.body);
    const res = await send(t, c.route, payload, c.contentType, c.token);
    const bad5xx = res.statusCode >= 500 && res.statusCode !== 501 && res.statusCode !== 503;
    if (bad5xx) fiveXX++;
    if (bad5xx) throw new Error(`${c.route} answered ${res.statusCode}: ${res.body.slice(0, 300)} (body ${payload.slice(0, 300)})`);
    if (res.statusCode === 503 && !res.headers['retry-after']) throw new Error(`${c.route}: 503 without Retry-After`);
    if (res.statusCode >= 400) {
      let parsed: { error?: unknown };
      try {
        parsed = JSON.parse(res.body) as { error?: unknown };
      } catch {
        throw new Error(`${c.route} answered ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`);
      }
      if (typeof parsed.error !== 'string') throw new Error(`${c.route} answered ${res.statusCode} without an error field: ${res.body.slice(0, 200)}`);
    }
    if (c.route === '/admin/reload' && res.statusCode === 200) {
      const back = await send(t, '/admin/reload', JSON.stringify(validBody(t, '/admin/reload')), 'application/json', 'right');
      if (back.statusCode !== 200) throw new Error(`reloading the original bundle failed: ${back.statusCode} ${back.body}`);
    }
    const check = await send(t, '/v1/prerank', JSON.stringify(validBody(t, '/v1/prerank')), 'application/json', 'right');
    if (check.statusCode !== 200) throw new Error(`a valid request after ${c.route} answered ${check.statusCode}: ${check.body.slice(0, 300)}`);
  }), { numRuns: runs, seed });
  return { target: `HTTP routes (${targets.map((t) => t.name).join(', ')})`, cases: result.numRuns, fiveXX,
    failure: result.failed ? `${fc.stringify(result.counterexample)}: ${String(result.errorInstance)}` : undefined };
}
