// Online training (src/online): the directory and Redis sources, bad events, prequential scoring before the step,
// new users/items, published bundle versions, and exactly-once application across kill -9 of the trainer process.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { noGrad, scope } from '../src/core/index.js';
import { Dataset, loadDataConfig } from '../src/data/index.js';
import { Bundle } from '../src/export/bundle.js';
import { firstIds } from '../src/export/id-table.js';
import { readCurrentVersion } from '../src/export/versions.js';
import { loadTensors } from '../src/nn/state.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { buildModel, loadTrainConfig, runTraining } from '../src/train/run.js';
import { parseTrainConfig } from '../src/train/config.js';
import { TINY_CONFIGS } from '../src/models/registry.js';
import { DirectorySource, EventDecoder, loadOnlineConfig, OnlineEntities, OnlineTrainer, parseOnlineConfig, RedisStreamSource, type OnlineConfigInput,
  type OnlineEvent, type ScoredBatch, type SourceEvent } from '../src/online/index.js';
import { BinnedAcc } from '../src/online/prequential.js';
import { auc } from '../src/eval/auc.js';
import { offlineRun, syntheticEvents, tempDir, writeJsonl, type OfflineRun } from './online-fixture.js';
import { redisAvailable, REDIS_SKIP } from './serve-fixture.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let shared: { root: string; run: OfflineRun } | null = null;
after(() => {
  if (shared) rmSync(shared.root, { recursive: true, force: true });
});
async function sharedRun(): Promise<{ root: string; run: OfflineRun }> {
  if (!shared) {
    const root = tempDir('shared');
    shared = { root, run: await offlineRun(root) };
  }
  return shared;
}

function onlineCfg(run: OfflineRun, out: string, extra: Partial<OnlineConfigInput> & { source: OnlineConfigInput['source'] }) {
  return parseOnlineConfig({ initial: { run: run.runDir }, outDir: out, batchSize: 32, stopWhenIdleMs: 0, quiet: true, ...extra });
}

test('online configs: the shipped replay configs parse, their data configs are the recipes plus id hashing, and a bad config names the field', () => {
  const dir = resolve(fileURLToPath(import.meta.url), '../../../configs/online');
  for (const name of ['ml-latest-small-replay', 'ml-latest-small-static', 'ml-1m-replay', 'ml-1m-static']) {
    const c = loadOnlineConfig(join(dir, `${name}.json`));
    assert.ok('train' in c.initial);
    const t = loadTrainConfig((c.initial as { train: string }).train);
    const d = loadDataConfig((t.data as { config: string }).config);
    const base = loadDataConfig(join(dir, '..', 'data', name.startsWith('ml-1m') ? 'ml-1m-partial.json' : 'ml-latest-small.json'));
    const strip = (x: typeof d) => ({ ...x, name: '', features: x.features.map((f) => ({ ...f, maxSize: undefined, hashBuckets: undefined })) });
    assert.deepEqual(strip(d), strip(base), `${name}: data config = the recipe + hashing`);
    assert.ok(d.features.filter((f) => f.kind === 'sparse' && f.hashBuckets).length === 2);
  }
  assert.throws(() => parseOnlineConfig({ initial: { run: 'x' }, source: { kind: 'kafka' }, outDir: 'o' }), /invalid online config:\n  online\.source\.kind/);
  assert.throws(() => parseOnlineConfig({ initial: { run: 'x' }, source: { kind: 'dir', path: 'p' }, outDir: 'o', onBadEvent: 'ignore' }), /online\.onBadEvent/);
});

