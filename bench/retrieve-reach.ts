// `npm run bench -- retrieve-reach --bundle DIR --data CONFIG [--items 200000] [--users 50] [--fetch 100,400,1600]
//   [--metrics ip,augmented] [--saved] [--spread S] [--trace] [--connectivity 16] [--expansion-add 128]
//   [--quantization f32|f16] [--builds 1] [--threads T] [--center]`: does the HNSW graph reach the vectors a search should return? Over the first --items
// rows of a bundle's table (its item reps, or its item head vectors for a multi-vector bundle), builds one usearch
// index per metric: 'ip' (inner product on the raw vectors) and 'augmented' (each vector v gets one more coordinate
// sqrt(M^2 - |v|^2), all divided by M: unit vectors whose inner product with [q, 0] is <q, v> / M, so the graph is
// built for the angle between its vectors). Queries are the user reps (or query vectors) of --users users drawn
// from the bundle's training users. Prints, per metric and fetch depth, the recall of the exact top-k vectors among
// the hits (k = 100 items, or k' = 256 head vectors), and the share of the table's vectors with a norm below half
// the largest. A recall that stops rising with depth means vectors the graph never reaches. --saved: also the
// bundle's own index (whole table only); --spread S: each vector first scaled by exp(S z), z standard normal (a
// table whose norms vary); --center: each vector minus the table's mean vector (a shift that ranks every query's
// vectors as before, and moves the table around the origin); --trace (multi-vector): what each candidate source finds with exact searches
// (bench/retrieve-trace.ts); graph and quantization default to 16 / 128 / the bundle's. --builds N: each metric's
// index built N times (a multi-threaded build is not deterministic, and the graph's reach of queries that do not lie
// among the indexed vectors, a user's against items', varies from build to build); --threads: of each build (default:
// one per core).
import { Rng } from '../src/core/index.js';
import { addRows, annThreads, newUsearch } from '../src/export/ann-index.js';
import { decodeAll } from '../src/export/item-table.js';
import { join } from 'node:path';
import { HEAD_INDEX_PARAMS, headVectors, queryVectors, retrievalIndexOf } from '../src/export/retrieval-index.js';
import { augmentQuery, augmentRows, maxNorm } from '../src/export/mips.js';
import { recallAgainstExact } from '../src/export/search-calibration.js';
import type { CandidateSource } from '../src/export/candidate-source.js';
import { allRows } from '../src/export/multi-vector-source.js';
import { Deployment } from '../src/serve/service.js';
import { createScorer } from '../src/serve/scorers/index.js';
import { cpuModel } from './proc.js';
import { traceMaxSim } from './retrieve-trace.js';
import { openData, opt } from './retrieve.js';

const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

/** A copy of rows [N, P], row r scaled by exp(spread * z_r), z_r standard normal (norms like an unnormalised model's). */
function spreadNorms(x: Float32Array, p: number, spread: number): Float32Array {
  const rng = new Rng(3);
  const out = x.slice();
  for (let at = 0; at < out.length; at += p) {
    const f = Math.exp(spread * rng.normal());
    for (let j = 0; j < p; j++) out[at + j] *= f;
  }
  return out;
}

/** Rows [N, P] minus their mean row: <q, v - c> = <q, v> - <q, c> ranks a query's rows as <q, v> does. */
function centered(x: Float32Array, p: number): Float32Array {
  const c = new Float64Array(p);
  for (let at = 0; at < x.length; at += p) for (let j = 0; j < p; j++) c[j] += x[at + j];
  const n = x.length / p;
  const out = new Float32Array(x.length);
  for (let at = 0; at < x.length; at += p) for (let j = 0; j < p; j++) out[at + j] = x[at + j] - c[j] / n;
  return out;
}

/** The user reps of `users` users drawn from the bundle's training data (captured as the scorer hands them over). */
export async function userReps(d: Deployment, data: string, users: number): Promise<Float32Array[]> {
  const reps: Float32Array[] = [];
  const capture: CandidateSource = {
    kind: 'brute-force', index: 'inner-product', defaults: { perHead: 0, ef: 0, maxCandidates: 1 },
    candidates: (rep) => { reps.push(rep.slice()); return allRows(1); }, close: () => {},
  };
  const scorer = createScorer(d.bundle, { store: d.store, ann: capture });
  const ds = await openData(data);
  const keys = ds.userKeys, key = ds.encoders.spec.keys.user;
  const rng = new Rng(7);
  for (let u = 0; u < users; u++) await scorer.retrieve({ user: { [key]: keys[rng.int(keys.length)] }, k: 1, mode: 'ann' });
  return reps;
}

