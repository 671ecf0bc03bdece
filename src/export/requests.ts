// What a scoring request and its response are (the bodies of /v1/prerank and /v1/score, and of prerank/web's
// WebBundle), and the one place a ranking of found candidates becomes a response: the server's scorers and the
// page's bundle answer alike. Unknown candidate ids are reported, never an error; a user feature the bundle does
// not know is a RequestError.
// Shape letters: M candidates found.

export type RawFeatureValue = string | number | boolean | null | (string | number)[];
export type UserFeatures = Record<string, RawFeatureValue>;
export type ItemId = string | number;

export interface PrerankRequest {
  user: UserFeatures;
  candidates: ItemId[];
  /** Top-n to return (default: all). */
  n?: number;
}

export interface ScoredItem {
  id: ItemId;
  /** The model's logit (sigmoid gives the click probability). */
  score: number;
}

export interface ScoreResponse {
  /** Best first; equal scores in request order; NaN scores last. */
  items: ScoredItem[];
  /** Candidate ids the item store does not know, in request order (duplicates kept). */
  unknown: ItemId[];
  /** User-side features whose value mapped to OOV. */
  oov: string[];
  modelVersion: string;
}

/** A request that is well-formed JSON but does not fit the bundle: HTTP 400 with the path of the bad field. */
export class RequestError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

/** The candidates not among `found` (indices into candidates), in request order. */
export function unknownIds(candidates: ItemId[], found: Int32Array): ItemId[] {
  if (found.length === candidates.length) return [];
  const hit = new Uint8Array(candidates.length);
  for (const i of found) hit[i] = 1;
  return candidates.filter((_, i) => !hit[i]);
}

/**
 * The response to a request whose candidates at `found` [M] (request order) scored `scores` [M], `order` being
 * indices into found of the best first.
 */
export function rankedResponse(candidates: ItemId[], found: Int32Array, scores: Float32Array, order: Int32Array, oov: string[], modelVersion: string): ScoreResponse {
  const items = Array.from(order, (k) => ({ id: candidates[found[k]], score: scores[k] }));
  return { items, unknown: unknownIds(candidates, found), oov, modelVersion };
}

/** Candidate ids as strings (the request may give numbers). */
export const candidateKeys = (candidates: ItemId[]): string[] =>
  candidates.every((c) => typeof c === 'string') ? (candidates as string[]) : candidates.map(String);
