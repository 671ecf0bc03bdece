// Item stores: the conformance suite for every registered store (Redis against a redis-server this test starts on a
// random loopback port, Redis Cluster against three masters it starts the same way), Redis key spaces and publishing,
// and the ANN indexes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { firstIds, readIdTable } from '../src/export/id-table.js';
import { writeIdTable } from '../src/export/id-table-write.js';
import type { ItemTable } from '../src/export/item-table.js';
import { canMap, mapFile } from '../src/export/mapped-file.js';
import { BruteForceIndex, buildAnnIndex } from '../src/serve/ann.js';
import { openStore, STORES, storeKind } from '../src/serve/stores/index.js';
import { parseRedisUrl } from '../src/serve/stores/redis-url.js';
import type { ItemStore, StoreOpenOptions } from '../src/serve/stores/types.js';
import { annConformance, randomTable, storeConformance, type StoreHarness } from './serve-store-conformance.js';
import { redisClusterAvailable, REDIS_CLUSTER_SKIP, startRedisCluster, type RedisCluster } from './redis-cluster-fixture.js';
import { redisAvailable, REDIS_SKIP, startRedis, type RedisServer } from './serve-fixture.js';

const haveRedis = redisAvailable();
if (!haveRedis) console.log(`# ${REDIS_SKIP}`);
const haveCluster = redisClusterAvailable();
if (!haveCluster) console.log(`# ${REDIS_CLUSTER_SKIP}`);
let redis: RedisServer | null = null;
let cluster: RedisCluster | null = null;
let space = 0;

