// `npm run bench -- serve`: serving latency of DSSM and IntTower (two sizes) on the embedded
// ml-latest-small data.
//   1. In process, per request: the model's compiled serving plan (src/serve/compiled.ts: tower input written from
//      the encoded user row, then one native call: user tower in eval mode + score against the first k cached item
//      reps [k, I] + top-100 cut), for k = 100, 1,000, 5,000; p50/p99 over --requests after warm-up. The tensor path
//      it replaces (encodeUser + model.score + JS topK) is timed at k = 1,000 for comparison.
//   2. The same computation in eager PyTorch (bench/reference/score.py, 1 thread, inference_mode) from the same weights
//      and item reps (a fixture written here), in the same run, the two alternating in short blocks of requests
//      (score.py: both sample the same stretch of time); max |score difference| and the ratio torch/prerank.
//   2b. The same path in onnxruntime-node (bench/ort.ts) on the model's ONNX export: user_tower.onnx + scorer.onnx over
//      the first k item reps (computed once by item_tower.onnx) + top-100 in JS, onnxruntime's best session options
//      per model from a short calibration; its scores must equal prerank's before timing; timed in the same
//      alternation (a block of each side in turn); ratio ort/prerank (> 1: prerank is faster). A model kind without an
//      ONNX export prints why it is skipped.
//   3. HTTP: `prerank serve` (a child process, as deployed) on a bundle exported to a temp dir, on 127.0.0.1 with a
//      random port, driven at fixed rates with 1,000 candidates per request by an open-loop paced generator and by autocannon (each a child process,
//      bounded in time); p50/p99, achieved req/s, errors (non-2xx + socket errors + timeouts). The JSON's http_*
//      fields are the paced generator's IntTower run at the highest rate, autocannon_* autocannon's (the generator: bench/load.ts).
//   4. Hot reload under load: the paced run (DSSM, IntTower) at the highest rate again while the bundle is swapped every
//      second (POST /admin/reload between two bundles); reload_* fields: every request must succeed.
// First it prints the machine's own noise: a ~20 us computation's p99/p50, and the FMA speed of one vCPU in 2-ms windows
// (bench/steal.ts), which bound the p99/p50 a short or a compute-bound request can reach here.
// Weights are untrained (the models' initialisation; latency does not depend on the values). The last line is one
// JSON object. Options: --requests=N (1000 per k and side), --warmup=N (30), --http-seconds=S (10), --rates=200,500, --no-http,
// --no-torch, --no-ort, --models=dssm,inttower32,... (a subset of the rows, by key). CS3 rows are prerank only: their per-candidate cost beside the base model's, also timed in
// alternating blocks.
import { percentile } from '../src/util/stats.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, keep, noGrad, Rng, scope, Tensor } from '../src/core/index.js';
import { Dataset, recipeConfig, type Batch } from '../src/data/index.js';
import { headOf } from '../src/data/batch.js';
import { Bundle, exportBundle, firstIds } from '../src/export/index.js';
import { MODELS } from '../src/models/registry.js';
import type { RecModel } from '../src/models/types.js';
import { USER_SIDE, type FieldEmbedder } from '../src/models/common/field-embedder.js';
import { topK } from '../src/eval/index.js';
import { compileUserSide, type CompiledUserSide, type TableDType } from '../src/serve/compiled.js';
import { quantize } from '../src/export/item-table.js';
import { pacedLine, pacedLoad, runChild, serveChild, type LoadResult, type Paced } from './load.js';
import { fmaWindows, fmaWindowsLine, stealLine, stealMeter } from './steal.js';
import { PYTHON, fairOpenblasEnv, openblasCore, torchAvailable, writeFixture } from './torch-reference.js';
import { ortConfigName, prepareOrt, type OrtSide } from './ort.js';
import { cpuModel } from './proc.js';
import { NO_ORT, ortJson, ortLines, ortRow, ortSummary, type OrtRow } from './ort-rows.js';

const KS = [100, 1000, 5000];
const TOP_N = 100;
const HTTP_CANDIDATES = 1000;
const SCRIPT = join(process.cwd(), 'bench', 'reference', 'score.py');

interface Spec {
  key: 'dssm' | 'inttower' | 'inttower32' | 'inttower32_bf16' | 'ranktower' | 'dssm_cs3' | 'inttower_cs3';
  kind: 'dssm' | 'int-tower' | 'rank-tower' | 'cs3';
  config: Record<string, unknown>;
  http: boolean;
  /** Timed beside PyTorch (the CS3 rows are not: they show prerank's cost with and without CS3). */
  torch: boolean;
  /** The item table in bfloat16 on both sides (prerank reads it in place; PyTorch runs the max-sim product in bf16). */
  bf16?: boolean;
  /** Timed beside onnxruntime on the model's ONNX export (bench/ort.ts; skipped with the reason while its kind has none). */
  ort?: boolean;
}

/** CS3's cycle (two passes through the user tower) and cross-tower sync on a base model (the claim to show is that its
 * per-candidate cost is the base model's). */
