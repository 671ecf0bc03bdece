// The scoring service's routes, as the page calls them. `model` is 'main' or 'compare' (prerank serve --compare).

export class ApiError extends Error {
  constructor(status, body) {
    super(`${status} ${body.error ?? 'error'}: ${body.message ?? ''}${body.path ? ` (field "${body.path}")` : ''}`);
    this.status = status;
    this.body = body;
  }
}

const withModel = (path, model) => (model === 'compare' ? `${path}${path.includes('?') ? '&' : '?'}model=compare` : path);

/** GET (no body) or POST a JSON body; the parsed answer, or an ApiError naming the status and the bad field. */
export async function api(path, model, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const r = await fetch(withModel(path, model), init);
  const j = await r.json().catch(() => ({ message: 'the answer is not JSON' }));
  if (!r.ok) throw new ApiError(r.status, j);
  return j;
}

export const modelInfo = (model) => api('/v1/model', model);
export const userProfile = (id) => api(`/v1/user-profile?id=${encodeURIComponent(id)}`, 'main');
export const findUsers = (prefix, limit = 20) => api(`/v1/users?prefix=${encodeURIComponent(prefix)}&limit=${limit}`, 'main');

/** The ranked list for a query ({user, source, candidates, n}) and the request's round trip in ms. */
export async function rankedList(model, q) {
  const t0 = performance.now();
  const r = q.source === 'recommend'
    ? await api('/v1/recommend', model, { user: q.user, n: q.n })
    : await api('/v1/prerank', model, { user: q.user, candidates: q.candidates, n: q.n });
  return { ...r, ms: performance.now() - t0 };
}

/** Explanations and attributes of the listed items, by id. */
export async function explanations(model, user, ids) {
  if (ids.length === 0) return new Map();
  const r = await api('/v1/explain', model, { user, candidates: ids.slice(0, 200) });
  return new Map(r.items.map((x) => [String(x.id), x]));
}