before(async () => {
  [redis, cluster] = await Promise.all([haveRedis ? startRedis() : null, haveCluster ? startRedisCluster() : null]);
});
after(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const harnesses: Record<keyof typeof STORES, StoreHarness> = {
  memory: { open: (table, extra) => openStore({ url: 'memory', modelHash: 'x'.repeat(64), table: async () => table, ...extra }) },
  redis: {
    skip: haveRedis ? undefined : REDIS_SKIP,
    open: (table, extra) => openStore({ url: redis!.url, modelHash: `${(space++).toString(16).padStart(16, '0')}`, table: async () => table, ...extra }),
  },
  'redis-cluster': {
    skip: haveCluster ? undefined : REDIS_CLUSTER_SKIP,
    open: (table, extra) => openStore({ url: cluster!.url, modelHash: `${(space++).toString(16).padStart(16, '0')}`, table: async () => table, ...extra }),
  },
};
for (const [name, h] of Object.entries(harnesses)) storeConformance(name, h);

// The memory store as a bundle serves it: ids in a binary id table, mapped where the addon can (batch lookups native).
let tables = 0;
/** Swaps the table's ids for the same ids as an id table (the suite compares the located table by reference). */
async function withIdTable(table: ItemTable): Promise<ItemTable> {
  const dir = mkdtempSync(join(tmpdir(), 'prerank-store-ids-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, `ids-${tables++}.bin`);
  const keys = firstIds(table.ids, Infinity);
  await writeIdTable(path, keys, 'items/ids.bin');
  const bytes = canMap() ? new Uint8Array(mapFile(path)) : new Uint8Array(readFileSync(path));
  table.ids = readIdTable(bytes, keys.length, 'items/ids.bin');
  return table;
}
storeConformance('memory (id table)', {
  open: async (table, extra) => {
    const mapped = await withIdTable(table);
    return openStore({ url: 'memory', modelHash: 'x'.repeat(64), table: async () => mapped, ...extra });
  },
});

annConformance('usearch', async (reps, dim) => {
  const r = await buildAnnIndex(reps, dim, 'usearch');
  assert.equal(r.index.kind, 'usearch', r.note);
  return r.index;
});
annConformance('brute-force', async (reps, dim) => new BruteForceIndex(reps, dim));

test('store URLs select the implementation', () => {
  assert.equal(storeKind('memory'), 'memory');
  assert.equal(storeKind('redis://127.0.0.1:6379/2'), 'redis');
  assert.equal(storeKind('redis-cluster://127.0.0.1:7000,127.0.0.1:7001'), 'redis-cluster');
  assert.throws(() => storeKind('mongodb://x'), /unknown item store/);
  assert.deepEqual(parseRedisUrl('redis://:pw@h:7000/3?prefix=p1&lru=500'),
    { connect: 'redis://:pw@h:7000/3', prefix: 'p1', lru: 500, timeout: 1000, publishTimeout: 60000, buckets: 1, where: 'redis://h:7000/3' });
  assert.equal(parseRedisUrl('redis://h?timeout=250').timeout, 250);
  assert.throws(() => parseRedisUrl('redis://h?lru=-1'), /lru/);
  assert.throws(() => parseRedisUrl('redis://h?timeout=0'), /timeout/);
  assert.throws(() => parseRedisUrl('redis://h?prefix=a{b}'), /prefix must not contain/);
  const c = parseRedisUrl('redis-cluster://u:s%40cret@10.0.0.1:7000,db-2:7001?timeout=300&buckets=256');
  assert.deepEqual([c.nodes, c.username, c.password, c.timeout, c.buckets, c.where],
    [[{ host: '10.0.0.1', port: 7000 }, { host: 'db-2', port: 7001 }], 'u', 's@cret', 300, 256, 'redis-cluster://10.0.0.1:7000,db-2:7001']);
  assert.throws(() => parseRedisUrl('redis-cluster://h:7000,h2'), /cluster node 'h2' is not host:port/);
  assert.throws(() => parseRedisUrl('redis-cluster://h:7000/2'), /no databases/);
  assert.throws(() => parseRedisUrl('redis-cluster://h:7000?buckets=5000'), /buckets must be an integer in 1\.\.1024/);
});

test('redis store: the first node publishes a model\'s table once; others share it; key spaces are per model', { skip: haveRedis ? undefined : REDIS_SKIP }, async () => {
  const table = randomTable(120, 8, 'int8', 5);
  let reads = 0;
  const opts = (hash: string): StoreOpenOptions => ({ url: `${redis!.url}?prefix=share`, modelHash: hash, table: async () => (reads++, table) });
  const a = await openStore(opts('a'.repeat(64)));
  const b = await openStore(opts('a'.repeat(64)));
  assert.equal(reads, 1, 'second node reads the published table, not the bundle');
  const r = await b.get([table.ids.keyAt(7)]);
  assert.equal(r.found.length, 1);
  const c = await openStore(opts('b'.repeat(64)));
  assert.equal(reads, 2);
  const cli = new Redis(redis!.url);
  try {
    const keys = await cli.keys('share:*meta');
    assert.deepEqual(keys.sort(), ['share:aaaaaaaaaaaaaaaa:meta', 'share:bbbbbbbbbbbbbbbb:meta']);
    assert.equal((await cli.getBuffer(`share:aaaaaaaaaaaaaaaa:{0}:i:${table.ids.keyAt(0)}`))!.byteLength, 4 + 8, 'int8 row: scale + 8 bytes');
    assert.equal(await cli.get('share:aaaaaaaaaaaaaaaa:{0}:m'), '1', 'the bucket marker');
  } finally {
    cli.disconnect();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('redis store: publishing is bounded by ?publishTimeout=, not by the lookups\' ?timeout=', { skip: haveRedis ? undefined : REDIS_SKIP }, async () => {
  // CLIENT PAUSE WRITE holds every write for 400 ms: publishing's MSETs wait that long, far past the 50 ms lookup bound
  const table = randomTable(300, 8, 'float32', 9);
  const cli = new Redis(redis!.url);
  const open = (hash: string, q: string): Promise<ItemStore> => openStore({ url: `${redis!.url}?prefix=pub&timeout=50${q}`, modelHash: hash, table: async () => table });
  try {
    await cli.call('CLIENT', 'PAUSE', '400', 'WRITE');
    const s = await open('d'.repeat(64), '');
    const r = await s.get([table.ids.keyAt(3)]);
    assert.deepEqual([...r.found], [0]);
    assert.deepEqual([...r.reps], [...table.data.subarray(3 * 8, 4 * 8)]);
    await s.close();
    await cli.call('CLIENT', 'PAUSE', '400', 'WRITE');
    await assert.rejects(open('e'.repeat(64), '&publishTimeout=100'), /publishing the item table .*100 ms/);
    await cli.call('CLIENT', 'UNPAUSE');
    assert.equal(parseRedisUrl('redis://h').publishTimeout, 60000);
    assert.throws(() => parseRedisUrl('redis://h?publishTimeout=x'), /publishTimeout must be a positive number of ms/);
  } finally {
    await cli.call('CLIENT', 'UNPAUSE').catch(() => undefined);
    cli.disconnect();
  }
});

test('redis store: a server that is not there fails with the URL in the message', { skip: haveRedis ? undefined : REDIS_SKIP }, async () => {
  await assert.rejects(openStore({ url: 'redis://127.0.0.1:1', modelHash: 'c'.repeat(64), table: async () => randomTable(2, 2, 'float32') }), /redis store redis:\/\/127\.0\.0\.1:1/);
});