const cs3 = (base: string): Record<string, unknown> => ({ base, config: {}, cycle: true, sync: { beta: 0.99, weight: 0.1 } });

const SPECS: Spec[] = [
  { key: 'dssm', kind: 'dssm', config: {}, http: true, torch: true, ort: true },
  { key: 'inttower', kind: 'int-tower', config: {}, http: true, torch: true, ort: true },
  { key: 'inttower32', kind: 'int-tower', config: { heads: 32, headSize: 64 }, http: false, torch: true, ort: true },
  { key: 'inttower32_bf16', kind: 'int-tower', config: { heads: 32, headSize: 64 }, http: false, torch: true, bf16: true },
  { key: 'ranktower', kind: 'rank-tower', config: {}, http: false, torch: true, ort: true },
  { key: 'dssm_cs3', kind: 'cs3', config: cs3('dssm'), http: false, torch: false },
  { key: 'inttower_cs3', kind: 'cs3', config: cs3('int-tower'), http: false, torch: false },
];

interface Lat {
  p50: number;
  p99: number;
  mean: number;
}

function fail(message: string): never {
  throw new Error(message);
}

const summary = (ms: number[]): Lat => ({ p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), mean: ms.reduce((a, b) => a + b, 0) / ms.length });
const f2 = (x: number | null | undefined, d = 3): string => (x === null || x === undefined ? 'n/a' : x.toFixed(d));

/** What score.py reports of itself, and its scores and top-n at the check k. */
interface TorchReport {
  threads: number;
  torch: string;
  blas_core: string | null;
  check: { k: number; scores: number[]; top: number[] };
}

/** Item reps of the whole catalogue [N, I] from a float32 bundle (what the in-process store serves). */
async function itemReps(bundleDir: string): Promise<{ ids: string[]; reps: Float32Array; dim: number }> {
  const b = await Bundle.load(bundleDir, { parts: 'item' });
  const t = b.items!;
  if (!(t.data instanceof Float32Array)) throw new Error('expected a float32 item table');
  return { ids: firstIds(t.ids, t.ids.size), reps: t.data, dim: t.dim };
}

/**
 * The fixture for score.py: user-tower weights, the user's raw input (per user-side field: its embedding table and
 * this user's ids, pooled by PyTorch per request as prerank's writeRow does; dense values as they are), the item reps.
 */
async function writeScoreFixture(dir: string, spec: Spec, model: RecModel, user: Batch, reps: Float32Array, dim: number): Promise<void> {
  const cfg = (model as unknown as { config: Record<string, unknown> }).config;
  const embed = (model as unknown as { embed: FieldEmbedder }).embed;
  const tensors = new Map<string, Tensor>();
  const userFields = embed.fieldsOf(USER_SIDE).map((f, j) => {
    tensors.set(`field${j}.table`, embed.table(f).table);
    const ids = f.kind === 'sparse'
      ? Int32Array.of(user.sparse[f.name][0])
      : user.sequence[f.name].ids.slice(0, user.sequence[f.name].lengths[0]);
    tensors.set(`field${j}.ids`, Tensor.from(ids, [ids.length]));
    return { kind: f.kind, pooling: f.kind === 'sparse' ? null : (f.pooling ?? 'mean') };
  });
  noGrad(() => scope(() => {
    const dense = embed.dense(user, USER_SIDE);
    if (dense) tensors.set('x_dense', keep(dense.clone()));
  }));
  for (const [name, t] of model.stateTensors()) {
    if (name === 'bias' || name === 'logInvTau' || ['user.', 'userSe.', 'userHead', 'userToItem.', 'itemToUser.'].some((p) => name.startsWith(p))) tensors.set(name, t);
  }
  tensors.set('items', Tensor.from(reps, [reps.length / dim, dim]));
  const layers = (cfg.tower as number[]).length;
  const config = spec.kind === 'dssm'
    ? { model: 'dssm', layers, batch_norm_eps: 1e-5, temperature: cfg.temperature }
    : spec.kind === 'rank-tower'
      ? { model: 'ranktower', layers: layers + 1, batch_norm_eps: 1e-5, user_heads: cfg.userHeads, item_heads: cfg.itemHeads, head_size: cfg.headSize,
        attn_dim: (cfg.attnDim as number) || cfg.headSize, value_dim: (cfg.valueDim as number) || cfg.headSize, ln_eps: 1e-5 }
      : { model: 'inttower', layers, batch_norm_eps: 1e-5, heads: (model as unknown as { heads: number }).heads, head_size: cfg.headSize,
        ...(spec.bf16 ? { item_dtype: 'bfloat16' } : {}) };
  await writeFixture(dir, config.model, { ...config, user_fields: userFields }, 0, tensors);
}

interface ModelResult {
  key: string;
  desc: string;
  ours: Record<number, Lat>;
  /** The tensor path (encodeUser + score + JS topK) at k = 1,000, for comparison. */
  tensorPath: Lat;
  torch: Record<number, Lat> | null;
  maxAbsDiff: number | null;
  topAgree: number | null;
  torchInfo: string | null;
  /** onnxruntime's side (null when not asked for this row). */
  ort: OrtRow | null;
}

