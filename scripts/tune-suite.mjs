#!/usr/bin/env node
// The tuning suite as one command: for every dataset x model, a search config (lr, batch sizes that give >= 50 steps
// an epoch on that dataset, embedding regularisation, dropout and the model's own knobs), run with
// `prerank tune --resume`; then, per dataset, an experiment with each model's default and tuned rows over model seeds x
// split seeds (`prerank experiment --resume`). Every step resumes, so the command can be re-run after a stop, here or
// on another machine from the committed results: a finished search's tables and best config are copied to
// <results>/<dataset>-searches/ (<model>.md, <model>-best-train.json), and a search whose best config is there is not
// run again; the experiment's config and results.json live in <results>/<dataset>/, which is all `--resume` needs.
// At the end (or alone, with `--summary`) it prints the verdict across the datasets' experiments as markdown: each
// model's default and tuned test AUC, and the targets (src/train/tune/suite-summary.ts).
// A default row is the model with every default (the batch size, lr, dropout, ... the schemas give); a tuned row is
// the search's best config, which is the defaults when no drawn trial beats them on validation (trial 0 of every search
// is the model's defaults; `--no-baseline` draws every trial instead). `--dry-run` writes the configs and prints the
// plan and its budget without training.
// Build first (npm run build). Paths are written relative to the repository root (the commands run there).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const cli = join(root, 'dist/src/cli/main.js');
const { loadData } = await import(join(root, 'dist/src/train/run.js'));
const { MODEL_CONFIGS } = await import(join(root, 'dist/src/models/registry.js'));
const { batchSizeForSteps } = await import(join(root, 'dist/src/train/small-epoch.js'));
const { epochBudget, rungEpochs } = await import(join(root, 'dist/src/train/tune/asha.js')).then(async (a) => ({ ...a, ...(await import(join(root, 'dist/src/train/tune/config.js'))) }));
const { suiteSummary } = await import(join(root, 'dist/src/train/tune/suite-summary.js'));

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
  'no-baseline': { type: 'boolean', default: false },
  summary: { type: 'boolean', default: false },
} });
const [trials, epochs, parallel] = [Number(o.trials), Number(o.epochs), Number(o.parallel)];
const EARLY = { metric: 'auc', patience: 3 };

/** A recipe name, or a path to a data config file. */
const dataRef = (d) => (d.endsWith('.json') || d.endsWith('.yaml') ? { config: resolve(d) } : { recipe: d });
/** The same for a config written in dir (a data config path relative to it, as configs resolve them). */
const dataRefIn = (d, dir) => (d.endsWith('.json') || d.endsWith('.yaml') ? { config: relative(resolve(dir), resolve(d)) } : { recipe: d });
/** A dataset's name in paths: the recipe, or the data config's file name (its folder's name for a config.json, as
 * `prerank data synth --out .synth/synth-s` writes). */
const slug = (d) => {
  const parts = d.replace(/\.(json|yaml)$/, '').split('/');
  return parts.length > 1 && parts.at(-1) === 'config' ? parts.at(-2) : parts.at(-1);
};
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

/** The verdict over every dataset whose experiment has results (in --datasets order). */
function printSummary() {
  const experiments = o.datasets.split(',').flatMap((d) => {
    const file = join(o.results, slug(d), 'results.json');
    if (!existsSync(file)) return [];
    const { experiment, runs } = JSON.parse(readFileSync(file, 'utf8'));
    return [{ name: slug(d), splitSeeds: experiment.splitSeeds ?? [undefined], runs }];
  });
  console.log(suiteSummary(experiments, o.models.split(',')).join('\n'));
}
if (o.summary) {
  printSummary();
  process.exit(0);
}

