// `npm run bench -- encoders`: a bundle's encoders at production size, binary (encoders.bin) against JSON (format /1).
// Builds encoders with --items item ids and --users user ids (default 10M / 5M), a count statistic per user and per
// item, and a --history item history per user (default 20; one user in ten has none), the shapes of the synthetic
// log's config, directly (no training). Writes encoders.bin, and encoders.json as format /1 did when --json is given
// (at 10M / 5M the one JSON string exceeds V8's string limit: the bench says so). Then, each in a fresh child process
// (its own heap, RSS read from /proc): load time and RSS added, ns per vocabulary lookup (known and unknown ids) and
// per request-side user encoding (encodeRow: user id, statistic, history); lookup costs are CPU time (the machine
// may be shared), load times both wall and CPU. Binary is measured read whole ('memory',
// sha256 checked as Bundle.load does) and by pread ('file'). The files are in the page cache (just written): a cold
// read from disk adds the device's time. Options: --items=N --users=N --history=N --json --dir=D --lookups=N.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/index.js';
import { FeatureEncoders, type EncodersJson } from '../src/data/index.js';
import { MemoryBytes } from '../src/export/byte-source.js';
import { FileBytes } from '../src/export/file-bytes.js';
import { parseEncodersMeta, readEncodersBin } from '../src/export/encoders-bin-read.js';
import { writeEncodersBin } from '../src/export/encoders-bin.js';
import { rssNowMiB } from '../src/util/proc.js';

const MAIN = join(fileURLToPath(import.meta.url), '../main.js');

/** CPU milliseconds (user + system) of this process since `from`. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

function opt(args: string[], name: string, dflt: number): number {
  const v = args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return v === undefined ? dflt : Number(v);
}

/** Encoders shaped like the synthetic log's: user_id, gender, item_id, category, two count statistics, a history. */
export function syntheticEncoders(items: number, users: number, history: number): FeatureEncoders {
  const rng = new Rng(1);
  const itemTokens = Array.from({ length: items }, (_, i) => `i${i}`);
  const userTokens = Array.from({ length: users }, (_, i) => `u${i}`);
  const perUser: Record<string, string[]> = {};
  for (let u = 0; u < users; u++) {
    if (u % 10 === 9) continue;
    perUser[userTokens[u]] = Array.from({ length: history }, () => itemTokens[rng.int(items)]);
  }
  const counts = (n: number) => Array.from({ length: n }, (_, i) => 1 + (i % 97));
  const j: EncodersJson = {
    version: 1, name: `bench ${items} items / ${users} users`, keys: { user: 'user_id', item: 'item_id' },
    features: [
      { kind: 'sparse', name: 'user_id', source: 'user' }, { kind: 'sparse', name: 'gender', source: 'user' },
      { kind: 'sparse', name: 'item_id', source: 'item' }, { kind: 'sparse', name: 'category', source: 'item' },
    ] as EncodersJson['features'],
    derived: [
      { kind: 'stat', name: 'user_events', source: 'user', stat: 'count', prior: 0, scaler: 'log1p' },
      { kind: 'stat', name: 'item_events', source: 'item', stat: 'count', prior: 0, scaler: 'log1p' },
      { kind: 'history', name: 'clicked_items', source: 'user', shareWith: 'item_id', maxLen: history, pooling: 'mean' },
    ] as EncodersJson['derived'],
    vocabularies: { user_id: { tokens: userTokens, hashBuckets: 0 }, gender: { tokens: ['f', 'm', 'x'], hashBuckets: 0 },
      item_id: { tokens: itemTokens, hashBuckets: 0 }, category: { tokens: Array.from({ length: 40 }, (_, i) => `c${i}`), hashBuckets: 0 } },
    scalers: { user_events: { kind: 'log1p', fill: 0, shift: 0, scale: 1 }, item_events: { kind: 'log1p', fill: 0, shift: 0, scale: 1 } },
    stats: { user_events: { keys: userTokens, values: counts(users), fallback: 0 }, item_events: { keys: itemTokens, values: counts(items), fallback: 0 } },
    history: { clicked_items: perUser },
  };
  return FeatureEncoders.fromJSON(j);
}

interface ChildResult {
  mode: string;
  loadMs: number;
  /** CPU time of the load (user + system): on a shared machine, less noisy than wall time. */
  loadCpuMs: number;
  rssAddedMiB: number;
  nsPerKnownLookup: number;
  nsPerUnknownLookup: number;
  usPerUserEncode: number;
}

