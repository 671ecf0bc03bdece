// Data values named like Object.prototype members ('__proto__', 'constructor', 'toString', ...) as user ids, item ids,
// categorical values and sequence tokens are ordinary values all the way: ingest, fit, training, export and every
// HTTP route. The named user keeps its own history and statistics, the named items score under their own ids, and
// names the data does not hold are unknown like any other unknown id.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { noGrad, scope } from '../src/core/index.js';
import { allocBatch, BatchFiller } from '../src/data/batch.js';
import { Dataset, FeatureEncoders, parseDataConfig, writeSyntheticLog, type DataConfig } from '../src/data/index.js';
import { exportBundle } from '../src/export/index.js';
import { TINY_CONFIGS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { EventDecoder, OnlineEntities, RedisStreamSource, type Decoded, type SourceEvent } from '../src/online/index.js';
import type { ScoreResponse } from '../src/serve/scorer.js';
import { createServer, type PrerankServer } from '../src/serve/server.js';
import { parseTrainConfig } from '../src/train/config.js';
import { buildModel, buildStrategy, runTraining } from '../src/train/run.js';
import { csvRowsByKey, redisAvailable, REDIS_SKIP, startRedis, tempDir } from './serve-fixture.js';

/** In the data: as user ids, item ids, categories, genre tokens, genders and devices. */
const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
/** Prototype member names the data does not hold. */
const ABSENT = ['isPrototypeOf', 'toLocaleString', '__defineGetter__'];
const KINDS = ['dssm', 'int-tower', 'dcn'] as const;
type Kind = (typeof KINDS)[number];

let root: string;
let cfg: DataConfig;
let data: Dataset;
const models = new Map<Kind, RecModel>();
const bundles = new Map<Kind, string>();
let srv: PrerankServer;
/** users.csv rows by user id, as the service receives them. */
let users: Map<string, Record<string, string>>;

/** Rewrites the given columns of a CSV file through `map` (values it does not know stay). */
function renameColumns(path: string, map: (col: string, value: string) => string): void {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head.split(',');
  const out = rows.map((r) => r.split(',').map((v, i) => map(cols[i], v)).join(','));
  writeFileSync(path, `${[head, ...out].join('\n')}\n`);
}

/** u0..u4, i0..i4 and c0..c4 become the prototype names; so do the genders, two devices and five genres. */
function protoLog(dir: string): DataConfig {
  const input = writeSyntheticLog(dir, { users: 40, items: 30, interactionsPerUser: 24, seed: 3 });
  const byIndex = (prefix: string, v: string): string | undefined => {
    const m = new RegExp(`^${prefix}(\\d+)$`).exec(v);
    return m && Number(m[1]) < PROTO.length ? PROTO[Number(m[1])] : undefined;
  };
  const genres = new Map([['action', '__proto__'], ['comedy', 'constructor'], ['drama', 'toString'], ['horror', 'hasOwnProperty'], ['romance', 'valueOf']]);
  const named = new Map([['F', 'toString'], ['M', '__proto__'], ['ios', 'constructor'], ['android', '__proto__']]);
  const map = (col: string, v: string): string => {
    if (col === 'user_id') return byIndex('u', v) ?? v;
    if (col === 'item_id') return byIndex('i', v) ?? v;
    if (col === 'category') return byIndex('c', v) ?? v;
    if (col === 'genres') return v.split('|').map((g) => genres.get(g) ?? g).join('|');
    if (col === 'gender' || col === 'device') return named.get(v) ?? v;
    return v;
  };
  for (const f of ['users.csv', 'items.csv', 'events.csv']) renameColumns(join(dir, f), map);
  return parseDataConfig(input);
}

before(async () => {
  root = tempDir('proto');
  cfg = protoLog(join(root, 'data'));
  data = await Dataset.load(cfg);
  users = csvRowsByKey(join(root, 'data', 'users.csv'));
  for (const kind of KINDS) {
    const train = parseTrainConfig({ model: { kind, config: TINY_CONFIGS[kind] }, data: { config: 'unused' }, batchSize: 128, epochs: 1, seed: 5,
      optimizer: { kind: 'adam', lr: 0.01 }, outDir: join(root, 'runs', kind) });
    const r = await runTraining(train, { data, quiet: true });
    models.set(kind, r.model);
    // bundle directories named like prototype members too: /admin/reload takes them from the request body
    const dir = join(root, 'bundles', PROTO[KINDS.indexOf(kind)]);
    await exportBundle({ model: r.model, dataset: data, config: train.model }, dir, { samplePairs: 256 });
    bundles.set(kind, dir);
  }
  srv = await createServer({ bundleRoot: join(root, 'bundles'), defaultMetrics: false, underPressure: false });
});
after(async () => {
  await srv?.app.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const post = (url: string, body: unknown, s: PrerankServer = srv) =>
  s.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

/** A request's user row: the users.csv row and a device. */
const userRow = (id: string): Record<string, string> => ({ ...users.get(id)!, device: 'constructor' });

/** The user's fitted history (item tokens, oldest first) as the train data holds it. */
function fittedHistory(id: string): string[] {
  const u = data.userKeys.indexOf(id);
  const h = data.history.get('user_hist')!;
  const vocab = data.encoders.vocabulary('user_hist');
  const ids = h.ids.subarray(Math.max(h.start[u], h.start[u + 1] - h.maxLen), h.start[u + 1]);
  return Array.from(ids, (x) => vocab.token(x)!);
}

/** What encodeRow gives for a user: history tokens and the scaled user_ctr. */
function servedUser(enc: FeatureEncoders, id: string): { history: string[]; ctr: number } {
  const row = enc.encodeRow({ user_id: id }, ['user']);
  const vocab = enc.vocabulary('user_hist');
  return { history: Array.from(row.sequence.user_hist, (x) => vocab.token(x) ?? `#${x}`), ctr: row.dense.user_ctr };
}

/** The model's logits for (user entity, item entities), from the train data's own tables: what serving must give. */
function expectedScores(kind: Kind, user: string, items: string[]): Map<string, number> {
  const model = models.get(kind)!;
  const n = items.length;
  const b = allocBatch(data.features, n);
  b.rows.fill(-1); // no dataset row: the user's history is all of their fitted positives, as at serving
  b.user.fill(data.userKeys.indexOf(user));
  b.item.set(items.map((id) => data.itemKeys.indexOf(id)));
  new BatchFiller(data, ['user', 'item']).fillEntities(b, n);
  const ctx = data.encoders.encodeRow(userRow(user), ['context']);
  for (const [k, v] of Object.entries(ctx.sparse)) b.sparse[k].fill(v);
  model.eval();
  const z = noGrad(() => scope(() => Array.from(model.forward(b).data.subarray(0, n))));
  return new Map(items.map((id, i) => [id, z[i]]));
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-3 * (1 + Math.abs(b));

test('ingest and fit keep prototype-named values as ordinary values', () => {
  for (const id of PROTO) {
    assert.ok(data.userKeys.includes(id) && data.itemKeys.includes(id), `${id}: a user and an item entity`);
    for (const f of ['user_id', 'item_id', 'category', 'genres', 'user_hist']) assert.ok(data.encoders.vocabulary(f).has(id), `${f} has '${id}'`);
  }
  for (const v of ['toString', '__proto__']) assert.ok(data.encoders.vocabulary('gender').has(v), `gender has '${v}'`);
  for (const v of ['constructor', '__proto__']) assert.ok(data.encoders.vocabulary('device').has(v), `device has '${v}'`);
  for (const id of ABSENT) assert.ok(!data.encoders.vocabulary('user_id').has(id));
});

test('data config: a feature name may not be an Object.prototype member (feature names key batches and encoders)', () => {
  const base = writeSyntheticLog(join(root, 'names'));
  for (const bad of ['__proto__', 'constructor', 'toString']) {
    const input = { ...base, features: [...base.features, { kind: 'sparse' as const, name: bad, source: 'user' as const, column: 'gender' }] };
    assert.throws(() => parseDataConfig(input), /features\.8\.name: a feature name may not be an Object\.prototype member/);
  }
});

test('model and strategy names and config keys named like prototype members are unknown', async () => {
  const train = (model: unknown, strategy?: unknown) => parseTrainConfig({ model, strategy, data: { config: 'unused' }, outDir: join(root, 'runs', 'x') });
  for (const bad of ['constructor', 'toString']) {
    assert.throws(() => train({ kind: bad }), new RegExp(`train\\.model\\.kind: unknown model '${bad}'`));
    assert.throws(() => train({ kind: 'dssm', config: { [bad]: 1 } }), new RegExp(`train\\.model\\.config\\.${bad}: unknown key '${bad}'`));
    assert.throws(() => train({ kind: 'dssm' }, { kind: bad }), new RegExp(`train\\.strategy\\.kind: unknown training strategy '${bad}'`));
    assert.throws(() => train({ kind: 'dssm' }, { kind: 'onebp', config: { [bad]: 1 } }), new RegExp(`train\\.strategy\\.config\\.${bad}: unknown key '${bad}'`));
    // the same names reach the registries from code that builds a config without validating it
    const unchecked = (model: unknown, strategy?: unknown) => ({ ...train({ kind: 'dssm' }), model, strategy }) as ReturnType<typeof train>;
    assert.throws(() => buildModel(unchecked({ kind: bad, config: {} }), data), new RegExp(`unknown model '${bad}'`));
    assert.throws(() => buildModel(unchecked({ kind: 'dssm', config: { [bad]: 1 } }), data), new RegExp(`dssm\\.${bad}: unknown key '${bad}'`));
    await assert.rejects(buildStrategy(unchecked({ kind: 'dssm', config: {} }, { kind: bad, config: {} }), models.get('dssm')!, data), new RegExp(`unknown training strategy '${bad}'`));
    await assert.rejects(buildStrategy(unchecked({ kind: 'dssm', config: {} }, { kind: 'onebp', config: { [bad]: 1 } }), models.get('dssm')!, data), new RegExp(`onebp\\.${bad}: unknown key '${bad}'`));
  }
});

test('every prototype-named user keeps their own history and statistics, through the encoders JSON too', () => {
  const ctr = data.tables.user.dense.get('user_ctr')!;
  const roundTrip = FeatureEncoders.fromJSON(JSON.parse(JSON.stringify(data.encoders.toJSON())));
  const histories = new Set<string>();
  for (const id of PROTO) {
    const want = fittedHistory(id);
    assert.ok(want.length > 0, `${id} has train positives (the test needs them)`);
    histories.add(want.join(' '));
    for (const [where, enc] of [['fitted', data.encoders], ['from JSON', roundTrip]] as const) {
      const got = servedUser(enc, id);
      assert.deepEqual(got.history, want, `${where}: history of '${id}'`);
      assert.ok(Math.abs(got.ctr - ctr[data.userKeys.indexOf(id)]) < 1e-6, `${where}: user_ctr of '${id}'`);
    }
  }
  assert.ok(histories.size > 1, 'the users have different histories');
  for (const id of ABSENT) {
    const got = servedUser(roundTrip, id);
    assert.deepEqual(got, servedUser(roundTrip, 'nobody'), `'${id}' is an unknown user like any other`);
    assert.deepEqual(got.history, []);
  }
});

test('a split column value named like a prototype member is a bad value, not a fold', async () => {
  const dir = join(root, 'data');
  const [head, ...rows] = readFileSync(join(dir, 'events.csv'), 'utf8').trim().split('\n');
  const folds = rows.map((r, i) => `${r},${i === 7 ? 'constructor' : ['train', 'val', 'test'][i % 3]}`);
  writeFileSync(join(dir, 'events-fold.csv'), `${head},fold\n${folds.join('\n')}\n`);
  const c = structuredClone(cfg);
  c.sources.interactions.path = join(dir, 'events-fold.csv');
  c.split = { method: 'column', column: 'fold', val: 0, test: 0 };
  await assert.rejects(Dataset.load(c), /split column "fold" holds "constructor"/);
});

for (const kind of KINDS) {
  test(`${kind} bundle: /admin/reload, then /v1/score, /v1/prerank and /v1/retrieve with prototype-named ids`, async () => {
    const reload = await post('/admin/reload', { bundle: bundles.get(kind) });
    assert.equal(reload.statusCode, 200, reload.body);
    assert.match(reload.json().modelVersion, new RegExp(`^${kind}-`));

    const known = [...PROTO, 'i7'];
    const candidates = [...PROTO, 'i7', ...ABSENT, 'zzz'];
    for (const id of PROTO) {
      const r = await post('/v1/score', { user: userRow(id), candidates });
      assert.equal(r.statusCode, 200, `${id}: ${r.body}`);
      const body = r.json() as ScoreResponse;
      assert.deepEqual(body.unknown, [...ABSENT, 'zzz'], `${id}: unknown candidates`);
      assert.deepEqual(body.oov, [], `${id}: every user-side value is known`);
      assert.deepEqual(body.items.map((x) => x.id).sort(), [...known].sort(), `${id}: the known items under their own ids`);
      const want = expectedScores(kind, id, known);
      for (const x of body.items) assert.ok(close(x.score, want.get(String(x.id))!), `${id} x ${x.id}: served ${x.score}, the model gives ${want.get(String(x.id))}`);
      const top = await post('/v1/prerank', { user: userRow(id), candidates, n: 3 });
      assert.equal(top.statusCode, 200, top.body);
      assert.deepEqual((top.json() as ScoreResponse).items, body.items.slice(0, 3));
    }
    const enc = srv.service.deployment!.bundle.encoders!;
    for (const id of PROTO) assert.deepEqual(servedUser(enc, id).history, fittedHistory(id), `bundle encoders: history of '${id}'`);

    // an absent prototype name is an unknown user (OOV user_id, empty history, fallback statistics), as 'nobody' is
    const asUnknown = async (user: string) => (await post('/v1/score', { user: { ...userRow('u9'), user_id: user }, candidates })).json() as ScoreResponse;
    const nobody = await asUnknown('nobody');
    assert.deepEqual(nobody.oov, ['user_id']);
    for (const id of ABSENT) assert.deepEqual(await asUnknown(id), nobody, `user '${id}'`);
    // and an absent prototype name as a gender value is OOV as 'X' is
    const gender = async (g: string) => (await post('/v1/score', { user: { ...userRow('u9'), gender: g }, candidates: known })).json() as ScoreResponse;
    assert.deepEqual(await gender('valueOf'), await gender('X'));

    const normal = await post('/v1/retrieve', { user: userRow('u9'), k: data.itemCount });
    for (const id of PROTO) {
      const q = await post('/v1/retrieve', { user: userRow(id), k: data.itemCount });
      assert.equal(q.statusCode, normal.statusCode, q.body);
      if (kind === 'dcn') {
        assert.equal(q.statusCode, 501, 'retrieval needs cached item reps (a two-tower model)');
        continue;
      }
      assert.equal(q.statusCode, 200, q.body); // IntTower too, through its head index
      const got = new Map((q.json() as ScoreResponse).items.map((x) => [String(x.id), x.score]));
      const scored = (await post('/v1/score', { user: userRow(id), candidates: PROTO })).json() as ScoreResponse;
      for (const x of scored.items) assert.ok(close(got.get(String(x.id))!, x.score), `${id}: retrieved ${x.id}`);
    }
  });
}

test('request fields named like prototype members are unknown fields', async () => {
  await post('/admin/reload', { bundle: bundles.get('dssm') });
  const extra = async (field: string) => post('/v1/prerank', { user: { user_id: PROTO[0], [field]: 'x' }, candidates: ['1'] });
  for (const field of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const r = await extra(field);
    const like = await extra('bogus');
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().path, `user.${field}`);
    assert.equal(r.json().message, like.json().message.replace("'bogus'", `'${field}'`));
  }
  for (const [url, body] of [['/v1/prerank', { user: { user_id: '1' }, candidates: ['1'] }], ['/admin/reload', { bundle: bundles.get('dssm') }]] as const) {
    const r = await post(url, { ...body, constructor: 'x' });
    assert.equal(r.statusCode, 400, r.body);
    assert.deepEqual([r.json().path, r.json().message], ['constructor', "unknown field 'constructor'"]);
  }
  const proto = await post('/v1/prerank', '{"user":{"user_id":"1","__proto__":{"x":1}},"candidates":["1"]}');
  assert.equal(proto.statusCode, 400, 'a literal __proto__ key is refused by the JSON parser');
  const ok = await post('/v1/prerank', { user: { user_id: 'toString' }, candidates: ['1', 'toString'] });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual((ok.json() as ScoreResponse).unknown, ['1']);
});

const reason = (d: Decoded): string => (d.kind === 'bad' ? d.reason : d.kind);

test('online: prototype-named ids are ordinary entities; event fields named like prototype members are unknown fields', () => {
  const dec = new EventDecoder(data.config, 0);
  const ev = (fields: Record<string, unknown>): SourceEvent => ({ offset: { kind: 'dir', file: 'f', line: 1, byte: 0 }, where: 'f:1', fields, typed: true });
  const ok = { user_id: '__proto__', item_id: 'constructor', ts: 2_000_000, rating: 5, device: 'toString' };
  const d = dec.decode(ev(ok));
  assert.equal(d.kind, 'event', reason(d));
  if (d.kind === 'event') assert.deepEqual([d.event.user, d.event.item, d.event.label], ['__proto__', 'constructor', 1]);
  for (const field of ['constructor', 'toString', 'colour']) assert.match(reason(dec.decode(ev({ ...ok, [field]: 'x' }))), new RegExp(`unknown field '${field}'`));
  assert.match(reason(dec.decode(ev(JSON.parse('{"user_id":"u1","item_id":"i1","ts":2000000,"__proto__":"x"}')))), /unknown field '__proto__'/);
  const online = new OnlineEntities(data);
  for (const id of PROTO) {
    assert.equal(online.users.lookup(id, {}), data.userKeys.indexOf(id), `user '${id}' is the dataset's`);
    assert.equal(online.items.lookup(id, {}), data.itemKeys.indexOf(id), `item '${id}' is the dataset's`);
  }
  assert.equal(online.users.lookup(ABSENT[0], { gender: '__proto__' }), data.userCount, `'${ABSENT[0]}' is a new user`);
});

test('Redis: the item store serves prototype-named items; a stream entry keeps fields named like prototype members', { skip: redisAvailable() ? undefined : REDIS_SKIP }, async () => {
  const redis = await startRedis();
  const cli = new Redis(redis.url);
  let s: PrerankServer | null = null;
  let src: RedisStreamSource | null = null;
  try {
    s = await createServer({ bundle: bundles.get('dssm'), store: redis.url, defaultMetrics: false, underPressure: false });
    const body = { user: userRow('__proto__'), candidates: [...PROTO, ...ABSENT] };
    const viaRedis = await post('/v1/score', body, s);
    assert.equal(viaRedis.statusCode, 200, viaRedis.body);
    await post('/admin/reload', { bundle: bundles.get('dssm') });
    assert.deepEqual(viaRedis.json(), (await post('/v1/score', body)).json(), 'as from the in-process store');

    const cfg = { kind: 'redis' as const, url: redis.url, stream: 'ev', group: 'g', consumer: 'c', blockMs: 0 };
    src = new RedisStreamSource(cfg, () => undefined);
    await src.open(null);
    await cli.xadd('ev', '*', 'user_id', 'toString', 'item_id', 'valueOf', 'ts', '2000000', 'rating', '4', '__proto__', 'x');
    await cli.xadd('ev', '*', 'user_id', 'toString', 'item_id', 'valueOf', 'ts', '2000000', 'rating', '4');
    const [withProto, plain] = await src.read(10);
    assert.ok(withProto.fields && Object.hasOwn(withProto.fields, '__proto__'), 'the field is kept as an own field');
    const dec = new EventDecoder(data.config, 0);
    assert.match(reason(dec.decode(withProto)), /unknown field '__proto__'/);
    const d = dec.decode(plain);
    assert.equal(d.kind, 'event', reason(d));
    if (d.kind === 'event') assert.deepEqual([d.event.user, d.event.item], ['toString', 'valueOf']);
  } finally {
    await src?.close();
    await s?.app.close();
    cli.disconnect();
    await redis.stop();
  }
});