test('directory source: files in name order, appended lines, a partial last line waits for its newline, resume at an offset', async () => {
  const dir = tempDir('dirsrc');
  writeFileSync(join(dir, 'a.csv'), 'user_id,item_id,ts\nu1,i1,10\nu2,i2,11\nu3,i');
  writeFileSync(join(dir, 'notes.txt'), 'ignored\n');
  const src = new DirectorySource(dir);
  await src.open(null);
  let got = await src.read(10);
  assert.deepEqual(got.map((e) => e.fields?.user_id), ['u1', 'u2']);
  assert.equal(got[1].where, `${join(dir, 'a.csv')}:3`);
  assert.deepEqual(await src.read(10), [], 'the partial line is not consumed');
  appendFileSync(join(dir, 'a.csv'), '3,12\n"u,4",i4,13\n');
  got = await src.read(1);
  assert.deepEqual(got[0].fields, { user_id: 'u3', item_id: 'i3', ts: '12' });
  const resumeAt = got[0].offset;
  got = await src.read(10);
  assert.equal(got[0].fields?.user_id, 'u,4', 'quoted CSV field');
  writeJsonl(dir, 'b.jsonl', [{ user_id: 'u5', item_id: 'i5', ts: 14 }]);
  appendFileSync(join(dir, 'b.jsonl'), 'not json\n');
  got = await src.read(10);
  assert.equal(got[0].fields?.ts, 14);
  assert.equal(got[0].typed, true);
  assert.match(got[1].error!, /not valid JSON/);
  assert.equal(got[1].where, `${join(dir, 'b.jsonl')}:2`);
  // A second source opened at an earlier offset re-reads exactly what followed it.
  const again = new DirectorySource(dir);
  await again.open(resumeAt);
  assert.deepEqual((await again.read(10)).map((e) => e.fields?.user_id ?? e.error?.slice(0, 3)), ['u,4', 'u5', 'not']);
  // An unterminated last line in a file that a later file follows can never complete: reported, then skipped.
  writeFileSync(join(dir, 'c.csv'), 'user_id,item_id,ts\nu6,i6,15\nu7,i7');
  writeFileSync(join(dir, 'd.csv'), 'user_id,item_id,ts\nu8,i8,16\n');
  got = await src.read(10);
  assert.equal(got.length, 3);
  assert.match(got[1].error!, /no newline at the end and a later file exists/);
  assert.equal(got[1].where, `${join(dir, 'c.csv')}:3`);
  assert.equal(got[2].fields?.user_id, 'u8');
  writeFileSync(join(dir, 'd.csv'), 'user_id,item_id,ts\n');
  await assert.rejects(src.read(10), /d\.csv has 19 bytes, fewer than the \d+ already consumed: the file was truncated or replaced/);
  rmSync(dir, { recursive: true, force: true });
});

test('event decoder: unknown fields, wrong types, missing keys and timestamps going backwards beyond the tolerance are bad', async () => {
  const { run } = await sharedRun();
  const ds = await Dataset.load(run.dataCfgPath);
  const dec = new EventDecoder(ds.config, 100);
  const ev = (fields: Record<string, unknown>, typed = true): SourceEvent => ({ offset: { kind: 'dir', file: 'f', line: 1, byte: 0 }, where: 'f:1', fields, typed });
  const ok = { user_id: 'u1', item_id: 'i1', ts: 1000, rating: 4 };
  const d = dec.decode(ev(ok));
  assert.equal(d.kind, 'event');
  assert.equal((d as { event: OnlineEvent }).event.label, 1, 'rating 4 > 3');
  assert.match((dec.decode(ev({ ...ok, colour: 'red' })) as { reason: string }).reason, /unknown field 'colour'/);
  assert.match((dec.decode(ev({ ...ok, ts: '1001' })) as { reason: string }).reason, /field 'ts' must be a number/);
  assert.equal(dec.decode(ev({ ...ok, ts: '1001' }, false)).kind, 'event', 'text sources give numbers as text');
  assert.match((dec.decode(ev({ ...ok, ts: 'soon' }, false)) as { reason: string }).reason, /field 'ts' must be a number/);
  assert.match((dec.decode(ev({ ...ok, user_id: { a: 1 } })) as { reason: string }).reason, /user_id/);
  assert.match((dec.decode(ev({ item_id: 'i1', ts: 1002, rating: 2 })) as { reason: string }).reason, /missing 'user_id'/);
  assert.equal(dec.decode(ev({ ...ok, ts: 950 })).kind, 'event', 'late by 51 s: within the tolerance of 100');
  assert.match((dec.decode(ev({ ...ok, ts: 800 })) as { reason: string }).reason, /201 s before the latest one seen \(1001\); the tolerance is 100 s/);
  assert.match((dec.decode(ev({ ...ok, rating: undefined, label: 3 })) as { reason: string }).reason, /label' must be a number in \[0, 1\]/);
});

test('bad events are counted and listed with file:line, or stop the trainer with file:line when onBadEvent is "stop"', async () => {
  const { root, run } = await sharedRun();
  const dir = join(root, 'bad-events');
  const evs = syntheticEvents(40);
  const lines = evs.map((e) => JSON.stringify(e));
  lines[5] = JSON.stringify({ ...evs[5], colour: 'red' });
  lines[9] = JSON.stringify({ ...evs[9], ts: 'yesterday' });
  lines[20] = JSON.stringify({ ...evs[20], ts: 5 });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'a.jsonl'), `${lines.join('\n')}\n`);
  const t = await OnlineTrainer.create(onlineCfg(run, join(root, 'bad-out'), { source: { kind: 'dir', path: dir } }));
  const r = await t.run();
  assert.equal(r.state.bad, 3);
  assert.equal(r.state.applied, 40);
  assert.equal(r.state.trained, 37);
  const log = readFileSync(join(root, 'bad-out', 'log.jsonl'), 'utf8');
  for (const [line, why] of [[6, 'unknown field'], [10, "field 'ts' must be a number"], [21, 'before the latest one seen']] as const) {
    assert.ok(log.includes(`a.jsonl:${line}: ${why}`) || log.includes(`${join(dir, 'a.jsonl')}:${line}`), `line ${line} listed`);
    assert.ok(log.includes(why));
  }
  const stop = await OnlineTrainer.create(onlineCfg(run, join(root, 'bad-stop'), { source: { kind: 'dir', path: dir }, onBadEvent: 'stop' }));
  await assert.rejects(stop.run(), new RegExp(`${join(dir, 'a.jsonl').replace(/[.]/g, '\\.')}:6: bad event: unknown field 'colour'`));
});

