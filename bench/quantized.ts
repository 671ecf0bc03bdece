// `npm run bench -- quantized --model <run dir> [--model <run dir> ...] [--users 200] [--requests 300]`: what a
// bundle's item table dtype costs and buys for trained two-tower models, each dtype exported from the same run and
// served by the compiled plan (every dtype read in place from the table, as the memory store hands it over):
//   - test AUC of the served logits (every test row: its user through the plan, its item from the table);
//   - agreement with float32 at k = 1,000 random candidates: overlap of the top-100 and max |logit difference|, over
//     --users test users;
//   - in-process request latency at k = 1,000 (user tower + score + top-100), p50 / p99 over --requests requests,
//     the dtypes alternating in rounds of 20 requests so they sample the same stretch of machine time.
// It prints the CPU, the ISA path and whether bf16 max-sim uses the CPU's bf16 dot product (AVX512_BF16); the last
// line is one JSON object. Trained runs come from `prerank train` (configs/bench/train-ml-100k-*.json).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, Rng } from '../src/core/index.js';
import type { Batch } from '../src/data/index.js';
import { auc } from '../src/eval/auc.js';
import { Bundle, exportBundle } from '../src/export/index.js';
import { ITEM_DTYPES, type ItemDType, type ItemTable } from '../src/export/item-table.js';
import { compileUserSide, type CompiledUserSide } from '../src/serve/compiled.js';
import { serveInfo } from '../src/serve/native.js';
import { loadData, loadTrainConfig } from '../src/train/run.js';
import { stealLine, stealMeter } from './steal.js';

const K = 1000;
const TOP = 100;

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
};

interface Row {
  dtype: ItemDType;
  bytes: number;
  auc: number;
  top100: number;
  maxDiff: number;
  p50: number;
  p99: number;
  manifestMaxErr: number | null;
}