/** One in-process request against the first k cached items (what every timing here calls). */
interface Probe {
  rank: (k: number) => { scores: Float32Array; top: Int32Array };
}

function probeOf(compiled: CompiledUserSide, user: Batch, reps: Float32Array, dim: number, bf16 = false): Probe {
  const table = bf16 ? quantize(Array.from({ length: reps.length / dim }, String), reps, dim, 'bfloat16').data as Uint16Array : reps;
  const dtype: TableDType = bf16 ? 'bfloat16' : 'float32';
  const views = new Map(KS.map((k) => [k, table.subarray(0, k * dim)]));
  return { rank: (k) => compiled.rank(compiled.inputView(user), views.get(k) ?? table.subarray(0, k * dim), null, k, TOP_N, dtype) };
}

/** Microseconds per candidate: the p50 slope from k = 1,000 to k = 5,000. */
const usPerCandidate = (p50At1000: number, p50At5000: number): number => (1000 * (p50At5000 - p50At1000)) / 4000;

/** PyTorch's score.py: a block of requests per call, for a caller that alternates with its own. */
class TorchPeer {
  private err = '';
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(fixture: string): Promise<{ peer: TorchPeer; meta: Omit<TorchReport, 'check'> }> {
    // 1 thread for torch and OpenBLAS; OpenBLAS picks its own kernel, pinned to the CPU's fast one only where it falls back.
    const env = fairOpenblasEnv({ ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' });
    const child = spawn(PYTHON, [SCRIPT, '--fixture', fixture, '--top-n', String(TOP_N), '--threads', '1'], { env });
    const peer = new TorchPeer(child);
    const ready = await peer.line();
    if (!ready.startsWith('ready ')) throw new Error(`bench/reference/score.py: unexpected '${ready}'`);
    return { peer, meta: JSON.parse(ready.slice(6)) };
  }

  private async line(): Promise<string> {
    const next = await this.lines.next();
    if (next.done) throw new Error(`bench/reference/score.py exited (${this.child.exitCode}):\n${this.err}`);
    return next.value;
  }

  /** `count` requests of k candidates back to back; their milliseconds as PyTorch timed them. */
  async requests(k: number, count: number): Promise<number[]> {
    this.child.stdin.write(`${k} ${count}\n`);
    return (await this.line()).split(' ').map(Number);
  }

  async check(k: number): Promise<TorchReport['check']> {
    this.child.stdin.write(`check ${k}\n`);
    return JSON.parse(await this.line());
  }

  close(): void {
    this.child.stdin.end();
  }
}

/**
 * prerank, onnxruntime (when ortRank is given) and PyTorch (when a fixture is given) alternate in blocks of BLOCK + 1
 * requests — for each k, a block of each side, until each has `requests` per k — so all sample the machine over the
 * same stretch of time. The first
 * request of every block is not counted: it runs on caches the other process has just used (PyTorch's own copy of a
 * 7 MB user tower evicts prerank's, and back), which no single-model server sees, and alternating one request at a
 * time measured that instead (IntTower 32 x 64 k = 100: p50 0.62 vs 0.15 ms warm; AMD EPYC Zen 5, 2026-12-02). Taking turns over whole runs, or over a
 * few rounds, is worse: prerank's fast requests then sample a much shorter stretch of time than PyTorch's, and one
 * burst of host noise in it decides its p99. Per-request ms by k for each side, and
 * prerank's scores and top-n at k = 1,000 for the check against PyTorch's.
 */
const BLOCK = 20;
async function alternate(probe: Probe, fixture: string | null, requests: number, warmup: number, ortRank: ((k: number) => Promise<unknown>) | null): Promise<{
  ours: Record<number, number[]>; scores: Float32Array; top: Int32Array; torch: { ms: Record<number, number[]>; report: TorchReport } | null;
  ort: Record<number, number[]> | null;
}> {
  const ours: Record<number, number[]> = Object.fromEntries(KS.map((k) => [k, []]));
  const torchMs: Record<number, number[]> = Object.fromEntries(KS.map((k) => [k, []]));
  const ortMs: Record<number, number[]> | null = ortRank && Object.fromEntries(KS.map((k) => [k, []]));
  const first = probe.rank(1000);
  const scores = Float32Array.from(first.scores); // rank() reuses its output buffers
  const top = Int32Array.from(first.top);
  const started = fixture ? await TorchPeer.start(fixture) : null;
  const peer = started?.peer ?? null;
  try {
    for (const k of KS) {
      for (let i = 0; i < warmup; i++) probe.rank(k);
      if (ortRank) for (let i = 0; i < warmup; i++) await ortRank(k);
      if (peer) await peer.requests(k, warmup);
    }
    for (let done = 0; done < requests; done += BLOCK) {
      const count = Math.min(BLOCK, requests - done);
      for (const k of KS) {
        for (let i = 0; i <= count; i++) {
          const t0 = performance.now();
          probe.rank(k);
          const t1 = performance.now();
          if (i > 0) ours[k].push(t1 - t0);
        }
        for (let i = 0; ortRank && i <= count; i++) {
          const t0 = performance.now();
          await ortRank(k);
          const t1 = performance.now();
          if (i > 0) ortMs![k].push(t1 - t0);
        }
        if (peer) torchMs[k].push(...(await peer.requests(k, count + 1)).slice(1));
      }
    }
    if (!peer) return { ours, scores, top, torch: null, ort: ortMs };
    const report: TorchReport = { ...started!.meta, check: await peer.check(1000) };
    return { ours, scores, top, torch: { ms: torchMs, report }, ort: ortMs };
  } finally {
    peer?.close();
  }
}

/** What every model's row shares: the data, the timed user (row 0 of checkUsers) and the run's options. */
interface RowContext {
  data: Dataset;
  user: Batch;
  /** The users whose onnxruntime scores are checked against prerank's before timing. */
  checkUsers: Batch;
  work: string;
  torchMissing: string | null;
  /** Why onnxruntime is not timed at all (--no-ort), or null. */
  ortMissing: string | null;
  requests: number;
  warmup: number;
}

async function benchModel(spec: Spec, ctx: RowContext): Promise<{ r: ModelResult; bundle: string; probe: Probe }> {
  const { data, user, work, torchMissing, requests, warmup } = ctx;
  const model = MODELS[spec.kind]({ features: data.features, rng: new Rng(2022) }, spec.config as never) as RecModel;
  model.eval();
  const bundle = join(work, `bundle-${spec.key}`);
  await exportBundle({ model, dataset: data, config: { kind: spec.kind, config: spec.config } }, bundle);
  const { reps, dim } = await itemReps(bundle);
  const U = noGrad(() => scope(() => model.encodeUser!(user).shape[1]));
  const describe = (m: RecModel): string => {
    const cfg = (m as unknown as { config: { tower: number[]; headSize?: number; userHeads?: number; itemHeads?: number } }).config;
    return m.kind === 'dssm' ? `DSSM ${cfg.tower.join('-')}`
      : m.kind === 'rank-tower' ? `RankTower ${cfg.userHeads} x ${cfg.itemHeads} sub-spaces of ${cfg.headSize}`
        : m.kind === 'cs3' ? `CS3 (cycle + sync) on ${describe((m as unknown as { base: RecModel }).base)}`
          : `IntTower ${(m as unknown as { heads: number }).heads} heads x ${cfg.headSize}`;
  };
  const desc = `${describe(model)} (U ${U}, I ${dim})${spec.bf16 ? ', bfloat16 item table on both sides' : ''}`;
  console.log(`\n${desc}: ${reps.length / dim} cached items`);

  const compiled = compileUserSide(model);
  if (!compiled) throw new Error(`${spec.kind}: no compiled serving plan (native addon not loaded?)`);
  const r: ModelResult = { key: spec.key, desc, ours: {}, tensorPath: { p50: NaN, p99: NaN, mean: NaN }, torch: null, maxAbsDiff: null, topAgree: null, torchInfo: null, ort: null };
  const fx = join(work, `fixture-${spec.key}`);
  const withTorch = !torchMissing && spec.torch;
  if (withTorch) await writeScoreFixture(fx, spec, model, user, reps, dim);
  const probe = probeOf(compiled, user, reps, dim, spec.bf16);
  const ort = spec.ort && !ctx.ortMissing ? await ortSideOf(spec, model, ctx, (row, k) => Float32Array.from(compiled.rank(compiled.inputView(ctx.checkUsers, row), reps, null, k, TOP_N).scores)) : null;
  const turns = await alternate(probe, withTorch ? fx : null, requests, warmup, ort && 'ranker' in ort ? (k) => ort.ranker.rank(user, 0, k) : null);
  if (ort && 'ranker' in ort) await ort.ranker.release();
  for (const k of KS) r.ours[k] = summary(turns.ours[k]);
  if (ort) r.ort = 'ranker' in ort ? ortRow(ort, turns.ort!) : { ...NO_ORT, skipped: ort.skipped };
  if (turns.torch) {
    const t = turns.torch;
    r.torch = Object.fromEntries(KS.map((k) => [k, summary(t.ms[k])]));
    r.maxAbsDiff = t.report.check.scores.reduce((m, v, i) => Math.max(m, Math.abs(v - turns.scores[i])), 0);
    const mine = new Set(Array.from(turns.top));
    r.topAgree = t.report.check.top.filter((i) => mine.has(i)).length / t.report.check.top.length;
    const own = openblasCore();
    r.torchInfo = `torch ${t.report.torch}, ${t.report.threads} thread, OpenBLAS core ${t.report.blas_core ?? '?'}${own.pin ? ` (pinned: by itself OpenBLAS picks ${own.core}, a fallback kernel)` : ''}`;
    rmSync(fx, { recursive: true, force: true });
  }
  // The tensor path the plan replaces (encodeUser + model.score + JS topK), at k = 1,000 only.
  const tensorMs: number[] = [];
  noGrad(() => {
    const items = Tensor.from(reps.subarray(0, 1000 * dim), [1000, dim]);
    for (let i = 0; i < warmup + Math.min(requests, 300); i++) {
      const t0 = performance.now();
      scope(() => void topK(model.score!(model.encodeUser!(user), items).f, TOP_N));
      if (i >= warmup) tensorMs.push(performance.now() - t0);
    }
  });
  r.tensorPath = summary(tensorMs);
  // The p99 of each fifth of the run (in time order): how much the machine moved during it.
  const byFifth = (ms: number[]): string => Array.from({ length: 5 }, (_, i) => f2(summary(ms.slice(Math.floor((i * ms.length) / 5), Math.floor(((i + 1) * ms.length) / 5))).p99)).join(' ');
  console.log(`  ${requests} requests per k${turns.torch ? `, prerank and PyTorch alternating in blocks of ${BLOCK} (+ 1 not counted)` : ''}; k = 1,000 p99 per fifth of the run (ms): prerank ` +
    `${byFifth(turns.ours[1000])}${turns.torch ? `; torch ${byFifth(turns.torch.ms[1000])}` : ''}`);
  console.log(`  in-process request = user tower + score + top-${TOP_N} in one native call (prerank, ${engineInfo().threads} threads, ${engineInfo().isa})${r.torch ? ` vs eager PyTorch (${r.torchInfo}, inference_mode)` : ''}`);
  console.log('       k   prerank p50     p99   torch p50     p99   ratio p50   ratio p99');
  for (const k of KS) {
    const o = r.ours[k];
    const t = r.torch?.[k];
    console.log(`  ${String(k).padStart(6)}  ${f2(o.p50).padStart(10)} ${f2(o.p99).padStart(7)}  ${f2(t?.p50).padStart(10)} ${f2(t?.p99).padStart(7)}  ${(t ? f2(t.p50 / o.p50, 2) : 'n/a').padStart(10)}  ${(t ? f2(t.p99 / o.p99, 2) : 'n/a').padStart(10)}  (ms)`);
  }
  if (r.ort) for (const line of ortLines(r.ort, r.ours, KS)) console.log(line);
  console.log(`  k = 1,000 on the tensor path (encodeUser + score + JS top-${TOP_N}, what the plan replaces): p50 ${f2(r.tensorPath.p50)} ms, p99 ${f2(r.tensorPath.p99)} ms`);
  if (r.maxAbsDiff !== null) console.log(`  scores at k = 1,000: max |prerank - torch| = ${r.maxAbsDiff.toExponential(2)}; top-${TOP_N} overlap ${(100 * r.topAgree!).toFixed(1)}%`);
  if (spec.bf16 && r.maxAbsDiff !== null) {
    console.log('  (both sides round to bf16, in different places — PyTorch also rounds each product sum to bf16 — and these untrained weights put every item\'s score ' +
      'within ~0.2 of the others, so the two top-100s differ; what bf16 costs a trained model: npm run bench -- quantized)');
  }
  return { r, bundle, probe };
}

/** onnxruntime's side of a row (bench/ort.ts), calibrated at k = 1,000 in blocks like the timed run's. */
async function ortSideOf(spec: Spec, model: RecModel, ctx: RowContext, prerank: (row: number, k: number) => Float32Array): Promise<OrtSide | { skipped: string }> {
  const plan = { ks: KS, n: TOP_N, calibrate: { k: 1000, rounds: 3, block: BLOCK } };
  return prepareOrt(spec.key, model, ctx.data, join(ctx.work, `onnx-${spec.key}`), ctx.user, ctx.checkUsers, plan, prerank);
}

/** p50 slopes (us per candidate, k = 1,000 -> 5,000) of two plans timed in alternating blocks of 20 requests. */
function pairedSlopes(a: Probe, b: Probe, requests: number): { a: number; b: number } {
  const ms = (p: Probe, k: number, out: number[]): void => {
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      p.rank(k);
      out.push(performance.now() - t0);
    }
  };
  const lat: Record<'a' | 'b', Record<number, number[]>> = { a: { 1000: [], 5000: [] }, b: { 1000: [], 5000: [] } };
  for (const k of [1000, 5000]) {
    ms(a, k, []); // warm-up
    ms(b, k, []);
  }
  for (let round = 0; round < Math.ceil(requests / 20); round++) {
    for (const k of [1000, 5000]) {
      ms(a, k, lat.a[k]);
      ms(b, k, lat.b[k]);
    }
  }
  const slope = (l: Record<number, number[]>): number => usPerCandidate(summary(l[1000]).p50, summary(l[5000]).p50);
  return { a: slope(lat.a), b: slope(lat.b) };
}

interface HttpResult extends LoadResult {
  model: string;
  tool?: 'paced' | 'autocannon';
}

/** autocannon in its own process (its CPU use does not land on the server's event loop). */
export async function loadTest(url: string, bodyFile: string, rate: number, seconds: number): Promise<LoadResult> {
  const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [cli, '--json', '-m', 'POST', '-H', 'content-type=application/json', '-i', bodyFile, '-c', '32', '--overallRate', String(rate),
    '-d', String(seconds), '-t', '5', url];
  const out = await runChild(args, 'autocannon', seconds);
  const j = JSON.parse(out) as { latency: { p50: number; p99: number }; requests: { average: number; total: number }; non2xx: number; errors: number; timeouts: number; duration: number };
  return { rate, p50: j.latency.p50, p99: j.latency.p99, rps: j.requests.total / j.duration, requests: j.requests.total, non2xx: j.non2xx, errors: j.errors, timeouts: j.timeouts };
}

interface ReloadResult {
  model: string;
  rate: number;
  load: Paced;
  /** Each /admin/reload's status and duration (s) as the server reported it. */
  reloads: { status: number; seconds: number | null; modelVersion: string | null }[];
}

/**
 * Hot reload under load: the paced generator at `rate` for `seconds` while this process swaps the served bundle
 * (POST /admin/reload, alternating between two bundles of different weights) every second after the first; every
 * request must still get a 2xx (in-flight ones finish on the deployment they started on).
 */
async function reloadUnderLoad(address: string, bodyFile: string, rate: number, seconds: number, bundles: [string, string]): Promise<Omit<ReloadResult, 'model'>> {
  const load = pacedLoad(`${address}/v1/prerank`, bodyFile, rate, seconds);
  const reloads: ReloadResult['reloads'] = [];
  for (let i = 0; i < seconds - 1; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const res = await fetch(`${address}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bundle: bundles[(i + 1) % 2] }) });
    const j = (await res.json()) as { seconds?: number; modelVersion?: string };
    reloads.push({ status: res.status, seconds: j.seconds ?? null, modelVersion: j.modelVersion ?? null });
  }
  return { rate, load: await load, reloads };
}

async function benchHttp(spec: Spec, bundle: string, data: Dataset, work: string, rates: number[], seconds: number, reloadTo: string | null): Promise<{ http: HttpResult[]; reload: ReloadResult | null }> {
  const srv = await serveChild(['--bundle', bundle, '--ann', 'off']);
  const out: HttpResult[] = [];
  try {
    const { address } = srv;
    const enc = data.encoders.toJSON();
    const body = { user: { [enc.keys.user]: data.userKeys[0] }, candidates: data.itemKeys.slice(0, HTTP_CANDIDATES), n: TOP_N };
    const bodyFile = join(work, `body-${spec.key}.json`);
    writeFileSync(bodyFile, JSON.stringify(body));
    // One request by hand: the body must be valid and every candidate known.
    const res = await fetch(`${address}/v1/prerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = (await res.json()) as { items?: unknown[]; unknown?: unknown[] };
    if (res.status !== 200 || j.items?.length !== TOP_N || j.unknown?.length) throw new Error(`warm-up request failed: ${res.status} ${JSON.stringify(j).slice(0, 300)}`);
    for (let i = 0; i < 50; i++) await fetch(`${address}/v1/prerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const rate of rates) {
      const p = { model: spec.key, tool: 'paced' as const, ...(await pacedLoad(`${address}/v1/prerank`, bodyFile, rate, seconds)) };
      out.push(p);
      console.log(`  ${spec.key} paced (open loop)   ${rate} req/s x ${seconds} s: ${pacedLine(p)}`);
      const a = { model: spec.key, tool: 'autocannon' as const, ...(await loadTest(`${address}/v1/prerank`, bodyFile, rate, seconds)) };
      out.push(a);
      console.log(`  ${spec.key} autocannon -c 32 -R ${rate} x ${seconds} s: achieved ${a.rps.toFixed(0)} req/s, p50 ${a.p50} ms, p99 ${a.p99} ms, ${a.requests} requests, non-2xx ${a.non2xx}, socket errors ${a.errors}, timeouts ${a.timeouts}`);
    }
    if (reloadTo) {
      const rate = Math.max(...rates);
      const r = { model: spec.key, ...(await reloadUnderLoad(address, bodyFile, rate, seconds, [bundle, reloadTo])) };
      const ok = r.reloads.filter((x) => x.status === 200).length;
      const versions = new Set(r.reloads.map((x) => x.modelVersion)).size;
      console.log(`  ${spec.key} hot reload under load: ${r.reloads.length} reloads (${ok} ok, ${versions} model versions, ${r.reloads.map((x) => f2(x.seconds, 2)).join('/')} s each) during paced ${rate} req/s x ${seconds} s: ` +
        pacedLine(r.load));
      return { http: out, reload: r };
    }
  } finally {
    await srv.stop();
  }
  return { http: out, reload: null };
}

/**
 * The machine's own jitter: a fixed ~20 us piece of arithmetic (no allocation, no I/O, one thread) timed like a
 * request. Its p99 over p50 is what scheduling noise alone adds to a request of that size on this machine.
 */
function noiseProbe(samples = 2000): Lat & { work: number } {
  const spin = (n: number): number => {
    let x = 1.0;
    for (let i = 0; i < n; i++) x = x * 1.0000001 + 1e-9;
    return x;
  };
  // Calibrate n to ~20 us once the loop is optimised (a warm-up first: the JIT makes it ~10x faster).
  let sink = 0;
  for (let i = 0; i < 200; i++) sink += spin(1e5);
  let best = Infinity;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    sink += spin(1e6);
    best = Math.min(best, performance.now() - t0);
  }
  const n = Math.max(1, Math.round((1e6 * 0.02) / best));
  const ms: number[] = [];
  for (let i = 0; i < samples + 100; i++) {
    const t0 = performance.now();
    sink += spin(n);
    if (i >= 100) ms.push(performance.now() - t0);
  }
  if (sink === 42) console.log(''); // keeps the work alive
  return { ...summary(ms), work: n };
}

export async function benchServe(args: string[]): Promise<void> {
  const opt = (name: string, dflt: string): string => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
  const requests = Number(opt('requests', '1000'));
  const warmup = Number(opt('warmup', '30'));
  const seconds = Number(opt('http-seconds', '10'));
  const rates = opt('rates', '200,500').split(',').map(Number);
  const info = engineInfo();
  console.log(`CPU: ${cpuModel()}; ISA path: ${info.isa} (supported: ${info.supportedIsas.join(', ')}); kernels: ${info.kernels}; pool threads: ${info.threads}`);
  const steal = stealMeter();
  const noise = noiseProbe();
  console.log(`noise floor: a fixed ~20 us computation timed 2,000 times: p50 ${f2(noise.p50 * 1000, 1)} us, p99 ${f2(noise.p99 * 1000, 1)} us ` +
    `(p99/p50 ${f2(noise.p99 / noise.p50, 2)}: scheduling noise alone, the same for prerank and PyTorch)`);
  const windows = fmaWindows();
  console.log(fmaWindowsLine(windows));
  const torchMissing = args.includes('--no-torch') ? '--no-torch given' : torchAvailable();
  if (torchMissing) console.log(`PyTorch reference skipped: ${torchMissing}`);
  const ortMissing = args.includes('--no-ort') ? '--no-ort given' : null;
  if (ortMissing) console.log(`onnxruntime skipped: ${ortMissing}`);
  const data = await Dataset.load(recipeConfig('ml-latest-small'));
  console.log(`data: ${data.name}, ${data.userCount} users, ${data.itemCount} items; weights untrained (initialisation, seed 2022): latency does not depend on their values`);
  const checkUsers = headOf(data.batches('test', { batchSize: 4, shuffle: false }).epoch(0).next().value as Batch, 4);
  const user = headOf(checkUsers, 1);
  const work = mkdtempSync(join(tmpdir(), 'prerank-bench-serve-'));
  const models: ModelResult[] = [];
  const probes = new Map<Spec['key'], Probe>();
  const http: HttpResult[] = [];
  const reloads: ReloadResult[] = [];
  try {
    const bundles: [Spec, string][] = [];
    const only = opt('models', '');
    const specs = only ? only.split(',').map((key) => SPECS.find((s) => s.key === key) ?? fail(`--models: unknown row '${key}' (rows: ${SPECS.map((s) => s.key).join(', ')})`)) : SPECS;
    for (const spec of specs) {
      const { r, bundle, probe } = await benchModel(spec, { data, user, checkUsers, work, torchMissing, ortMissing, requests, warmup });
      models.push(r);
      probes.set(spec.key, probe);
      if (spec.http) bundles.push([spec, bundle]);
    }
    if (!args.includes('--no-http')) {
      console.log(`\nHTTP load test: prerank serve in a child process on 127.0.0.1, load generators in child processes, loopback only`);
      for (const [spec, bundle] of bundles) {
        // The reload target: the same architecture with other weights, so each swap changes the model version (DSSM's
        // bundles also carry the ANN index the deployment loads).
        const other = join(work, `bundle-${spec.key}-b`);
        const model = MODELS[spec.kind]({ features: data.features, rng: new Rng(2023) }, spec.config as never) as RecModel;
        await exportBundle({ model, dataset: data, config: { kind: spec.kind, config: spec.config } }, other);
        const r = await benchHttp(spec, bundle, data, work, rates, seconds, other);
        http.push(...r.http);
        if (r.reload) reloads.push(r.reload);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const result: Record<string, unknown> = { cpu: info.cpu, cpu_model: cpuModel(), isa: info.isa, threads: info.threads, torch_threads: torchMissing ? null : 1,
    noise_p50_us: noise.p50 * 1000, noise_p99_us: noise.p99 * 1000, fma_windows: windows };
  for (const m of models) {
    for (const k of KS) {
      result[`${m.key}_k${k}_p50_ms`] = m.ours[k].p50;
      result[`${m.key}_k${k}_p99_ms`] = m.ours[k].p99;
      result[`torch_${m.key}_k${k}_p50_ms`] = m.torch?.[k].p50 ?? null;
      result[`torch_${m.key}_k${k}_p99_ms`] = m.torch?.[k].p99 ?? null;
      result[`ratio_${m.key}_k${k}`] = m.torch ? m.torch[k].p99 / m.ours[k].p99 : null;
    }
    result[`${m.key}_max_abs_diff`] = m.maxAbsDiff;
    if (m.ort) Object.assign(result, ortJson(m.key, m.ort, m.ours, KS));
  }
  const withOrt = models.filter((m): m is ModelResult & { ort: OrtRow } => m.ort !== null);
  result.ort_config = withOrt.length ? Object.fromEntries(withOrt.map((m) => [m.key, m.ort.config ? ortConfigName(m.ort.config) : `skipped: ${m.ort.skipped}`])) : null;
  const main = http.find((h) => h.model === 'inttower' && h.tool === 'paced' && h.rate === Math.max(...rates)) ?? null;
  const ac = http.find((h) => h.model === 'inttower' && h.tool === 'autocannon' && h.rate === Math.max(...rates)) ?? null;
  result.autocannon_p50_ms = ac?.p50 ?? null;
  result.autocannon_p99_ms = ac?.p99 ?? null;
  result.autocannon_rps = ac?.rps ?? null;
  result.autocannon_errors = ac ? ac.non2xx + ac.errors + ac.timeouts : null;
  result.http_tool = main ? 'paced open-loop generator (bench/serve.ts); autocannon_* = autocannon -c 32 --overallRate' : null;
  result.http_model = main?.model ?? null;
  result.http_rate = main?.rate ?? null;
  result.http_p50_ms = main?.p50 ?? null;
  result.http_p99_ms = main?.p99 ?? null;
  result.http_rps = main?.rps ?? null;
  result.http_errors = main ? main.non2xx + main.errors + main.timeouts : null;
  result.http = http;
  // Hot reload under load, over every model that ran it: totals, and the worst p99.
  const total = (f: (r: ReloadResult) => number): number | null => (reloads.length ? reloads.reduce((a, r) => a + f(r), 0) : null);
  result.reload_models = reloads.map((r) => r.model);
  result.reload_count = total((r) => r.reloads.length);
  result.reload_failed = total((r) => r.reloads.filter((x) => x.status !== 200).length);
  result.reload_http_p99_ms = reloads.length ? Math.max(...reloads.map((r) => r.load.p99)) : null;
  result.reload_http_errors = total((r) => r.load.non2xx + r.load.errors + r.load.timeouts);
  result.reload_http_requests = total((r) => r.load.requests);
  const compared = models.filter((m) => m.torch);
  if (compared.length) {
    console.log(`\nratio torch/prerank at k = 1,000 (p99): ${compared.map((m) => `${m.key} ${(result[`ratio_${m.key}_k1000`] as number).toFixed(2)}`).join(', ')} (target: >= 3 for dssm, inttower, inttower32; inttower32_bf16 is inttower32 with bfloat16 item tables on both sides)`);
  }
  // CS3: the per-candidate cost is the slope from k = 1,000 to 5,000 (p50), beside the base model's: from
  // the runs above (minutes apart), and from a paired run where base and CS3 requests alternate in small blocks, so
  // drift of the machine lands on both alike.
  for (const [withCs3, base] of [['dssm_cs3', 'dssm'], ['inttower_cs3', 'inttower']] as const) {
    const a = models.find((m) => m.key === withCs3), b = models.find((m) => m.key === base);
    if (!a || !b) continue;
    const slope = (m: ModelResult): number => usPerCandidate(m.ours[1000].p50, m.ours[5000].p50);
    result[`${withCs3}_us_per_candidate`] = slope(a);
    result[`${base}_us_per_candidate`] = slope(b);
    const paired = pairedSlopes(probes.get(withCs3)!, probes.get(base)!, requests);
    result[`${withCs3}_us_per_candidate_paired`] = paired.a;
    result[`${base}_us_per_candidate_paired`] = paired.b;
    console.log(`${base} with CS3: ${f2(slope(a), 4)} us per candidate (p50 slope from 1,000 to 5,000) vs ${f2(slope(b), 4)} without; ` +
      `paired (alternating blocks): ${f2(paired.a, 4)} vs ${f2(paired.b, 4)}; k = 1,000 p50 ${f2(a.ours[1000].p50)} vs ${f2(b.ours[1000].p50)} ms (the user side runs twice)`);
  }
  const ortLine = ortSummary(withOrt);
  if (ortLine) console.log(ortLine);
  const rt = models.find((m) => m.key === 'ranktower');
  if (rt) {
    console.log(`RankTower at k = 1,000: p99 ${f2(rt.ours[1000].p99)} ms (target: <= 2 ms)`);
  }
  result.steal_share = steal.stop();
  console.log(stealLine(result.steal_share as number | null));
  console.log(JSON.stringify(result));
}