test('prequential: each batch is scored by the model before it trains on that batch', async () => {
  const { root, run } = await sharedRun();
  const dir = join(root, 'preq-events');
  writeJsonl(dir, 'a.jsonl', syntheticEvents(64, { seed: 3 }));
  const scored: ScoredBatch[] = [];
  const t = await OnlineTrainer.create(onlineCfg(run, join(root, 'preq-out'), { source: { kind: 'dir', path: dir }, optimizer: { lr: 0.05 } }), { onScored: (s) => scored.push(s) });
  await t.run();
  assert.equal(scored.length, 2);
  // The offline model, loaded independently, on the same first batch.
  const cfg = loadTrainConfig(join(run.runDir, 'config.json'));
  const ds = await Dataset.load(run.dataCfgPath);
  const fresh = buildModel(cfg, ds);
  await loadCheckpoint(join(run.runDir, 'best'), fresh, null);
  const dec = new EventDecoder(ds.config, 0);
  const src = new DirectorySource(dir);
  await src.open(null);
  const events = (await src.read(32)).map((e) => (dec.decode(e) as { event: OnlineEvent }).event);
  const b = new OnlineEntities(ds).fill(events);
  const logitsOf = (m: typeof fresh) => {
    m.eval();
    return noGrad(() => scope(() => Float32Array.from(m.forward(b).data.subarray(0, 32))));
  };
  const before = logitsOf(fresh);
  const after = logitsOf(t.model);
  let dBefore = 0, dAfter = 0;
  for (let i = 0; i < 32; i++) {
    dBefore = Math.max(dBefore, Math.abs(scored[0].logits[i] - before[i]));
    dAfter = Math.max(dAfter, Math.abs(scored[0].logits[i] - after[i]));
  }
  assert.ok(dBefore < 1e-5, `prequential scores = the model before the step (max diff ${dBefore})`);
  assert.ok(dAfter > 1e-3, `and not the trained model's (max diff ${dAfter})`);
  // The progressive AUC in the JSONL equals the AUC over every scored event (binned at 1e-4).
  const recs = readFileSync(join(root, 'preq-out', 'prequential.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = recs.filter((r) => r.kind === 'update').pop();
  const all = (k: 'logits' | 'labels') => Float32Array.from(scored.flatMap((s) => [...s[k]]));
  assert.ok(Math.abs(last.auc - auc(all('logits'), all('labels'))) < 1e-3);
  assert.equal(last.scored, 64);
});

test('binned AUC matches the exact AUC and survives a JSON round trip', () => {
  const acc = new BinnedAcc();
  const s = Array.from({ length: 500 }, (_, i) => Math.sin(i) * 3);
  const y = s.map((v, i) => (v + Math.cos(i * 7) * 2 > 0 ? 1 : 0));
  s.forEach((v, i) => acc.add(v, y[i]));
  assert.ok(Math.abs(acc.auc() - auc(s, y)) < 1e-3);
  assert.equal(BinnedAcc.fromJSON(JSON.parse(JSON.stringify(acc.toJSON()))).auc(), acc.auc());
});

test('new users and items get entities and hashed ids without a restart, are trained, and reach the published bundle', async () => {
  const { root, run } = await sharedRun();
  const dir = join(root, 'new-events');
  const evs = syntheticEvents(300, { seed: 4, fresh: 4 });
  writeJsonl(dir, 'a.jsonl', evs);
  const pub = join(root, 'new-bundles');
  const t = await OnlineTrainer.create(onlineCfg(run, join(root, 'new-out'), { source: { kind: 'dir', path: dir }, publish: { dir: pub, everyUpdates: 4 }, updateHistories: true }));
  const ds = t.data;
  const table = (name: string) => [...t.model.namedParameters()].find(([n]) => n.includes(name) && n.endsWith('.table'))!;
  const [uName, uTable] = table('user_id');
  const D = uTable.shape[1];
  const row = ds.encoders.vocabulary('user_id').peek('new_u0');
  assert.ok(row >= 2 + 40, `new_u0 hashes into a bucket after the kept ids (got ${row})`);
  const before = Float32Array.from(uTable.data.subarray(row * D, (row + 1) * D));
  const r = await t.run();
  assert.deepEqual(r.state.entities.users.map((e) => e.key).sort(), ['new_u0', 'new_u1', 'new_u2', 'new_u3']);
  assert.deepEqual(r.state.entities.items.map((e) => e.key).sort(), ['new_i0', 'new_i1', 'new_i2', 'new_i3']);
  assert.equal(r.state.entities.items.find((e) => e.key === 'new_i0')!.fields.category, 'c0', 'item features come from the event');
  // Positives join their users' histories (user_hist, maxLen 5), for new and known users alike.
  const hist = new Map(r.state.entities.histories!.user_hist);
  const itemVocab = ds.encoders.vocabulary('item_id');
  for (const key of ['new_u0', 'u3']) {
    const u = key.startsWith('new_') ? ds.userCount + r.state.entities.users.findIndex((e) => e.key === key) : ds.userKeys.indexOf(key);
    const pos = evs.filter((e) => e.user_id === key && Number(e.rating) > 3).map((e) => itemVocab.peek(String(e.item_id)));
    assert.ok(pos.length > 0);
    const h = hist.get(u)!;
    assert.ok(h.length <= 5);
    assert.deepEqual(h.slice(-Math.min(5, pos.length)), pos.slice(-5), `${key}'s history ends with its last positives`);
  }
  const after = uTable.data.subarray(row * D, (row + 1) * D);
  assert.ok(before.some((v, i) => Math.abs(v - after[i]) > 1e-6), `${uName} row ${row} (new_u0) was trained`);
  const cur = readCurrentVersion(pub)!;
  assert.ok(cur.version >= 2, 'several versions published');
  const bundle = await Bundle.load(cur.dir);
  assert.ok(bundle.items!.ids.indexOf('new_i3') >= 0);
  assert.equal(bundle.items!.ids.size, 34);
  assert.equal((bundle.manifest.training as { online: { updates: number } }).online.updates, r.state.updates);
});

test('strategies online: cs3-cascade keeps distilling on stream batches without repeating its warm start; onebp and the sampled-softmax objective are refused with the reason', async () => {
  const root = tempDir('strategy');
  const teacher = await offlineRun(join(root, 'teacher'), 'dcn');
  const studentRun = async (name: string, strategy?: Record<string, unknown>) => {
    const dir = join(root, name);
    const cfg = parseTrainConfig({ model: { kind: 'cs3', config: { ...TINY_CONFIGS.cs3, base: 'dssm' } }, data: { config: teacher.dataCfgPath }, batchSize: 128,
      epochs: 1, seed: 5, optimizer: { kind: 'adam', lr: 0.01 }, outDir: dir, strategy });
    await runTraining(cfg, { quiet: true });
    return dir;
  };
  const withDistill = await studentRun('cs3-distill', { kind: 'cs3-cascade', config: { teacher: teacher.runDir, warmStart: true, distill: 'bce', weight: 0.5 } });
  // The same trained weights without the strategy: a copy of the run whose config names none.
  const plain = join(root, 'cs3-plain');
  cpSync(withDistill, plain, { recursive: true });
  const plainCfg = JSON.parse(readFileSync(join(plain, 'config.json'), 'utf8'));
  delete plainCfg.strategy;
  writeFileSync(join(plain, 'config.json'), JSON.stringify(plainCfg));
  const dir = join(root, 'events');
  writeJsonl(dir, 'a.jsonl', syntheticEvents(96, { seed: 8 }));
  const online = async (runDir: string, out: string) => {
    const scored: ScoredBatch[] = [];
    const t = await OnlineTrainer.create(onlineCfg({ runDir, dataCfgPath: teacher.dataCfgPath }, join(root, out), { source: { kind: 'dir', path: dir } }),
      { onScored: (s) => scored.push(s) });
    await t.run();
    return { t, scored };
  };
  const a = await online(withDistill, 'out-distill');
  const b = await online(plain, 'out-plain');
  assert.equal(a.t.strategy?.kind, 'cs3-cascade');
  assert.deepEqual((a.t.strategy as unknown as { warmStarted: string[] }).warmStarted, [], 'no second warm start on the trained model');
  assert.deepEqual(Array.from(a.scored[0].logits), Array.from(b.scored[0].logits), 'both start from the same trained weights');
  const wa = new Map(a.t.model.namedParameters()), wb = new Map(b.t.model.namedParameters());
  const gap = Math.max(...[...wa].map(([n, t]) => Math.max(...Array.from(t.f, (v, i) => Math.abs(v - wb.get(n)!.f[i])))));
  assert.ok(gap > 1e-4, `the distillation term changed the online updates (max weight gap ${gap})`);
  // A checkpointed online run with the strategy resumes (the teacher is reloaded, no warm start).
  const again = await OnlineTrainer.create(onlineCfg({ runDir: withDistill, dataCfgPath: teacher.dataCfgPath }, join(root, 'out-distill'), { source: { kind: 'dir', path: dir } }));
  assert.deepEqual((again.strategy as unknown as { warmStarted: string[] }).warmStarted, []);
  await again.run();
  const onebp = join(root, 'onebp');
  await runTraining(parseTrainConfig({ model: { kind: 'dssm', config: TINY_CONFIGS.dssm }, data: { config: teacher.dataCfgPath }, batchSize: 128, epochs: 1, seed: 5,
    optimizer: { kind: 'adam', lr: 0.01 }, outDir: onebp, strategy: { kind: 'onebp', config: {} } }), { quiet: true });
  await assert.rejects(OnlineTrainer.create(onlineCfg({ runDir: onebp, dataCfgPath: teacher.dataCfgPath }, join(root, 'out-onebp'), { source: { kind: 'dir', path: dir } })),
    /training strategy 'onebp' cannot train online: .*indexed by the offline users/);
  const softmax = join(root, 'sampled-softmax');
  await runTraining(parseTrainConfig({ model: { kind: 'dssm', config: TINY_CONFIGS.dssm }, data: { config: teacher.dataCfgPath }, batchSize: 128, epochs: 1, seed: 5,
    optimizer: { kind: 'adam', lr: 0.01 }, outDir: softmax, objective: { kind: 'sampled-softmax', negatives: 5 } }), { quiet: true });
  await assert.rejects(OnlineTrainer.create(onlineCfg({ runDir: softmax, dataCfgPath: teacher.dataCfgPath }, join(root, 'out-softmax'), { source: { kind: 'dir', path: dir } })),
    /objective 'sampled-softmax' cannot train online/);
  rmSync(root, { recursive: true, force: true });
});

test('item table refresh: an id-embedding model (MF) re-encodes only new items and items whose rows changed; the table equals a full re-encode', async () => {
  const root = tempDir('mf');
  try {
    const run = await offlineRun(root, 'mf');
    const dir = join(root, 'events');
    writeJsonl(dir, 'a.jsonl', syntheticEvents(48, { seed: 21, fresh: 2 }));
    const pub = join(root, 'bundles');
    const t = await OnlineTrainer.create(onlineCfg(run, join(root, 'out'), { source: { kind: 'dir', path: dir }, batchSize: 8, publish: { dir: pub, everyUpdates: 2 } }));
    await t.run();
    const pubs = readFileSync(join(root, 'out', 'log.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"publish"')).map((l) => JSON.parse(l));
    assert.equal(pubs.length, 3);
    assert.match(pubs[0].itemRefresh, /^full \(first refresh\)/);
    for (const p of pubs.slice(1)) {
      assert.match(p.itemRefresh, /^incremental/, JSON.stringify(p));
      assert.ok(p.itemsRecomputed < p.items, `only some items re-encoded (${p.itemsRecomputed} of ${p.items})`);
    }
    const bundle = await Bundle.load(readCurrentVersion(pub)!.dir);
    const ent = new OnlineEntities(t.data);
    const keys = firstIds(bundle.items!.ids, Infinity);
    const evs = syntheticEvents(48, { seed: 21, fresh: 2 }).filter((e) => String(e.item_id).startsWith('new_'));
    for (const e of evs) ent.items.lookup(String(e.item_id), e);
    const ids = Int32Array.from(keys, (k) => ent.items.index.get(k)!);
    t.model.eval();
    const full = noGrad(() => scope(() => Float32Array.from(t.model.encodeItem!(ent.fillItems(ent.itemBatch(ids.length), ids)).data)));
    const table = bundle.items!.data as Float32Array;
    assert.equal(table.length, full.length);
    let d = 0;
    for (let i = 0; i < full.length; i++) d = Math.max(d, Math.abs(full[i] - table[i]));
    assert.ok(d < 1e-6, `published table = a full re-encode (max diff ${d})`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// ---- Redis ----

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A redis-server with an append-only file, so a stop and a restart on the same port keep the stream and its group. */
async function persistentRedis(dir: string, port: number): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  const t0 = Date.now();
  while (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG') {
    if (child.exitCode !== null || Date.now() - t0 > 5000) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return { child, stop: () => new Promise((res) => (child.exitCode !== null ? res() : (child.once('exit', () => res()), child.kill('SIGTERM')))) };
}

const xadd = async (r: Redis, stream: string, evs: Record<string, unknown>[]) => {
  const ids: string[] = [];
  for (const e of evs) ids.push((await r.xadd(stream, '*', 'json', JSON.stringify(e)))!);
  return ids;
};

test('redis source: acknowledges only committed entries; a restarted consumer re-reads its pending entries and skips applied ones', { skip: redisAvailable() ? undefined : REDIS_SKIP }, async () => {
  const dir = tempDir('redis-src');
  const port = await freePort();
  const server = await persistentRedis(dir, port);
  const url = `redis://127.0.0.1:${port}`;
  const cli = new Redis(url);
  try {
    const cfg = { kind: 'redis' as const, url, stream: 'ev', group: 'g', consumer: 'c', blockMs: 0 };
    const src = new RedisStreamSource(cfg, () => undefined);
    await src.open(null);
    const ids = await xadd(cli, 'ev', syntheticEvents(10));
    const first = await src.read(4);
    assert.deepEqual(first.map((e) => e.where.split(' ')[1]), ids.slice(0, 4));
    await src.commit(first[1].offset);
    const pending = (await cli.xpending('ev', 'g')) as [number, ...unknown[]];
    assert.equal(pending[0], 2, 'entries 3 and 4 were delivered but not acknowledged');
    await src.close();
    // "Crash" after a checkpoint that applied entry 3: the next consumer gets 4 (pending) and then 5..10, nothing twice.
    const again = new RedisStreamSource(cfg, () => undefined);
    await again.open(first[2].offset);
    const rest = await again.read(100);
    assert.deepEqual(rest.map((e) => e.where.split(' ')[1]), ids.slice(3));
    await again.commit(rest[rest.length - 1].offset);
    assert.equal(((await cli.xpending('ev', 'g')) as [number])[0], 0);
    await again.close();
  } finally {
    cli.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('redis source: the trainer pauses through a Redis outage, logs it, and resumes without losing an event', { skip: redisAvailable() ? undefined : REDIS_SKIP }, async () => {
  const { root, run } = await sharedRun();
  const dir = tempDir('redis-outage');
  const port = await freePort();
  let server = await persistentRedis(dir, port);
  const url = `redis://127.0.0.1:${port}`;
  let cli = new Redis(url);
  const evs = syntheticEvents(200, { seed: 8 });
  try {
    await xadd(cli, 'ev', evs.slice(0, 100));
    const t = await OnlineTrainer.create(onlineCfg(run, join(root, 'redis-out'), { source: { kind: 'redis', url, stream: 'ev', group: 'g', consumer: 'c', blockMs: 50 },
      stopWhenIdleMs: 1500, checkpoint: { everyUpdates: 1 }, batchSize: 20 }));
    const done = t.run();
    const t0 = Date.now();
    while (t.state.applied < 100 && Date.now() - t0 < 10_000) await sleep(20);
    assert.equal(t.state.applied, 100);
    cli.disconnect();
    await server.stop();
    await sleep(1200);
    server = await persistentRedis(dir, port);
    cli = new Redis(url);
    await xadd(cli, 'ev', evs.slice(100));
    const r = await done;
    assert.equal(r.state.applied, 200);
    assert.equal(r.state.trained, 200);
    assert.equal(((await cli.xpending('ev', 'g')) as [number])[0], 0, 'everything acknowledged after the last checkpoint');
    assert.match(readFileSync(join(root, 'redis-out', 'log.jsonl'), 'utf8'), /training paused, retrying in \d+ ms/);
  } finally {
    cli.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- kill -9 ----

function runChild(cfgPath: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [CLI, 'train', '--online', '--config', cfgPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
}

const exited = (c: ChildProcess) => new Promise<number | null>((res) => (c.exitCode !== null || c.signalCode !== null ? res(c.exitCode) : c.once('exit', (code) => res(code))));

/** Runs a config to completion in a child process; returns the wall time. */
async function runToEnd(cfgPath: string): Promise<number> {
  const t0 = Date.now();
  const c = runChild(cfgPath);
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  assert.equal(await exited(c), 0, err);
  return Date.now() - t0;
}

/**
 * Starts the trainer and SIGKILLs it once it is training again (its prequential log grows), up to 4 times, then lets a
 * last start finish. Returns how many kills happened. Odd starts are killed a random 0-200 ms later. Even starts run
 * with PRERANK_TEST_SWAP_PAUSE_MS widening the checkpoint swap's window between its two renames and are killed inside
 * it (while the previous checkpoint sits under its `.old` name and `checkpoint/` is missing), so the restart must put
 * that checkpoint back.
 */
async function killAndRestart(cfgPath: string, outDir: string, full: number, seed0: number): Promise<number> {
  let kills = 0;
  let seed = seed0;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const preq = join(outDir, 'prequential.jsonl');
  const lines = () => (existsSync(preq) ? readFileSync(preq, 'utf8').split('\n').length : 0);
  const inSwap = () => readdirSync(outDir).some((n) => n.startsWith('.checkpoint.tmp-') && n.endsWith('.old'));
  let inSwapKills = 0;
  for (let k = 0; k < 4; k++) {
    const swap = k % 2 === 0;
    const c = runChild(cfgPath, swap ? { PRERANK_TEST_SWAP_PAUSE_MS: '100' } : {});
    const start = lines();
    const t1 = Date.now();
    while (c.exitCode === null && lines() <= start + 2 && Date.now() - t1 < full) await sleep(10);
    if (swap) while (c.exitCode === null && !inSwap() && Date.now() - t1 < 2 * full) await sleep(2);
    else await sleep(Math.floor(rand() * 200));
    if (c.exitCode !== null) break;
    c.kill('SIGKILL');
    await exited(c);
    if (swap && inSwap() && !existsSync(join(outDir, 'checkpoint'))) inSwapKills++;
    kills++;
  }
  assert.ok(inSwapKills >= 1, `${inSwapKills} kills inside a checkpoint swap`);
  await runToEnd(cfgPath);
  return kills;
}

/** The interrupted run's final checkpoint equals the uninterrupted one's: state, every tensor, one record per update. */
async function assertSameRun(straightDir: string, killedDir: string, N: number): Promise<Record<string, unknown>> {
  const state = (d: string) => JSON.parse(readFileSync(join(d, 'checkpoint', 'state.json'), 'utf8'));
  const a = state(straightDir), b = state(killedDir);
  assert.equal(b.applied, N);
  assert.equal(b.trained, N);
  assert.deepEqual(b.offset, a.offset);
  assert.equal(b.updates, a.updates);
  assert.deepEqual(b.prequential, a.prequential);
  assert.deepEqual(b.entities, a.entities);
  const ta = (await loadTensors(join(straightDir, 'checkpoint', 'model'))).tensors;
  const tb = (await loadTensors(join(killedDir, 'checkpoint', 'model'))).tensors;
  assert.equal(ta.size, tb.size);
  for (const [name, t] of ta) assert.deepEqual(tb.get(name)!.data, t.data, `tensor ${name} equals the uninterrupted run's`);
  const ups = readFileSync(join(killedDir, 'prequential.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'update').map((r) => r.update);
  assert.deepEqual(ups, Array.from({ length: a.updates }, (_, i) => i + 1), 'one prequential record per update, none twice');
  const resumes = readFileSync(join(killedDir, 'log.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"resume"')).length;
  assert.ok(resumes >= 1, `at least one restart resumed from a mid-stream checkpoint (${resumes})`);
  return b;
}

test('kill -9 at random moments: after restarts every event is applied exactly once and the weights equal an uninterrupted run', async () => {
  const { root, run } = await sharedRun();
  const dir = join(root, 'kill-events');
  const N = 3000;
  writeJsonl(dir, 'a.jsonl', syntheticEvents(N / 2, { seed: 9, fresh: 3 }));
  writeJsonl(dir, 'b.jsonl', syntheticEvents(N / 2, { seed: 10, fresh: 3, start: 9_000_000 }));
  const write = (name: string) => {
    const p = join(root, `${name}.json`);
    writeFileSync(p, JSON.stringify({ initial: { run: run.runDir }, source: { kind: 'dir', path: dir }, outDir: join(root, name), batchSize: 16,
      stopWhenIdleMs: 0, quiet: true, checkpoint: { everyUpdates: 3 }, publish: { dir: join(root, `${name}-bundles`), everyUpdates: 40 } }));
    return p;
  };
  const full = await runToEnd(write('kill-straight'));
  const kills = await killAndRestart(write('kill-killed'), join(root, 'kill-killed'), full, 12345);
  assert.ok(kills >= 3, `killed ${kills} times (an uninterrupted run takes ${full} ms)`);
  const b = await assertSameRun(join(root, 'kill-straight'), join(root, 'kill-killed'), N);
  assert.deepEqual(b.offset, { kind: 'dir', file: 'b.jsonl', line: N / 2, byte: (b.offset as { byte: number }).byte });
  assert.ok(existsSync(join(root, 'kill-killed-bundles', 'CURRENT')));
});

test('kill -9 with the Redis source: every entry applied once, all acknowledged, weights equal an uninterrupted run', { skip: redisAvailable() ? undefined : REDIS_SKIP }, async () => {
  const { root, run } = await sharedRun();
  const dir = tempDir('redis-kill');
  const port = await freePort();
  const server = await persistentRedis(dir, port);
  const url = `redis://127.0.0.1:${port}`;
  const cli = new Redis(url);
  try {
    const N = 1500;
    const ids = await xadd(cli, 'ev', syntheticEvents(N, { seed: 13, fresh: 3 }));
    const write = (name: string, group: string) => {
      const p = join(root, `${name}.json`);
      writeFileSync(p, JSON.stringify({ initial: { run: run.runDir }, source: { kind: 'redis', url, stream: 'ev', group, consumer: 'c', blockMs: 20 },
        outDir: join(root, name), batchSize: 16, stopWhenIdleMs: 0, quiet: true, checkpoint: { everyUpdates: 3 } }));
      return p;
    };
    const full = await runToEnd(write('rkill-straight', 'straight'));
    const kills = await killAndRestart(write('rkill-killed', 'killed'), join(root, 'rkill-killed'), full, 777);
    assert.ok(kills >= 3, `killed ${kills} times (an uninterrupted run takes ${full} ms)`);
    const b = await assertSameRun(join(root, 'rkill-straight'), join(root, 'rkill-killed'), N);
    assert.deepEqual(b.offset, { kind: 'redis', id: ids[N - 1] });
    for (const g of ['straight', 'killed']) assert.equal(((await cli.xpending('ev', g)) as [number])[0], 0, `group ${g}: nothing left unacknowledged`);
  } finally {
    cli.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
