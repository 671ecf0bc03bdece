#!/usr/bin/env node
// The tuning suite as one command: for every dataset x model, a search config (lr, batch sizes that give >= 50 steps
// an epoch on that dataset, embedding regularisation, dropout and the model's own knobs), run with
// `prerank tune --resume`; then, per dataset, an experiment with each model's default and tuned rows over model seeds x
// split seeds (`prerank experiment --resume`). Every step resumes, so the command can be re-run after a stop.
// `--dry-run` writes the configs and prints the plan and its budget without training. Build first (npm run build).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/cli/main.js');
const { loadData } = await import(join(root, 'dist/src/train/run.js'));
const { MODEL_CONFIGS } = await import(join(root, 'dist/src/models/registry.js'));
const { batchSizeForSteps } = await import(join(root, 'dist/src/train/small-epoch.js'));
const { epochBudget, rungEpochs } = await import(join(root, 'dist/src/train/tune/asha.js')).then(async (a) => ({ ...a, ...(await import(join(root, 'dist/src/train/tune/config.js'))) }));

const { values: o } = parseArgs({ options: {
  datasets: { type: 'string', default: 'ml-100k,ml-1m,ml-latest-small' },
  models: { type: 'string', default: 'lr,dssm,dcn,int-tower,rank-tower' },
  trials: { type: 'string', default: '30' },
  epochs: { type: 'string', default: '27' },
  parallel: { type: 'string', default: '2' },
  out: { type: 'string', default: 'runs/tune-suite' },
  results: { type: 'string', default: 'docs/results/tuned' },
  'dry-run': { type: 'boolean', default: false },
  'no-experiments': { type: 'boolean', default: false },
} });
const [trials, epochs, parallel] = [Number(o.trials), Number(o.epochs), Number(o.parallel)];
const EARLY = { metric: 'auc', patience: 3 };

/** A recipe name, or a path to a data config file. */
const dataRef = (d) => (d.endsWith('.json') || d.endsWith('.yaml') ? { config: join(root, d) } : { recipe: d });
const slug = (d) => d.replace(/^.*\//, '').replace(/\.(json|yaml)$/, '');
/** Does model `kind`'s config take `key` = v? */
const takes = (kind, key, v) => MODEL_CONFIGS[kind].safeParse({ [key]: v }).success;

function space(kind, trainRows) {
  const top = batchSizeForSteps(trainRows);
  const s = {
    'optimizer.lr': { log: [1e-4, 1e-2] },
    batchSize: { choice: [top / 8, top / 4, top / 2, top].filter((b) => b >= 16) },
    'model.config.l2Embedding': { log: [1e-7, 1e-3] },
  };
  if (takes(kind, 'dropout', 0.1)) s['model.config.dropout'] = { uniform: [0, 0.5] };
  if (takes(kind, 'temperature', 0.1)) s['model.config.temperature'] = { log: [0.05, 1] };
  if (takes(kind, 'cirWeight', 0.1)) s['model.config.cirWeight'] = { log: [0.01, 1] };
  return s;
}

function run(args) {
  console.log(`$ prerank ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const rungs = rungEpochs(1, 3, epochs);
const perSearch = epochBudget(trials, rungs, 3);
let sampleEpochs = 0;
const plan = [];
for (const d of o.datasets.split(',')) {
  const data = await loadData({ data: dataRef(d) });
  const rows = data.splitSize('train');
  const searches = o.models.split(',').map((kind) => {
    const dir = join(root, o.out, `${slug(d)}-${kind}`);
    const cfg = { name: `${kind} on ${data.name}`, base: { model: { kind }, data: dataRef(d), epochs, seed: 1, earlyStopping: EARLY },
      space: space(kind, rows), trials, seed: 1, parallel, asha: { minEpochs: 1, eta: 3 }, outDir: dir };
    const file = join(root, o.out, 'configs', `${slug(d)}-${kind}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`);
    sampleEpochs += perSearch * rows;
    return { kind, file, dir };
  });
  plan.push({ d, name: data.name, rows, searches });
  console.log(`${data.name}: ${rows} train rows; ${searches.length} searches of ${trials} trials, rungs ${rungs.join(', ')}: ` +
    `at most ${perSearch} trial-epochs each (${(perSearch * rows / 1e6).toFixed(1)}M training rows a search)`);
}
console.log(`in all: at most ${(sampleEpochs / 1e6).toFixed(1)}M training rows through the tuner, ${parallel} processes at a time; ` +
  `then ${plan.length} experiments of ${o.models.split(',').length * 2} entries x 3 model seeds x 3 split seeds`);
if (o['dry-run']) process.exit(0);

for (const p of plan) {
  for (const s of p.searches) run(['tune', '--config', s.file, '--resume']);
  if (o['no-experiments']) continue;
  const models = p.searches.flatMap((s) => {
    const best = JSON.parse(readFileSync(join(s.dir, 'best-train.json'), 'utf8'));
    const { model, data: _d, seed: _s, outDir: _o, splitSeed: _p, strategy: _t, ...train } = best;
    return [{ kind: s.kind }, { kind: s.kind, label: `${s.kind}-tuned`, config: model.config, train }];
  });
  const labels = new Set(models.map((m) => m.label ?? m.kind));
  const gaps = [['int-tower-tuned', 'dssm-tuned'], ['int-tower', 'dssm']].filter(([a, b]) => labels.has(a) && labels.has(b));
  const exp = { name: `Default and tuned models on ${p.name}`, data: dataRef(p.d), models, seeds: [1, 2, 3], splitSeeds: [1, 2, 3], gaps,
    train: { epochs, earlyStopping: EARLY }, base: labels.has('dssm') ? 'dssm' : models[0].kind, outDir: join(root, o.results, slug(p.d)) };
  const file = join(root, o.out, 'configs', `experiment-${slug(p.d)}.json`);
  writeFileSync(file, `${JSON.stringify(exp, null, 2)}\n`);
  run(['experiment', '--config', file, ...(existsSync(join(exp.outDir, 'results.json')) ? ['--resume'] : [])]);
}
