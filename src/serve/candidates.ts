// Candidate generators for retrieval: from a user rep, the table rows worth scoring exactly. Inner product (DSSM-like
// scores): the HNSW index over the item reps, searched with the user rep (here). Multi-vector (max-sim scores:
// IntTower, RankTower): the head index or the centroid index (src/export/multi-vector-source.ts, centroid-source.ts,
// which the export also uses to measure its defaults). openCandidateSource opens a bundle's generator, with the
// shared rows its export kept (every answer holds them; src/export/search-calibration.ts, sharedRows).
import type { Bundle } from '../export/bundle.js';
import { newUsearch, type UsearchLike } from '../export/ann-index.js';
import { withSharedRows, type CandidateSource, type QueryVectors } from '../export/candidate-source.js';
import { CentroidSource } from '../export/centroid-source.js';
import { decodeAll, type ItemTable } from '../export/item-table.js';
import type { RetrievalIndexInfo, SearchDefaults } from '../export/manifest.js';
import { allRows, bruteForceHeads, MultiVectorSource, usearchHeads } from '../export/multi-vector-source.js';
import { HEAD_INDEX_PARAMS, headVectors, queryVectors, retrievalIndexOf } from '../export/retrieval-index.js';
import { buildHeadCentroids, loadHeadCentroids } from '../export/head-centroids.js';
import type { RecModel } from '../models/types.js';
import { BruteForceIndex, buildAnnIndex, openUsearch, type AnnIndex, type AnnKind } from './ann.js';

export class InnerProductSource implements CandidateSource {
  readonly index = 'inner-product';

  constructor(private readonly ann: AnnIndex, readonly defaults: SearchDefaults) {}

  get kind(): AnnKind {
    return this.ann.kind;
  }

  candidates(rep: Float32Array, k: number, s: SearchDefaults): Int32Array {
    const depth = Math.min(Math.max(k, s.perHead), s.maxCandidates);
    // A depth that covers the index takes every row: an HNSW search, even as broad as the index, may miss a few.
    if (depth >= this.ann.size) return allRows(this.ann.size);
    // The search's breadth is its fetch (usearch: max(the build's expansion_search, fetch)); hits come best first.
    const fetch = Math.min(Math.max(depth, s.ef), this.ann.size);
    return this.ann.search(rep, fetch).slice(0, depth).sort();
  }

  close(): void {
    this.ann.close();
  }
}

/**
 * The exact-scan generator of a table's retrieval kind (null for kind 'none'): same answers as the index at full
 * depth. `model`: the bundle's, for a layout whose vectors it computes (anchors).
 */
export function bruteForceSource(table: ItemTable, info: RetrievalIndexInfo, model: RecModel | null = null): CandidateSource | null {
  if (info.kind === 'none') return null;
  const reps = decodeAll(table);
  if (info.kind === 'inner-product') return new InnerProductSource(new BruteForceIndex(reps, table.dim), info.defaults);
  const l = info.layout;
  return new MultiVectorSource('brute-force', l, info.defaults, table.ids.size * l.heads, bruteForceHeads(headVectors(reps, table.dim, l, model), l.size),
    (rep) => queryVectors(rep, l, model));
}

/**
 * The bundle's candidate generator for retrieval, or null when it has none (exact mode only). usearch maps the
 * bundle's saved index when there is one (checked against its size), builds it from the table otherwise, and falls
 * back to the exact scan when it does not load; the note says when a fallback or rebuild happened.
 */
export async function openCandidateSource(bundle: Bundle, prefer: AnnKind): Promise<{ source: CandidateSource | null; note?: string }> {
  const info = retrievalIndexOf(bundle.manifest.items, !!bundle.manifest.files['items/ann.usearch']);
  const opened = await openIndexSource(bundle, info, prefer);
  // the exact scan finds every row already; an index's answers get the rows the export measured they need
  const rows = info.kind !== 'none' && info.shared && prefer !== 'brute-force' ? sharedRowsOf(info.shared.rows, bundle.items?.ids.size ?? 0) : null;
  return rows && opened.source ? { ...opened, source: withSharedRows(opened.source, rows) } : opened;
}

/** The manifest's shared rows, checked: ascending distinct table rows (anything else names the bad entry). */
function sharedRowsOf(rows: unknown, size: number): Int32Array {
  const bad = !Array.isArray(rows) ? 'is not a list'
    : rows.findIndex((r, i) => !Number.isInteger(r) || r < 0 || r >= size || (i > 0 && r <= rows[i - 1]));
  if (bad === -1) return Int32Array.from(rows as number[]);
  const what = typeof bad === 'string' ? bad : `entry ${bad} (${JSON.stringify((rows as unknown[])[bad])}) is not a row of the ${size}-row table above the one before it`;
  throw new Error(`bundle manifest: items.retrievalIndex.shared.rows ${what}`);
}

async function openIndexSource(bundle: Bundle, info: RetrievalIndexInfo, prefer: AnnKind): Promise<{ source: CandidateSource | null; note?: string }> {
  const items = bundle.items;
  if (!items || info.kind === 'none') return { source: null };
  if (info.kind === 'inner-product') {
    const saved = prefer === 'usearch' && info.file ? await bundle.annIndexPath(info.file) : null;
    const r = await buildAnnIndex({ rows: items.ids.size, get: () => decodeAll(items) }, items.dim, prefer, saved, info.vectors);
    return { source: new InnerProductSource(r.index, info.defaults), note: r.note };
  }
  const l = info.layout, model = bundle.model;
  const n = items.ids.size * l.heads;
  const queries: QueryVectors = (rep) => queryVectors(rep, l, model);
  if (prefer === 'brute-force') return { source: bruteForceSource(items, info, model) };
  if (info.kind === 'multi-vector-centroids') {
    const want = { items: items.ids.size, heads: l.heads, size: l.size };
    const saved = info.file ? await bundle.annIndexPath(info.file) : null;
    const ix = saved ? await loadHeadCentroids(saved, want)
      : buildHeadCentroids(headVectors(decodeAll(items), items.dim, l, model), l.size, l.heads, info.centroids);
    return { source: new CentroidSource(ix, l, info.defaults, queries), note: saved ? undefined : 'no saved centroid index: built from the table' };
  }
  const params = { ...HEAD_INDEX_PARAMS, quantization: info.quantization };
  let empty: UsearchLike;
  try {
    empty = await newUsearch(info.vectors ? l.size + 1 : l.size, params);
  } catch (e) {
    return { source: bruteForceSource(items, info, model), note: `usearch unavailable (${(e as Error).message}); brute-force multi-vector retrieval` };
  }
  const saved = info.file ? await bundle.annIndexPath(info.file) : null;
  const heads = { rows: n, get: () => headVectors(decodeAll(items), items.dim, l, model) };
  const { index: filled, note } = await openUsearch(empty, heads, saved, { params, slice: 4096, names: ['head index', 'table'], vectors: info.vectors });
  return { source: new MultiVectorSource('usearch', l, info.defaults, n, usearchHeads(filled, 1, info.vectors), queries), note };
}
