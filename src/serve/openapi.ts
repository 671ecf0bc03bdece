// The service's OpenAPI 3.1 document (GET /openapi.json): request bodies from the same zod schemas that validate
// requests (schemas.ts), responses from the zod schemas below, which describe what the routes send. Limits
// (candidates per request, k) come from the running server's, so the document states this server's contract.
import { z } from 'zod';
import type { RequestSchema } from './schemas.js';

const itemId = z.union([z.string(), z.number().int()]).describe('an item id as the bundle knows it (string or integer)');

export const RESPONSES = {
  score: z.strictObject({
    items: z.array(z.strictObject({ id: itemId, score: z.number().describe("the model's logit (sigmoid gives the click probability)") }))
      .describe('scored items, best first'),
    unknown: z.array(itemId).describe('candidate ids the item store does not know, in request order'),
    oov: z.array(z.string()).describe('user-side features whose value mapped to out-of-vocabulary'),
    modelVersion: z.string(),
  }),
  error: z.looseObject({
    error: z.string().describe("the kind: 'bad request', 'overloaded', 'not ready', 'item store unavailable', ..."),
    message: z.string(),
    path: z.string().optional().describe("the dotted path of the first bad field ('candidates.3', 'user.age')"),
    issues: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
  }),
  health: z.strictObject({ status: z.literal('ok') }),
  ready: z.strictObject({
    status: z.literal('ready'), modelVersion: z.string(), version: z.string().nullable(), store: z.string(),
    items: z.number().int(), ann: z.string(), reloading: z.boolean(), pid: z.number().int().describe('the process that answered (one of the --workers)'),
  }),
  notReady: z.strictObject({ status: z.literal('not ready'), reloading: z.boolean() }),
  explain: z.strictObject({
    items: z.array(z.strictObject({
      id: itemId, score: z.number().describe('the served score (as /v1/score)'),
      attributes: z.record(z.string(), z.string().nullable()).nullable().describe("the item's attributes from the bundle (titles, genres), or null"),
      explanation: z.looseObject({
        kind: z.enum(['dot', 'maxsim', 'rankTower']), bias: z.number(), scale: z.number(),
        total: z.number().describe('the terms plus the bias: the served score up to float rounding'),
      }).describe("dot: the dot product; maxsim/rankTower: per user head the winning item head, its similarity and term; rankTower: the GAU gates"),
    })).describe('explained items, best first'),
    unknown: z.array(itemId), oov: z.array(z.string()), modelVersion: z.string(),
  }),
  model: z.looseObject({
    model: z.enum(['main', 'compare']), modelVersion: z.string(), kind: z.string(), score: z.string().nullable(), items: z.number().int(),
    retrieve: z.boolean(), userKey: z.string().nullable(), userFeatures: z.array(z.looseObject({ feature: z.string(), kind: z.string(), columns: z.array(z.string()) })),
    attributes: z.array(z.string()).nullable(), bundleUrl: z.string(), compare: z.boolean(),
  }),
  user: z.strictObject({
    id: z.string(), known: z.boolean().describe("the id is in the bundle's user-id vocabulary"),
    stats: z.record(z.string(), z.number().nullable()).describe('raw value of each user statistic (null: none; the fallback is used)'),
    history: z.record(z.string(), z.array(z.strictObject({ id: z.string(), attributes: z.record(z.string(), z.string().nullable()).nullable() })))
      .describe('each history, oldest first'),
  }),
  users: z.strictObject({ users: z.array(z.string()).describe('matching user ids, most active in training first'), known: z.number().int().describe('user ids the bundle knows') }),
  reload: z.strictObject({
    modelVersion: z.string(), previous: z.string().nullable(), seconds: z.number(),
    notes: z.array(z.string()).describe('what the new deployment could not carry over, if anything'),
  }),
};

