// The Redis item store on a Redis Cluster (three masters this test starts on loopback): how the bucketed layout
// spreads a table over the masters, how a lookup's reads reach them, and a master that comes back empty. The
// conformance suite runs on the cluster in serve-stores.test.ts; restarts under HTTP load in faults.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Rng } from '../src/core/index.js';
import { bucketTags, slotOf, SLOTS } from '../src/serve/stores/redis-layout.js';
import { openStore } from '../src/serve/stores/index.js';
import { StoreUnavailableError } from '../src/serve/stores/types.js';
import { firstIds } from '../src/export/index.js';
import { randomTable } from './serve-store-conformance.js';
import { redisClusterAvailable, REDIS_CLUSTER_SKIP, startRedisCluster, type RedisCluster } from './redis-cluster-fixture.js';

const skip = redisClusterAvailable() ? undefined : REDIS_CLUSTER_SKIP;
if (skip) console.log(`# ${skip}`);
let cluster: RedisCluster | null = null;
const nodes: Redis[] = [];

before(async () => {
  if (skip) return;
  cluster = await startRedisCluster();
  for (const port of cluster.ports) nodes.push(new Redis({ port, host: '127.0.0.1' }).on('error', () => {}));
});
after(async () => {
  nodes.forEach((n) => n.disconnect());
  await cluster?.stop();
});

test('bucket tags hash like Redis does, and bucket b of B lands in the b-th of B equal slot ranges', { skip }, async () => {
  for (const tag of ['foo', '123456789', ...bucketTags(48)]) assert.equal(slotOf(tag), await nodes[0].cluster('KEYSLOT', tag), tag);
  for (const B of [1, 3, 48, 1024]) {
    bucketTags(B).forEach((tag, b) => {
      const s = slotOf(tag);
      assert.ok(s >= Math.floor((b * SLOTS) / B) && s < Math.floor(((b + 1) * SLOTS) / B), `B=${B} bucket ${b}: slot ${s}`);
    });
  }
  assert.throws(() => bucketTags(1025), /buckets must be an integer in 1\.\.1024/);
});

test('a 48-bucket table splits evenly among three masters: 16 buckets and about a third of the items each', { skip }, async () => {
  const table = randomTable(3000, 8, 'float32');
  const s = await openStore({ url: `${cluster!.url}?prefix=spread`, modelHash: 'a'.repeat(64), table: async () => table });
  try {
    const markers = await Promise.all(nodes.map((n) => n.keys('spread:*:m')));
    assert.deepEqual(markers.map((m) => m.length), [16, 16, 16]);
    const items = await Promise.all(nodes.map((n) => n.keys('spread:*:i:*')));
    for (const got of items) assert.ok(got.length > 800 && got.length < 1200, `${got.length} of 3000 items on one master`);
    assert.equal(items.flat().length, 3000);
  } finally {
    await s.close();
  }
});

test('a lookup of 1,000 ids is one MGET per bucket, each on the master serving that bucket (no CROSSSLOT, no redirect)', { skip }, async () => {
  const table = randomTable(5000, 8, 'float16');
  const s = await openStore({ url: `${cluster!.url}?prefix=reads`, modelHash: 'b'.repeat(64), table: async () => table });
  try {
    const rng = new Rng(4);
    const ids = Array.from({ length: 1000 }, () => table.ids.keyAt(rng.int(5000)));
    await Promise.all(nodes.map((n) => n.config('RESETSTAT')));
    const r = await s.get(ids);
    assert.equal(r.found.length, 1000);
    const stats = await Promise.all(nodes.map((n) => n.info('commandstats')));
    const calls = stats.map((t) => Number(/cmdstat_mget:calls=(\d+)/.exec(t)?.[1] ?? 0));
    const errors = stats.map((t) => Number(/errorstat_MOVED:count=(\d+)/.exec(t)?.[1] ?? 0));
    assert.deepEqual(calls, [16, 16, 16], 'every one of the 48 buckets read once, on its own master');
    assert.deepEqual(errors, [0, 0, 0]);
  } finally {
    await s.close();
  }
});

test('a master restarted empty: lookups touching its buckets answer 503 naming the cause; only its 16 buckets are republished; then every lookup succeeds', { skip }, async () => {
  const table = randomTable(1200, 8, 'int8');
  const logs: string[] = [];
  const s = await openStore({ url: `${cluster!.url}?prefix=restart&timeout=500`, modelHash: 'c'.repeat(64), table: async () => table, log: (m) => logs.push(m) });
  try {
    assert.equal((await s.get(firstIds(table.ids, 1200))).found.length, 1200);
    await cluster!.kill(1);
    const down = await s.get(firstIds(table.ids, 1200)).then(() => null, (e: Error) => e);
    assert.ok(down instanceof StoreUnavailableError, `while a master is down: ${down}`);
    assert.match(down.message, /redis-cluster item store redis-cluster:\/\/.*: (a lookup took longer than the 500 ms timeout|the cluster)/);
    await cluster!.start(1);
    let last: unknown = null;
    for (let t0 = Date.now(); Date.now() - t0 < 8000; await new Promise((r) => setTimeout(r, 100))) {
      last = await s.get(firstIds(table.ids, 1200)).then((r) => r.found.length, (e: Error) => e.message);
      if (last === 1200) break;
    }
    assert.equal(last, 1200, `not recovered: ${last}`);
    assert.ok(logs.some((m) => /16 of 48 buckets have lost their marker key/.test(m)), logs.join('\n'));
    assert.ok(logs.some((m) => /republished 16 buckets/.test(m)), logs.join('\n'));
    const keys = Number(spawnSync('redis-cli', ['-p', String(cluster!.ports[1]), 'dbsize'], { encoding: 'utf8' }).stdout.trim());
    assert.ok(keys > 16, `the restarted master holds its buckets again (${keys} keys)`);
  } finally {
    await s.close();
  }
});
