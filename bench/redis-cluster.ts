// `npm run bench -- redis-cluster [--bulk=1000000] [--dim=64] [--items=100000] [--requests=1000] [--buckets=48]
// [--k=1000]`: the Redis item store on a real Redis Cluster (3 masters on loopback, started here as the tests start
// theirs: test/redis-cluster-fixture.ts; needs scripts/install-redis.sh).
//   1. Bulk load: --bulk random float32 item reps of --dim floats published into the cluster (MSET per bucket, 32
//      commands in flight), timed: rows/s. Then store lookups of --k random ids on that table: p50/p99.
//   2. Serving: an untrained DSSM bundle over a synthetic log with --items items (exported here, no ANN index), one
//      user and --k random candidates per request, top 100, through the service's scorer (user tower + store lookup +
//      scoring), the cluster store, the store on one redis-server and the in-process memory store alternating in
//      blocks of 50 requests so all sample the same stretch of time; p50/p99 of each. `redis_cluster_k1000_p99_ms`
//      is the cluster's p99.
// The last line is one JSON object. clusterServeLatency is what the scale bench calls on its own bundle.
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { percentile } from '../src/util/stats.js';
import { Dataset, parseDataConfig } from '../src/data/index.js';
import { exportBundle } from '../src/export/index.js';
import { quantize } from '../src/export/item-table.js';
import { MODELS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { Deployment } from '../src/serve/service.js';
import { openStore } from '../src/serve/stores/index.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';
import { startRedisCluster } from '../test/redis-cluster-fixture.js';
import { startRedis, tempDir } from '../test/serve-fixture.js';

export interface Lat {
  p50: number;
  p99: number;
}

const lat = (xs: number[]): Lat => ({ p50: percentile(xs, 0.5), p99: percentile(xs, 0.99) });
const ms = (x: number) => Number(x.toFixed(2));

/** One side of a latency comparison: a deployment and the item ids its requests draw candidates from. */
export interface LatencySide {
  deployment: Deployment;
  itemIds: readonly (string | number)[];
}

/**
 * Serving latency at `k` random candidates per request (top 100) through each side's scorer, the sides alternating
 * in blocks of 50 requests after 30 warm-up requests each, so all sample the same stretch of time.
 */
export async function alternatingLatency(sides: LatencySide[], o: { user: () => Record<string, unknown>; k: number; requests: number;
  seed?: number }): Promise<Lat[]> {
  const rng = new Rng(o.seed ?? 5);
  const times: number[][] = sides.map(() => []);
  const block = async (d: number, n: number, keep: boolean) => {
    const { deployment, itemIds } = sides[d];
    for (let r = 0; r < n; r++) {
      // through JSON, as the HTTP server hands a request to the scorer: fresh strings, not the pool's (whose heap
      // lines would miss the caches on their own)
      const req = JSON.parse(JSON.stringify({ user: o.user(), candidates: Array.from({ length: o.k }, () => itemIds[rng.int(itemIds.length)]), n: 100 }));
      const t0 = performance.now();
      const res = await deployment.scorer.prerank(req);
      if (keep) times[d].push(performance.now() - t0);
      if (res.items.length !== Math.min(100, o.k - res.unknown.length)) throw new Error(`${deployment.bundle.dir}: ${res.items.length} items in a top-100`);
    }
  };
  for (let d = 0; d < sides.length; d++) await block(d, 30, false);
  for (let done = 0; done < o.requests; done += 50) for (let d = 0; d < sides.length; d++) await block(d, Math.min(50, o.requests - done), true);
  return times.map(lat);
}

/** alternatingLatency on one bundle through each store URL in `urls` (e.g. a redis-cluster:// URL and 'memory'). */
export async function clusterServeLatency(bundle: string, o: { urls: string[]; user: Record<string, unknown>; itemIds: string[]; k: number; requests: number;
  seed?: number }): Promise<Lat[]> {
  const deps: Deployment[] = [];
  try {
    for (const url of o.urls) deps.push(await Deployment.open(bundle, { store: url, ann: 'off' }));
    return await alternatingLatency(deps.map((deployment) => ({ deployment, itemIds: o.itemIds })), { user: () => o.user, k: o.k, requests: o.requests, seed: o.seed });
  } finally {
    for (const d of deps) await d.close();
  }
}

/** Publishes `rows` random reps into the cluster, then times store lookups of k random ids. */
async function bulkLoad(url: string, o: { rows: number; dim: number; k: number; requests: number; buckets: number }) {
  const rng = new Rng(3);
  const reps = new Float32Array(o.rows * o.dim);
  for (let i = 0; i < reps.length; i++) reps[i] = rng.normal() * 0.3;
  const ids = Array.from({ length: o.rows }, (_, i) => `item:${i}`);
  const table = quantize(ids, reps, o.dim, 'float32');
  const t0 = performance.now();
  const store = await openStore({ url: `${url}?buckets=${o.buckets}`, modelHash: 'bulk'.padEnd(64, '0'), table: async () => table });
  const seconds = (performance.now() - t0) / 1000;
  try {
    const times: number[] = [];
    for (let r = 0; r < o.requests + 30; r++) {
      const want = Array.from({ length: o.k }, () => ids[rng.int(o.rows)]);
      const t = performance.now();
      const got = await store.get(want);
      if (r >= 30) times.push(performance.now() - t);
      if (got.found.length !== o.k) throw new Error(`lookup found ${got.found.length} of ${o.k}`);
    }
    return { seconds, rowsPerS: o.rows / seconds, lookup: lat(times) };
  } finally {
    await store.close();
  }
}

/** A bundle of an untrained DSSM over a synthetic log with `items` items (no ANN index). */
async function syntheticBundle(work: string, items: number): Promise<{ dir: string; user: Record<string, unknown>; itemIds: string[] }> {
  const input = writeSyntheticLog(join(work, 'data'), { users: 2000, items, interactionsPerUser: 50 });
  const data = await Dataset.load(parseDataConfig(input));
  const model = MODELS.dssm({ features: data.features, rng: new Rng(2022) }, {} as never) as RecModel;
  const dir = join(work, 'bundle');
  await exportBundle({ model, dataset: data, config: { kind: 'dssm', config: {} } }, dir, { annIndex: false });
  return { dir, user: { user_id: 'u1', gender: 'F', age: 30 }, itemIds: data.itemKeys.map(String) };
}

export async function benchRedisCluster(args: string[]): Promise<void> {
  const num = (name: string, dflt: number) => {
    const raw = args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
    const v = raw === undefined ? dflt : Number(raw);
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} must be a positive integer, got '${raw}'`);
    return v;
  };
  const o = { bulk: num('bulk', 1_000_000), dim: num('dim', 64), items: num('items', 100_000), requests: num('requests', 1000), buckets: num('buckets', 48), k: num('k', 1000) };
  const cpu = `${cpus()[0]?.model ?? engineInfo().cpu} (${cpus().length} vCPU)`;
  console.log(`CPU: ${cpu}; ${JSON.stringify(o)}`);
  const work = tempDir('bench-redis-cluster');
  const cluster = await startRedisCluster();
  const single = await startRedis();
  try {
    console.log(`cluster: ${cluster.url}`);
    const bulk = await bulkLoad(cluster.url, { rows: o.bulk, dim: o.dim, k: o.k, requests: o.requests, buckets: o.buckets });
    console.log(`bulk load: ${o.bulk} rows x ${o.dim} float32 in ${bulk.seconds.toFixed(1)} s = ${bulk.rowsPerS.toFixed(0)} rows/s; store lookups of ${o.k} ids: p50 ${bulk.lookup.p50.toFixed(2)} ms, p99 ${bulk.lookup.p99.toFixed(2)} ms`);
    const b = await syntheticBundle(work, o.items);
    const urls = [`${cluster.url}?buckets=${o.buckets}`, single.url, 'memory'];
    const [onCluster, onOne, inMemory] = await clusterServeLatency(b.dir, { urls, user: b.user, itemIds: b.itemIds, k: o.k, requests: o.requests });
    const show = (l: Lat) => `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms`;
    console.log(`serving DSSM, ${b.itemIds.length} items, k = ${o.k}: redis cluster ${show(onCluster)}; one redis-server ${show(onOne)}; memory store ${show(inMemory)}`);
    console.log(JSON.stringify({ bench: 'redis-cluster', cpu, masters: cluster.ports.length, buckets: o.buckets, bulk_rows: o.bulk, dim: o.dim, bulk_load_s: ms(bulk.seconds),
      bulk_rows_per_s: Math.round(bulk.rowsPerS), lookup_k1000_p50_ms: ms(bulk.lookup.p50), lookup_k1000_p99_ms: ms(bulk.lookup.p99), serve_items: b.itemIds.length,
      redis_cluster_k1000_p50_ms: ms(onCluster.p50), redis_cluster_k1000_p99_ms: ms(onCluster.p99), redis_k1000_p50_ms: ms(onOne.p50),
      redis_k1000_p99_ms: ms(onOne.p99), memory_k1000_p50_ms: ms(inMemory.p50), memory_k1000_p99_ms: ms(inMemory.p99) }));
  } finally {
    await Promise.all([cluster.stop(), single.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}