const json = (schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (name: string) => ({ 'application/json': { schema: ref(name) } });
const answer = (description: string, name?: string) => (name ? { description, content: body(name) } : { description });

const MODEL = { name: 'model', in: 'query', required: false, schema: { type: 'string', enum: ['main', 'compare'], default: 'main' },
  description: 'compare: the second bundle (prerank serve --compare)' };

const ERRORS = {
  400: answer('the body does not fit the schema or the bundle (the path of the first bad field)', 'Error'),
  413: answer('the body is larger than the limit', 'Error'),
  503: answer('overloaded, not ready, or the item store is unavailable (with Retry-After)', 'Error'),
};

/** The document for a server with these request schemas; `admin`: whether /admin/reload exists. */
export function openApiDocument(requests: Record<'prerank' | 'score' | 'retrieve' | 'recommend' | 'explain' | 'reload', RequestSchema<unknown>>,
  info: { version: string; admin: boolean }): Record<string, unknown> {
  const scoring = (summary: string, request: string, response = 'ScoreResponse') => ({
    post: { summary, parameters: [MODEL], requestBody: { required: true, content: body(request) },
      responses: { 200: answer('scored items', response), ...ERRORS, 404: answer('?model=compare without a compare bundle', 'Error'),
        501: answer('the bundle cannot do this (e.g. retrieval without an index)', 'Error') } },
  });
  const page = (summary: string) => ({ get: { summary, responses: { 200: { description: 'the file' }, 302: { description: '/ui redirects to /ui/' }, 404: answer('no such file', 'Error') } } });
  const paths: Record<string, unknown> = {
    '/v1/prerank': scoring('score the candidates for a user and return the best n (all when n is absent)', 'PrerankRequest'),
    '/v1/score': scoring('score every candidate for a user, in request order', 'ScoreRequest'),
    '/v1/retrieve': scoring('the k best items of the whole table for a user: the index\'s candidates rescored exactly (mode ann), or every item (mode exact)', 'RetrieveRequest'),
    '/v1/recommend': scoring('retrieve k items, drop the excluded ids, return the best n', 'RecommendRequest'),
    '/v1/explain': scoring('the served score of each candidate, why (per model: dot product, winning heads, gates) and its attributes', 'ExplainRequest', 'ExplainResponse'),
    '/v1/model': { get: { summary: 'the served model: kind, score, the user features a request takes, item attributes', parameters: [MODEL],
      responses: { 200: answer('the model', 'ModelInfo'), 404: answer('?model=compare without a compare bundle', 'Error'), 503: ERRORS[503] } } },
    '/v1/users': { get: { summary: "user ids of the bundle's user-id vocabulary that start with a prefix", parameters: [MODEL,
      { name: 'prefix', in: 'query', required: false, schema: { type: 'string', maxLength: 256 } },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 20 } }],
    responses: { 200: answer('matching ids', 'Users'), 400: ERRORS[400], 404: answer('?model=compare without a compare bundle', 'Error'), 503: ERRORS[503] } } },
    '/v1/user-profile': { get: { summary: "what the bundle holds about one user: its statistics and histories (with the items' attributes)", parameters: [MODEL,
      { name: 'id', in: 'query', required: true, schema: { type: 'string', minLength: 1, maxLength: 256 } }],
    responses: { 200: answer('the user', 'User'), 400: ERRORS[400], 404: answer('?model=compare without a compare bundle', 'Error'), 503: ERRORS[503] } } },
    '/ui': page('the model explorer page (redirects to /ui/)'),
    '/ui/*': page("the page's files, the prerank/web modules (/ui/web/) and the served bundles' files (/ui/bundle/main/, /ui/bundle/compare/)"),
    '/healthz': { get: { summary: 'liveness', responses: { 200: answer('the process is up', 'Health') } } },
    '/readyz': { get: { summary: 'readiness: a bundle is loaded', responses: { 200: answer('ready', 'Ready'), 503: answer('no bundle yet', 'NotReady') } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    '/openapi.json': { get: { summary: 'this document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
  };
  if (info.admin) {
    paths['/admin/reload'] = { post: { summary: 'load another bundle and swap it in (loopback or x-admin-token)',
      parameters: [{ name: 'x-admin-token', in: 'header', required: false, schema: { type: 'string' } }],
      requestBody: { required: true, content: body('ReloadRequest') },
      responses: { 200: answer('swapped in', 'ReloadResponse'), 400: ERRORS[400], 401: answer('token missing or wrong', 'Error'),
        403: answer('the bundle is outside the bundle root', 'Error'), 409: answer('a reload is already running', 'Error'),
        422: answer('the bundle is invalid; the previous one keeps serving', 'Error') } } };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'prerank scoring service', version: info.version },
    paths,
    components: { schemas: {
      PrerankRequest: json(requests.prerank.zod, 'input'), ScoreRequest: json(requests.score.zod, 'input'),
      RetrieveRequest: json(requests.retrieve.zod, 'input'), RecommendRequest: json(requests.recommend.zod, 'input'), ReloadRequest: json(requests.reload.zod, 'input'),
      ExplainRequest: json(requests.explain.zod, 'input'), ExplainResponse: json(RESPONSES.explain), ModelInfo: json(RESPONSES.model), Users: json(RESPONSES.users), User: json(RESPONSES.user),
      ScoreResponse: json(RESPONSES.score), Error: json(RESPONSES.error), Health: json(RESPONSES.health),
      Ready: json(RESPONSES.ready), NotReady: json(RESPONSES.notReady), ReloadResponse: json(RESPONSES.reload),
    } },
  };
}
