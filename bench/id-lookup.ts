// `npm run bench -- id-lookup --bundle DIR [--baseline DIR] [--small DIR] [--batch 1000] [--batches 300] [--requests 300]`: candidate
// id -> row lookups in bundles' id tables, the batch lookup (KeyIndex.indexOfAll: native, misses overlapped) against
// indexOf per key (the JavaScript probe), alternating in blocks in one process so both sample the same stretch of time.
//   1. µs per lookup, --batches batches of --batch random ids per table (--bundle and, if given, --baseline (the same
//      items in another id-table layout, say) and --small), each batch
//      fresh strings from a JSON round trip as a request body gives them, so only the table's lines can miss.
//   2. With --requests > 0: serving latency at k = --batch through the service's scorer (memory store, no ANN) on
//      --bundle with the batch lookup, on --bundle with per-key indexOf, on --baseline and on --small, alternating in
//      blocks of 50.
//   3. With --row-prefetch a,b,..: one more side on --bundle per distance (rows the dot kernel prefetches ahead,
//      setRowPrefetch), set before each of its requests; the other sides use the default.
// The last line is one JSON object.
import { closeSync, openSync, readSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import { Bundle } from '../src/export/index.js';
import { firstIds, type Ids } from '../src/export/id-table.js';
import { FILES } from '../src/export/manifest.js';
import { setRowPrefetch } from '../src/serve/native.js';
import { Deployment } from '../src/serve/service.js';
import { percentile } from '../src/util/stats.js';
import { cpuModel } from './proc.js';
import { alternatingLatency } from './redis-cluster.js';

const round = (x: number, d = 3): number => Number(x.toFixed(d));

const ROW_PREFETCH_DEFAULT = 4;

/** The layout version in an id file's header. */
function idLayout(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(12);
    readSync(fd, b, 0, 12, 0);
    return b.readUInt32LE(8);
  } finally {
    closeSync(fd);
  }
}

/** The per-key path: what indexOfAll replaced. */
function perKey(ids: Ids, keys: readonly string[], out: Int32Array): Int32Array {
  for (let q = 0; q < keys.length; q++) out[q] = ids.indexOf(keys[q]);
  return out;
}

/** µs per lookup (median over batches) of the batch lookup and of indexOf per key, alternating every 10 batches. */
function lookupTimes(ids: Ids, pool: readonly string[], batch: number, batches: number, rng: Rng): { batch: number; perKey: number } {
  const times = { batch: [] as number[], perKey: [] as number[] };
  const a = new Int32Array(batch), b = new Int32Array(batch);
  for (let done = 0; done < batches + 20; done += 10) {
    for (const side of ['batch', 'perKey'] as const) {
      for (let r = 0; r < 10; r++) {
        const keys = JSON.parse(JSON.stringify(Array.from({ length: batch }, () => pool[rng.int(pool.length)]))) as string[];
        const t0 = performance.now();
        if (side === 'batch') ids.indexOfAll(keys, a);
        else perKey(ids, keys, b);
        const dt = (performance.now() - t0) * 1000 / batch;
        if (done >= 20) times[side].push(dt);
        const out = side === 'batch' ? a : b;
        for (let q = 0; q < batch; q++) if (ids.keyAt(out[q]) !== keys[q]) throw new Error(`${side}: id ${keys[q]} found at row ${out[q]}`);
      }
    }
  }
  return { batch: percentile(times.batch, 0.5), perKey: percentile(times.perKey, 0.5) };
}

export async function benchIdLookup(args: string[]): Promise<void> {
  const opt = (name: string): string | undefined => args.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3)
    ?? (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
  const dir = opt('bundle');
  if (!dir) throw new Error('--bundle DIR is required (a bundle with an item table)');
  const small = opt('small'), baseline = opt('baseline');
  const batch = Number(opt('batch') ?? 1000), batches = Number(opt('batches') ?? 300), requests = Number(opt('requests') ?? 300);
  const cpu = `${cpuModel()} (${cpus().length} vCPU)`;
  console.log(`CPU: ${cpu}; kernels ${engineInfo().isa}; batch ${batch}, ${batches} batches, ${requests} requests`);
  const out: Record<string, number | string> = { cpu, batch };
  const rng = new Rng(5);
  const pools = new Map<string, string[]>();
  for (const [tag, d] of [['full', dir], ['baseline', baseline], ['small', small]] as const) {
    if (!d) continue;
    const b = await Bundle.load(d, { parts: 'item' });
    const ids = b.items!.ids;
    const pool = firstIds(ids, Infinity);
    pools.set(tag, pool);
    const t = lookupTimes(ids, pool, batch, batches, rng);
    const layout = idLayout(join(d, FILES.itemIds));
    console.log(`${tag} (${ids.size} ids, id-table layout ${layout}): batch lookup ${t.batch.toFixed(3)} µs/id, indexOf per key ${t.perKey.toFixed(3)} µs/id (${(t.perKey / t.batch).toFixed(2)}x)`);
    Object.assign(out, { [`${tag}_items`]: ids.size, [`${tag}_batch_us`]: round(t.batch), [`${tag}_per_key_us`]: round(t.perKey) });
  }
  if (requests > 0) {
    const deps = [await Deployment.open(dir, { store: 'memory', ann: 'off' }), await Deployment.open(dir, { store: 'memory', ann: 'off' })];
    const ids = deps[1].bundle.items!.ids;
    // the second deployment's store looks ids up one at a time, as before the batch lookup
    ids.indexOfAll = (keys, o = new Int32Array(keys.length)) => perKey(ids, keys, o);
    const names = ['batch lookup', 'indexOf per key'], tags = ['full', 'full'];
    for (const [tag, d] of [['baseline', baseline], ['small', small]] as const) {
      if (!d) continue;
      deps.push(await Deployment.open(d, { store: 'memory', ann: 'off' }));
      names.push(tag === 'small' ? 'small table' : 'baseline');
      tags.push(tag);
    }
    const distances = (opt('row-prefetch') ?? '').split(',').filter(Boolean).map(Number);
    for (const rows of distances) {
      const d = await Deployment.open(dir, { store: 'memory', ann: 'off' });
      const prerank = d.scorer.prerank.bind(d.scorer);
      d.scorer.prerank = (req) => {
        setRowPrefetch(rows);
        return prerank(req).finally(() => setRowPrefetch(ROW_PREFETCH_DEFAULT));
      };
      deps.push(d);
      names.push(`row prefetch ${rows}`);
      tags.push('full');
    }
    try {
      const sides = deps.map((deployment, i) => ({ deployment, itemIds: pools.get(tags[i])! }));
      const urng = new Rng(3);
      const lat = await alternatingLatency(sides, { user: () => ({ user_id: String(1 + urng.int(1000)) }), k: batch, requests, seed: 7 });
      lat.forEach((l, i) => console.log(`serve k=${batch} ${names[i].padEnd(16)} p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms`));
      Object.assign(out, { serve_p50_ms: round(lat[0].p50), serve_p99_ms: round(lat[0].p99), serve_per_key_p50_ms: round(lat[1].p50),
        serve_per_key_p99_ms: round(lat[1].p99) });
      lat.forEach((l, i) => {
        const tag = names[i].startsWith('row prefetch') ? names[i].replace(/ /g, '_') : tags[i];
        if (i >= 2) Object.assign(out, { [`serve_${tag}_p50_ms`]: round(l.p50), [`serve_${tag}_p99_ms`]: round(l.p99) });
      });
    } finally {
      for (const d of deps) await d.close();
    }
  }
  console.log(JSON.stringify(out));
}
