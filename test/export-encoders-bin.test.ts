// Binary encoders (encoders.bin read in place, whole in memory or by pread) answer every lookup the fitted encoders
// answer: every vocabulary id and token, OOV, padding, hash buckets, unknown values, every entity's statistics and
// history, and whole request rows, on the MovieLens recipe configs and the synthetic log config; written back as
// JSON they are the fitted encoders.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/index.js';
import { Dataset, FeatureEncoders, featureColumn, recipeConfig, recipeMissing, writeSynthLog, type RawValue,
  type EncodersJson, type RecipeName } from '../src/data/index.js';
import { REPO_ROOT } from '../src/data/recipes.js';
import { MemoryBytes, type ByteSource } from '../src/export/byte-source.js';
import { FileBytes } from '../src/export/file-bytes.js';
import { readEncodersBin } from '../src/export/encoders-bin-read.js';
import { writeEncodersBin } from '../src/export/encoders-bin.js';
import { buildStringTable, StringTable } from '../src/export/string-table.js';
import { readFileSync } from 'node:fs';

const root = mkdtempSync(join(tmpdir(), 'prerank-encbin-'));
const opened: ByteSource[] = [];
after(() => {
  for (const s of opened) s.close();
  rmSync(root, { recursive: true, force: true });
});

/** The binary form of `enc`, read back whole in memory and lazily from the file (every table by pread). */
function binaryForms(enc: FeatureEncoders, tag: string): { memory: FeatureEncoders; file: FeatureEncoders } {
  const path = join(root, `${tag}.bin`);
  const meta = writeEncodersBin(enc, path, 'encoders.bin');
  const mem = new MemoryBytes(readFileSync(path));
  const file = new FileBytes(path);
  opened.push(file);
  return { memory: readEncodersBin(meta, mem, 'encoders.bin'), file: readEncodersBin(meta, file, 'encoders.bin', 0) };
}

/** The key with its last UTF-16 unit changed: same length, same bytes but the last ones. */
const lastBumped = (t: string): string => (t ? t.slice(0, -1) + String.fromCharCode((t.charCodeAt(t.length - 1) + 1) % 0xd800) : 'a');

/** Values no vocabulary holds (or that look like one it does) and the odd ones requests carry. */
function unknownValues(tokens: readonly string[]): RawValue[] {
  const near = [...tokens.slice(0, 50).flatMap((t) => [`${t} `, t.toUpperCase(), `${t}x`, t.slice(1)]), ...tokens.map(lastBumped)];
  return ['', null, undefined, NaN, Infinity, 0, 1, -1, 42, 1.5, true, 7n, 'nope', '__proto__', 'constructor', 'toString',
    'é', '日本', '\ud800', '\ud83d\ude00', 'x'.repeat(2000), ...near];
}

/** Every vocabulary of `bin` answers id, token, has and size as `ref` does. */
function sameVocabularies(ref: FeatureEncoders, bin: FeatureEncoders, where: string): number {
  let checks = 0;
  for (const [name, v] of ref.vocabs) {
    const b = bin.vocabs.get(name)!;
    const at = `${where} vocabulary '${name}'`;
    assert.ok(b, at);
    assert.deepEqual([b.size, b.count, b.hashBuckets], [v.size, v.count, v.hashBuckets], at);
    for (let id = -2; id < v.size + 2; id++) assert.equal(b.token(id), v.token(id), `${at}: token(${id})`);
    assert.equal(b.token(2.5), v.token(2.5));
    for (const t of v.tokens) {
      assert.equal(b.peek(t), v.peek(t), `${at}: '${t}'`);
      assert.ok(b.has(t), `${at}: has '${t}'`);
    }
    for (const u of unknownValues(v.tokens)) {
      assert.equal(b.peek(u), v.peek(u), `${at}: unknown ${String(u).slice(0, 20)}`);
      assert.equal(b.has(u), v.has(u), `${at}: has ${String(u).slice(0, 20)}`);
    }
    checks += v.size + 4;
  }
  return checks;
}