/** In a fresh process: load one form, then time lookups. */
async function child(mode: string, dir: string, items: number, users: number, lookups: number): Promise<void> {
  const rss0 = rssNowMiB() ?? 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let enc: FeatureEncoders;
  if (mode === 'json') enc = FeatureEncoders.fromJSON(JSON.parse(readFileSync(join(dir, 'encoders.json'), 'utf8')));
  else {
    const meta = parseEncodersMeta(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')), 'meta.json');
    const path = join(dir, 'encoders.bin');
    if (mode === 'memory') {
      const bytes = readFileSync(path);
      createHash('sha256').update(bytes).digest('hex');
      enc = readEncodersBin(meta, new MemoryBytes(bytes), path);
    } else enc = readEncodersBin(meta, new FileBytes(path), path);
  }
  const loadMs = performance.now() - t0;
  const loadCpuMs = cpuMs(c0);
  const rssAddedMiB = (rssNowMiB() ?? 0) - rss0;
  const rng = new Rng(2);
  const known = Array.from({ length: lookups }, () => `i${rng.int(items)}`);
  const unknown = Array.from({ length: lookups }, (_, i) => `x${i}`);
  const vocab = enc.vocabulary('item_id');
  const time = (keys: string[]) => {
    let s = 0;
    const c = process.cpuUsage();
    for (const k of keys) s += vocab.peek(k);
    return { ns: (cpuMs(c) * 1e6) / keys.length, s };
  };
  time(known.slice(0, 1000));
  const k = time(known), u = time(unknown);
  if (u.s !== lookups) throw new Error('unknown ids must map to OOV (1)');
  const rows = Array.from({ length: Math.min(lookups, 100_000) }, () => ({ user_id: `u${rng.int(users)}` }));
  const c = process.cpuUsage();
  let hist = 0;
  for (const r of rows) hist += enc.encodeRow(r, ['user']).sequence.clicked_items.length;
  const usPerUserEncode = (cpuMs(c) * 1e3) / rows.length;
  if (hist === 0) throw new Error('no history found');
  const out: ChildResult = { mode, loadMs, loadCpuMs, rssAddedMiB, nsPerKnownLookup: k.ns, nsPerUnknownLookup: u.ns, usPerUserEncode };
  process.stdout.write(JSON.stringify(out));
}

export async function benchEncoders(args: string[]): Promise<void> {
  const items = opt(args, 'items', 10_000_000), users = opt(args, 'users', 5_000_000), history = opt(args, 'history', 20);
  const lookups = opt(args, 'lookups', 1_000_000);
  if (args[0] === 'child') return child(args[1], args[2], items, users, lookups);
  const dir = args.find((a) => a.startsWith('--dir='))?.slice(6) ?? mkdtempSync(join(tmpdir(), 'prerank-bench-enc-'));
  console.log(`encoders bench: ${items.toLocaleString()} items, ${users.toLocaleString()} users, history ${history}; CPU ${cpus()[0]?.model}; ${dir}`);
  let t = performance.now();
  const enc = syntheticEncoders(items, users, history);
  console.log(`built in memory: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const meta = writeEncodersBin(enc, join(dir, 'encoders.bin'), 'encoders.bin');
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  const writeS = (performance.now() - t) / 1000;
  const binMiB = statSync(join(dir, 'encoders.bin')).size / 2 ** 20;
  console.log(`encoders.bin: ${binMiB.toFixed(0)} MiB written in ${writeS.toFixed(1)} s`);
  let json: string | null = null;
  if (args.includes('--json')) {
    t = performance.now();
    try {
      writeFileSync(join(dir, 'encoders.json'), JSON.stringify(enc.toJSON()));
      json = `${(statSync(join(dir, 'encoders.json')).size / 2 ** 20).toFixed(0)} MiB written in ${((performance.now() - t) / 1000).toFixed(1)} s`;
    } catch (e) {
      json = `cannot be written: ${(e as Error).message}`;
    }
    console.log(`encoders.json (format /1): ${json}`);
  }
  const results: ChildResult[] = [];
  const modes = ['file', 'memory', ...(json?.includes('MiB written') ? ['json'] : [])];
  for (const mode of modes) {
    const out = execFileSync(process.execPath, ['--max-old-space-size=16384', MAIN, 'encoders', 'child', mode, dir,
      `--items=${items}`, `--users=${users}`, `--lookups=${lookups}`], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out) as ChildResult;
    results.push(r);
    console.log(`${mode.padEnd(6)} load ${r.loadMs.toFixed(1)} ms (CPU ${r.loadCpuMs.toFixed(1)} ms), +${r.rssAddedMiB.toFixed(0)} MiB RSS; item id lookup ${r.nsPerKnownLookup.toFixed(0)} ns known, ${r.nsPerUnknownLookup.toFixed(0)} ns unknown; user encode (id, statistic, history) ${r.usPerUserEncode.toFixed(2)} us`);
  }
  if (!args.some((a) => a.startsWith('--dir='))) rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ bench: 'encoders', cpu: cpus()[0]?.model, items, users, history, binMiB, writeS, json, results }));
}
