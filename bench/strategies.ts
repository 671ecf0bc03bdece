// `npm run bench -- strategies`: the cost of a training epoch with OneBP against ordinary two-sided
// backpropagation (twobp), the claim of the OneBP paper besides accuracy. For MF and DSSM, the entries of the OneBP
// experiment config (same negatives, batch size, optimizer; configs/experiments/onebp-ml-1m-partial.json, or the
// ML-100K one with --data ml-100k) are trained for one epoch each, OneBP and twobp interleaved over --rounds rounds
// (default 2) on one dataset loaded once, and the training pass's samples/s (the trainer's own figure: forward,
// backward, optimizer step and, for OneBP, the moving-aggregation update; not the validation) is compared.
// Prints the CPU and the kernel path first; the last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { engineInfo } from '../src/core/index.js';
import { recipeMissing, type RecipeName } from '../src/data/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { loadExperiment } from '../src/train/experiment.js';
import { loadData, runTraining } from '../src/train/run.js';
import { median } from '../src/util/stats.js';

const CONFIGS: Record<string, string> = {
  'ml-1m': 'configs/experiments/onebp-ml-1m-partial.json',
  'ml-100k': 'configs/experiments/onebp-ml-100k.json',
};

export async function benchStrategies(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { data: { type: 'string', default: 'ml-1m' }, rounds: { type: 'string', default: '2' } } });
  const recipe = values.data as RecipeName;
  if (!CONFIGS[recipe]) throw new Error(`--data: one of ${Object.keys(CONFIGS).join(', ')}`);
  const info = engineInfo();
  console.log(`CPU: ${info.cpu}; ISA path: ${info.isa}; kernels: ${info.kernels}; pool threads: ${info.threads}`);
  const missing = recipeMissing(recipe);
  if (missing) {
    console.log(`skip: ${missing} (put the MovieLens files in ../shared/data or set PRERANK_SHARED_DATA)`);
    return;
  }
  const exp = loadExperiment(CONFIGS[recipe]);
  const data = await loadData({ data: exp.data });
  const rounds = Math.max(1, Number(values.rounds));
  console.log(`${data.name}: ${data.size} rows; entries of ${CONFIGS[recipe]}, one epoch each, ${rounds} interleaved rounds`);
  const dir = mkdtempSync(join(tmpdir(), 'prerank-bench-strategies-'));
  const rows: Record<string, unknown>[] = [];
  try {
    for (const model of ['mf', 'dssm']) {
      const pick = (strategy: string) => {
        const m = exp.models.find((e) => e.kind === model && e.strategy?.kind === strategy && !e.strategy.config.init && !e.strategy.config.warmupEpochs);
        if (!m) throw new Error(`${CONFIGS[recipe]} has no plain ${model} + ${strategy} entry`);
        return m;
      };
      const rates: Record<'twobp' | 'onebp', number[]> = { twobp: [], onebp: [] };
      for (let round = 0; round < rounds; round++) {
        for (const strategy of ['twobp', 'onebp'] as const) {
          const m = pick(strategy);
          const cfg = parseTrainConfig({ ...exp.train, epochs: 1, earlyStopping: { metric: 'auc', patience: 1 }, model: { kind: m.kind, config: m.config },
            strategy: m.strategy, data: exp.data, seed: 1, outDir: join(dir, `${m.label}-${round}`) });
          const r = await runTraining(cfg, { data, quiet: true });
          rates[strategy].push(r.fit.epochs[0].samplesPerSec);
        }
      }
      const two = median(rates.twobp), one = median(rates.onebp);
      const row = { model, twobp_samples_per_s: Math.round(two), onebp_samples_per_s: Math.round(one), ratio_onebp_over_twobp: +(one / two).toFixed(3),
        twobp_epoch_s: +(data.splitSize('train') / two).toFixed(2), onebp_epoch_s: +(data.splitSize('train') / one).toFixed(2) };
      rows.push(row);
      console.log(`${model.padEnd(5)} twobp ${row.twobp_samples_per_s} samples/s (${row.twobp_epoch_s} s/epoch)   onebp ${row.onebp_samples_per_s} samples/s ` +
        `(${row.onebp_epoch_s} s/epoch)   onebp/twobp throughput ${row.ratio_onebp_over_twobp}  [per round: twobp ${rates.twobp.map((x) => x.toFixed(0)).join(', ')}; onebp ${rates.onebp.map((x) => x.toFixed(0)).join(', ')}]`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'strategies', cpu: info.cpu, isa: info.isa, threads: info.threads, data: data.name, rows }));
}