/** Per fetch depth, the share of each query's exact top-k that the index's best `fetch` holds (ties with the k-th count). */
function curveOf(hits: (fetch: number, q: Float32Array) => ArrayLike<number | bigint>, vectors: Float32Array, p: number, queries: Float32Array[], k: number, fetches: number[]): string {
  const q = new Float32Array(queries.length * p);
  queries.forEach((x, i) => q.set(x, i * p));
  const recall = recallAgainstExact(vectors, p, q, k, fetches.map((f) => (x: Float32Array) => hits(Math.max(f, k), x)));
  return fetches.map((f, i) => `fetch ${f}: ${round(recall[i])}`).join(', ');
}

export async function benchRetrieveReach(args: string[]): Promise<void> {
  const dir = opt(args, 'bundle');
  const data = opt(args, 'data');
  if (!dir || !data) throw new Error('--bundle DIR --data CONFIG: the bundle whose table to index, the data config it was trained on');
  const limit = Number(opt(args, 'items') ?? 200_000);
  const fetches = (opt(args, 'fetch') ?? '100,400,1600').split(',').map(Number);
  const metrics = (opt(args, 'metrics') ?? 'ip,augmented').split(',');
  const d = await Deployment.open(dir, { ann: 'off' });
  try {
    const t = d.bundle.items!;
    const info = retrievalIndexOf(d.bundle.manifest.items, false);
    const n = Math.min(limit, t.ids.size);
    const reps = decodeAll(t).subarray(0, n * t.dim);
    const users = await userReps(d, data, Number(opt(args, 'users') ?? 50));
    let vectors = reps, p = t.dim, queries = users, k = 100, quantization: 'f32' | 'f16' = 'f32';
    if (info.kind === 'multi-vector') {
      const l = info.layout;
      vectors = headVectors(reps, t.dim, l, d.bundle.model);
      p = l.size;
      queries = users.flatMap((u) => { const q = queryVectors(u, l, d.bundle.model); return Array.from({ length: l.queries }, (_, a) => q.subarray(a * p, (a + 1) * p)); });
      k = 256;
      quantization = (opt(args, 'quantization') ?? info.quantization) === 'f16' ? 'f16' : 'f32';
    }
    if (info.kind === 'multi-vector' && args.includes('--trace')) {
      const l = info.layout;
      traceMaxSim(vectors, l, users, Number.isInteger(l.queries / l.heads) ? l.queries / l.heads : 1, d.bundle.model);
    }
    const spread = Number(opt(args, 'spread') ?? 0);
    if (spread > 0) vectors = spreadNorms(vectors, p, spread);
    if (args.includes('--center')) vectors = centered(vectors, p);
    const m = maxNorm(vectors, p);
    let small = 0;
    for (let r = 0; r < vectors.length / p; r++) if (Math.hypot(...vectors.subarray(r * p, (r + 1) * p)) < m / 2) small++;
    console.log(`CPU ${cpuModel()}; ${dir}: ${info.kind}, ${n} items, ${vectors.length / p} vectors of ${p}, max norm ${round(m)}, ${round(small / (vectors.length / p))} below half of it; ${queries.length} queries; exact top-${k}`);
    if (args.includes('--saved') && (info.kind === 'inner-product' || info.kind === 'multi-vector') && info.file && n === t.ids.size) {
      const index = await newUsearch(info.vectors ? p + 1 : p, info.kind === 'multi-vector' ? { ...HEAD_INDEX_PARAMS, quantization } : {});
      index.view(join(dir, info.file));
      const search = (fetch: number, q: Float32Array) => index.search(info.vectors ? augmentQuery(q) : q, fetch, 1).keys.subarray(0, fetch);
      console.log(`  saved index (${info.vectors ? 'augmented' : 'raw inner product'}): recall@${k} ${curveOf(search, vectors, p, queries, k, fetches)}`);
    }
    const builds = Number(opt(args, 'builds') ?? 1), threads = Number(opt(args, 'threads') ?? annThreads());
    for (let b = 0; b < builds; b++) for (const metric of metrics) {
      const aug = metric === 'augmented';
      const graph = { connectivity: Number(opt(args, 'connectivity') ?? 16), expansion_add: Number(opt(args, 'expansion-add') ?? 128) };
      const index = await newUsearch(aug ? p + 1 : p, { ...graph, expansion_search: 16, quantization });
      const t0 = performance.now();
      await addRows(index, aug ? augmentRows(vectors, p, m) : vectors, aug ? p + 1 : p, 4096, threads);
      const buildS = (performance.now() - t0) / 1000;
      const search = (fetch: number, q: Float32Array) => {
        const qq = aug ? augmentQuery(q) : q;
        return index.search(qq, fetch, 1).keys.subarray(0, fetch);
      };
      console.log(`  ${metric.padEnd(9)} ${quantization} M ${graph.connectivity} ef_add ${graph.expansion_add} build ${builds > 1 ? `${b + 1} ` : ''}${round(buildS, 1)} s (${threads} threads); recall@${k} ${curveOf(search, vectors, p, queries, k, fetches)}`);
    }
  } finally {
    await d.close();
  }
}
