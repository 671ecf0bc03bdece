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

const ERRORS = {
  400: answer('the body does not fit the schema or the bundle (the path of the first bad field)', 'Error'),
  413: answer('the body is larger than the limit', 'Error'),
  503: answer('overloaded, not ready, or the item store is unavailable (with Retry-After)', 'Error'),
};

/** The document for a server with these request schemas; `admin`: whether /admin/reload exists. */
export function openApiDocument(requests: Record<'prerank' | 'score' | 'retrieve' | 'recommend' | 'reload', RequestSchema<unknown>>,
  info: { version: string; admin: boolean }): Record<string, unknown> {
  const scoring = (summary: string, request: string) => ({
    post: { summary, requestBody: { required: true, content: body(request) },
      responses: { 200: answer('scored items', 'ScoreResponse'), ...ERRORS, 501: answer('the bundle cannot do this (e.g. retrieval without an index)', 'Error') } },
  });
  const paths: Record<string, unknown> = {
    '/v1/prerank': scoring('score the candidates for a user and return the best n (all when n is absent)', 'PrerankRequest'),
    '/v1/score': scoring('score every candidate for a user, in request order', 'ScoreRequest'),
    '/v1/retrieve': scoring('the k best items of the whole table for a user: the index\'s candidates rescored exactly (mode ann), or every item (mode exact)', 'RetrieveRequest'),
    '/v1/recommend': scoring('retrieve k items, drop the excluded ids, return the best n', 'RecommendRequest'),
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
      ScoreResponse: json(RESPONSES.score), Error: json(RESPONSES.error), Health: json(RESPONSES.health),
      Ready: json(RESPONSES.ready), NotReady: json(RESPONSES.notReady), ReloadResponse: json(RESPONSES.reload),
    } },
  };
}