/** A request row with each feature's column set to a known token, an unknown value or nothing. */
function randomRow(enc: FeatureEncoders, rng: Rng, user: string, item: string): Record<string, unknown> {
  const { keys, features } = enc.spec;
  const row: Record<string, unknown> = { [keys.user]: user, [keys.item]: item };
  for (const f of features) {
    if (f.kind === 'dense') {
      row[featureColumn(f)] = [null, '', 3.5, -2, 1e9, 'abc'][rng.int(6)];
      continue;
    }
    const v = enc.vocabulary(f.name);
    const pick = () => (rng.int(4) === 0 ? `unknown-${rng.int(5)}` : v.token(2 + rng.int(Math.max(1, v.count))) ?? 'x');
    if (f.kind === 'sequence' && f.flagColumns) for (const c of f.flagColumns) row[c] = rng.int(2);
    else if (f.kind === 'sequence') row[featureColumn(f)] = rng.int(2) ? [pick(), pick(), pick()] : `${pick()}${f.separator}${pick()}`;
    else if (featureColumn(f) !== keys.user && featureColumn(f) !== keys.item) row[featureColumn(f)] = rng.int(5) ? pick() : null;
  }
  return row;
}

/** Statistics, histories and whole rows: encodeRow gives the same row and counts the same lookups and OOVs. */
function sameRows(ref: FeatureEncoders, bin: FeatureEncoders, users: readonly string[], items: readonly string[], where: string): void {
  const before = structuredClone(ref.oov);
  const unknown = ['', 'nope', '__proto__', '\ud800', '0'];
  const { keys } = ref.spec;
  for (const u of [...users, ...unknown]) {
    const raw = { [keys.user]: u };
    assert.deepEqual(bin.encodeRow(raw, ['user']), ref.encodeRow(raw, ['user']), `${where}: user '${u}'`);
  }
  for (const i of [...items, ...unknown]) {
    const raw = { [keys.item]: i };
    assert.deepEqual(bin.encodeRow(raw, ['item']), ref.encodeRow(raw, ['item']), `${where}: item '${i}'`);
  }
  const rng = new Rng(7);
  for (let r = 0; r < 300; r++) {
    const raw = randomRow(ref, rng, users[rng.int(users.length)], items[rng.int(items.length)]);
    assert.deepEqual(bin.encodeRow(raw), ref.encodeRow(raw), `${where}: row ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const delta = Object.fromEntries(Object.entries(ref.oov).map(([f, c]) => [f, { lookups: c.lookups - before[f].lookups, oov: c.oov - before[f].oov }]));
  assert.deepEqual(bin.oov, delta, `${where}: lookup and OOV counts`);
  assert.ok(Object.values(delta).some((c) => c.oov > 0), 'some lookups were OOV');
}

async function checkDataset(ds: Dataset, tag: string): Promise<void> {
  const { memory, file } = binaryForms(ds.encoders, tag);
  for (const [mode, bin] of [['memory', memory], ['file', file]] as const) {
    const where = `${tag} (${mode})`;
    assert.deepEqual(bin.spec, ds.encoders.spec, where);
    assert.deepEqual(bin.featureInfo(), ds.encoders.featureInfo(), where);
    assert.ok(sameVocabularies(ds.encoders, bin, where) > 0);
    sameRows(ds.encoders, bin, ds.userKeys, ds.itemKeys, where);
  }
  // written back as JSON, they are the fitted encoders (statistics listed in the binary tables' entity order)
  const comparable = (j: EncodersJson) => ({ ...j, stats: Object.fromEntries(Object.entries(j.stats).map(([k, st]) => [k, { fallback: st.fallback, values: new Map(st.keys.map((key, i) => [key, st.values[i]])) }])) });
  for (const [mode, bin] of [['memory', memory], ['file', file]] as const) assert.deepEqual(comparable(bin.toJSON()), comparable(ds.encoders.toJSON()), `${tag} (${mode}): toJSON`);
}

for (const recipe of ['ml-latest-small', 'ml-100k', 'ml-1m'] as RecipeName[]) {
  const skip = recipeMissing(recipe);
  test(`binary encoders answer every lookup as the fitted ones: ${recipe} recipe`, { skip: skip ? `${skip}: skipped` : false }, async () => {
    await checkDataset(await Dataset.load(recipeConfig(recipe)), recipe);
  });
}

test('binary encoders answer every lookup as the fitted ones: hash buckets (ml-latest-small, ids hashed beyond the vocabulary)', async () => {
  const ds = await Dataset.load(join(REPO_ROOT, 'configs/online/data-ml-latest-small-hashed.json'));
  assert.ok([...ds.encoders.vocabs.values()].some((v) => v.hashBuckets > 0), 'the config hashes some ids');
  await checkDataset(ds, 'ml-latest-small-hashed');
});

test('binary encoders answer every lookup as the fitted ones: the synthetic log config (100k events, 20k users, 10k items)', async () => {
  const log = await writeSynthLog(join(root, 'synth'), { events: 100_000, users: 20_000, items: 10_000, seed: 1 });
  const ds = await Dataset.load(log.config);
  assert.ok(ds.encoders.spec.derived.some((d) => d.kind === 'history') && ds.encoders.spec.derived.some((d) => d.kind === 'stat'));
  await checkDataset(ds, 'synth');
});

test('a string table finds every key and nothing else, and refuses duplicate and malformed keys', () => {
  const keys = ['a', 'b', '', 'é', '日本', '\ud83d\ude00', 'x'.repeat(300), ...Array.from({ length: 1000 }, (_, i) => `k${i}`)];
  const t = buildStringTable(keys, 'test table');
  const mem = new StringTable(new MemoryBytes(t.bytes), { at: 0, ...t.desc }, 'test table');
  keys.forEach((k, i) => {
    assert.equal(mem.indexOf(k), i, k);
    assert.equal(mem.keyAt(i), k);
  });
  for (const k of ['c', 'k1000', 'A', ' a', '\ud800', 'x'.repeat(299), ...keys.map(lastBumped).filter((k) => !keys.includes(k))]) {
    assert.equal(mem.indexOf(k), -1, k);
  }
  assert.ok(t.desc.capacity >= 1.5 * keys.length && (t.desc.capacity & (t.desc.capacity - 1)) === 0);
  assert.throws(() => mem.keyAt(keys.length), /outside/);
  assert.throws(() => buildStringTable(['a', 'b', 'a'], 'dup'), /dup: key "a" occurs twice \(positions 0 and 2\)/);
  assert.throws(() => buildStringTable(['ok', '\udc00x'], 'bad'), /bad: key 1 .* lone surrogate/);
});

test('statistics of one side with different entities: an entity without the statistic falls back, one with it does not', async () => {
  const j = (await Dataset.load(recipeConfig('ml-latest-small'))).encoders.toJSON();
  const stats = j.derived.filter((d) => d.kind === 'stat' && d.source === 'user');
  assert.ok(stats.length >= 1, 'the recipe has a user statistic');
  const [a] = stats;
  const keys = j.stats[a.name].keys;
  // a second user statistic over every other user only (the binary file keeps one key table per side)
  const half = { keys: keys.filter((_, i) => i % 2 === 0), values: j.stats[a.name].values.filter((_, i) => i % 2 === 0).map((v) => v + 1), fallback: -3 };
  const edited = { ...j, derived: [...j.derived, { ...a, name: 'half_stat' }], scalers: { ...j.scalers, half_stat: j.scalers[a.name] },
    stats: { ...j.stats, half_stat: half } };
  const ref = FeatureEncoders.fromJSON(edited);
  const { memory, file } = binaryForms(ref, 'half-stat');
  for (const bin of [memory, file]) {
    for (const u of [...keys.slice(0, 200), 'nope']) {
      assert.deepEqual(bin.encodeRow({ [j.keys.user]: u }, ['user']), ref.encodeRow({ [j.keys.user]: u }, ['user']), u);
    }
  }
  const scaler = ref.scalers.get('half_stat')!;
  assert.equal(memory.encodeRow({ [j.keys.user]: keys[1] }, ['user']).dense.half_stat, scaler.transform(-3), 'no statistic: the fallback');
});