const rungs = rungEpochs(1, 3, epochs);
const perSearch = epochBudget(trials, rungs, 3);
let sampleEpochs = 0;
const plan = [];
for (const d of o.datasets.split(',')) {
  const data = await loadData({ data: dataRef(d) });
  const rows = data.splitSize('train');
  const searches = o.models.split(',').map((kind) => {
    const dir = join(o.out, `${slug(d)}-${kind}`);
    const kept = join(o.results, `${slug(d)}-searches`);
    const best = join(kept, `${kind}-best-train.json`);
    const cfg = { name: `${kind} on ${data.name}`, base: { model: { kind }, data: dataRef(d), epochs, seed: 1, earlyStopping: EARLY },
      space: space(kind, rows), trials, ...(o['no-baseline'] ? { baseline: false } : {}), seed: 1, parallel, asha: { minEpochs: 1, eta: 3 }, outDir: dir };
    const file = join(o.out, 'configs', `${slug(d)}-${kind}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`);
    const done = existsSync(best);
    if (!done) sampleEpochs += perSearch * rows;
    return { kind, file, dir, kept, best, done };
  });
  plan.push({ d, name: data.name, rows, searches });
  const todo = searches.filter((s) => !s.done);
  const kept = searches.filter((s) => s.done).map((s) => s.kind);
  console.log(`${data.name}: ${rows} train rows; ${todo.length} searches of ${trials} trials, rungs ${rungs.join(', ')}: ` +
    `at most ${perSearch} trial-epochs each (${(perSearch * rows / 1e6).toFixed(1)}M training rows a search)` +
    (kept.length ? `; done and kept in ${searches[0].kept}: ${kept.join(', ')}` : ''));
}
console.log(`in all: at most ${(sampleEpochs / 1e6).toFixed(1)}M training rows through the tuner, ${parallel} processes at a time; ` +
  `then ${plan.length} experiments of ${o.models.split(',').length * 2} entries x 3 model seeds x 3 split seeds`);
if (o['dry-run']) process.exit(0);

for (const p of plan) {
  for (const s of p.searches) {
    if (s.done) continue;
    run(['tune', '--config', s.file, '--resume']);
    // keep what the experiment and the docs need: the per-trial table and the chosen config
    mkdirSync(s.kept, { recursive: true });
    copyFileSync(join(s.dir, 'results.md'), join(s.kept, `${s.kind}.md`));
    // the kept config names a data config file relative to itself (as train configs resolve them), never absolutely
    const best = JSON.parse(readFileSync(join(s.dir, 'best-train.json'), 'utf8'));
    if (best.data?.config) best.data = { config: relative(resolve(s.kept), best.data.config) };
    writeFileSync(s.best, `${JSON.stringify(best, null, 2)}\n`);
    console.log(`kept ${join(s.kept, `${s.kind}.md`)} and ${s.best}`);
  }
  if (o['no-experiments']) continue;
  const models = p.searches.flatMap((s) => {
    const best = JSON.parse(readFileSync(s.best, 'utf8'));
    const { model, data: _d, seed: _s, outDir: _o, splitSeed: _p, strategy: _t, ...train } = best;
    return [{ kind: s.kind }, { kind: s.kind, label: `${s.kind}-tuned`, config: model.config, train }];
  });
  const labels = new Set(models.map((m) => m.label ?? m.kind));
  const gaps = [['int-tower-tuned', 'dssm-tuned'], ['int-tower', 'dssm']].filter(([a, b]) => labels.has(a) && labels.has(b));
  // default rows: no shared train settings, so each trains with the defaults (epochs, early stopping, batch size, lr)
  const outDir = join(o.results, slug(p.d));
  const exp = { name: `Default and tuned models on ${p.name}`, data: dataRefIn(p.d, outDir), models, seeds: [1, 2, 3], splitSeeds: [1, 2, 3], gaps,
    train: {}, base: labels.has('dssm') ? 'dssm' : models[0].kind, outDir };
  const file = join(outDir, 'experiment.json');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(exp, null, 2)}\n`);
  run(['experiment', '--config', file, ...(existsSync(join(outDir, 'results.json')) ? ['--resume'] : [])]);
}
printSummary();