async function benchRun(runDir: string, users: number, requests: number): Promise<{ model: string; rows: Row[] }> {
  const cfg = loadTrainConfig(join(runDir, 'config.json'));
  const data = await loadData(cfg);
  const work = mkdtempSync(join(tmpdir(), 'prerank-bench-quantized-'));
  try {
    const tables = new Map<ItemDType, { t: ItemTable; acc: number | null }>();
    let compiled: CompiledUserSide | null = null;
    for (const dtype of ITEM_DTYPES) {
      const out = join(work, dtype);
      const { manifest } = await exportBundle(runDir, out, { itemDtype: dtype, annIndex: false });
      const b = await Bundle.load(out);
      compiled ??= compileUserSide(b.model!);
      const acc = manifest.items.cached ? manifest.items.accuracy?.maxAbsScoreError ?? null : null;
      tables.set(dtype, { t: b.items!, acc });
    }
    if (!compiled) throw new Error(`${cfg.model.kind}: no compiled serving plan (native addon not loaded?)`);
    const c = compiled;
    const desc = `${cfg.model.kind} ${JSON.stringify(cfg.model.config)} (${runDir})`;
    const n = data.itemCount;

    // Test AUC through the plan, one candidate per test row.
    const aucOf = (s: ItemTable): number => {
      const scores: number[] = [];
      const labels: number[] = [];
      const one = new Int32Array(1);
      for (const batch of data.batches('test', { batchSize: 4096, shuffle: false }).epoch(0) as Iterable<Batch>) {
        for (let r = 0; r < batch.size; r++) {
          one[0] = batch.item[r];
          scores.push(c.rank(c.input(batch, r), s.data, one, 1, 0, s.dtype, s.scales).scores[0]);
          labels.push(batch.label[r]);
        }
      }
      return auc(scores, labels);
    };

    // Agreement with float32 at k = 1,000 random candidates over test users.
    const rng = new Rng(7);
    const cand = Int32Array.from({ length: K }, () => rng.int(n));
    const testUsers: Float32Array[] = [];
    for (const batch of data.batches('test', { batchSize: 512, shuffle: true, seed: 3 }).epoch(0) as Iterable<Batch>) {
      for (let r = 0; r < batch.size && testUsers.length < users; r++) testUsers.push(c.input(batch, r));
      if (testUsers.length >= users) break;
    }
    const f32 = tables.get('float32')!.t;
    const refs = testUsers.map((x) => {
      const r = c.rank(x, f32.data, cand, K, TOP);
      return { scores: Float32Array.from(r.scores), top: new Set(r.top) };
    });

    // Latency: the dtypes alternate in rounds of 20 requests.
    const ms = new Map<ItemDType, number[]>(ITEM_DTYPES.map((d) => [d, []]));
    const x0 = testUsers[0];
    for (let done = 0; done < requests; done += 20) {
      for (const dtype of ITEM_DTYPES) {
        const { t } = tables.get(dtype)!;
        for (let i = 0; i < 22; i++) {
          const t0 = performance.now();
          c.rank(x0, t.data, cand, K, TOP, t.dtype, t.scales);
          if (i >= 2) ms.get(dtype)!.push(performance.now() - t0);
        }
      }
    }

    const rows: Row[] = [];
    for (const dtype of ITEM_DTYPES) {
      const { t, acc } = tables.get(dtype)!;
      let overlap = 0;
      let maxDiff = 0;
      testUsers.forEach((x, u) => {
        const r = c.rank(x, t.data, cand, K, TOP, t.dtype, t.scales);
        for (const i of r.top) if (refs[u].top.has(i)) overlap++;
        for (let k = 0; k < K; k++) maxDiff = Math.max(maxDiff, Math.abs(r.scores[k] - refs[u].scores[k]));
      });
      const bytes = t.data.byteLength + (t.scales?.byteLength ?? 0);
      rows.push({ dtype, bytes, auc: aucOf(t), top100: overlap / (TOP * testUsers.length), maxDiff, p50: pct(ms.get(dtype)!, 0.5), p99: pct(ms.get(dtype)!, 0.99), manifestMaxErr: acc });
    }
    console.log(`\n${desc}: ${n} items x ${tables.get('float32')!.t.dim}; ${testUsers.length} test users x ${K} random candidates`);
    console.log('  dtype      table MB   test AUC   top-100 overlap   max |logit - f32|   export max err   k=1,000 p50     p99 (ms)');
    const f32Row = rows[0];
    for (const r of rows) {
      console.log(`  ${r.dtype.padEnd(9)} ${(r.bytes / 2 ** 20).toFixed(1).padStart(9)}   ${r.auc.toFixed(5)}   ${(100 * r.top100).toFixed(2).padStart(14)}%   ${r.maxDiff.toExponential(2).padStart(17)}   ` +
        `${(r.manifestMaxErr === null ? 'n/a' : r.manifestMaxErr.toExponential(2)).padStart(14)}   ${r.p50.toFixed(3).padStart(11)} ${r.p99.toFixed(3).padStart(7)}` +
        (r === f32Row ? '' : `   (p50 ${(f32Row.p50 / r.p50).toFixed(2)}x f32, AUC ${(r.auc - f32Row.auc >= 0 ? '+' : '')}${(r.auc - f32Row.auc).toFixed(5)})`));
    }
    return { model: desc, rows };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function benchQuantized(args: string[]): Promise<void> {
  const runs = args.filter((a, i) => args[i - 1] === '--model').concat(args.filter((a) => a.startsWith('--model=')).map((a) => a.slice(8)));
  const opt = (name: string, dflt: string): string => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
  if (!runs.length) throw new Error('usage: npm run bench -- quantized --model <run dir> [--model <run dir> ...] [--users=200] [--requests=300]');
  const info = engineInfo();
  const bf16Dot = serveInfo()?.bf16Dot ?? false;
  console.log(`CPU: ${info.cpu}; ISA path: ${info.isa}; pool threads: ${info.threads}; bf16 max-sim: ${bf16Dot ? 'bf16 dot-product instruction (AVX512_BF16)' : 'widened to float32 (no AVX512_BF16, or turned off)'}`);
  const out: { model: string; rows: Row[] }[] = [];
  const steal = stealMeter();
  for (const run of runs) out.push(await benchRun(run, Number(opt('users', '200')), Number(opt('requests', '300'))));
  const share = steal.stop();
  console.log(stealLine(share));
  console.log(JSON.stringify({ cpu: info.cpu, isa: info.isa, threads: info.threads, bf16Dot, steal_share: share, runs: out }));
}
