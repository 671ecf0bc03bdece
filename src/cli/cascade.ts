// `prerank cascade build|train|inspect|experiment|schema`: simulate a cascade over real logs and write it; train and
// evaluate a pre-ranker on one; look at a written one.
import { join, resolve } from 'node:path';
import { loadCascadeConfig } from '../cascade/config.js';
import { loadCascadeExperiment, runCascadeExperiment } from '../cascade/experiment.js';
import { formatCascadeInspect, inspectCascade } from '../cascade/inspect.js';
import { formatCascadeTrain, loadCascadeTrainConfig, runCascadeTrain } from '../cascade/run.js';
import { simulateCascade } from '../cascade/simulate.js';
import { writeCascade } from '../cascade/writer.js';
import { defineCommand, UsageError, type CommandGroup, type OptionValues } from './command.js';
import { schemaCommand } from './schema.js';

const build = defineCommand({
  name: 'prerank cascade build',
  summary: 'Simulate the cascade of a cascade config (JSON or YAML): <dir>/logs holds samples, requests and manifest.json, '
    + '<dir>/models the stage models; prints the per-split, per-stage counts.',
  options: {
    config: { type: 'string', required: true, value: 'file', description: 'a cascade config (`prerank schema cascade`)' },
    out: { type: 'string', value: 'dir', defaultText: "the config's output.dir", description: 'output directory' },
    format: { type: 'string', choices: ['jsonl', 'parquet'], defaultText: "the config's output.format", description: 'file format of the logs' },
  },
  examples: ['prerank cascade build --config configs/cascade/ml-100k.json --out runs/cascade-ml-100k'],
  async run(o) {
    const cfg = loadCascadeConfig(o.config);
    if (o.out !== undefined) cfg.output.dir = o.out;
    if (o.format !== undefined) cfg.output.format = o.format;
    const log = (m: string): void => console.error(`[cascade] ${m}`);
    const r = await simulateCascade(cfg, { modelDir: join(cfg.output.dir, 'models'), log });
    const logDir = join(cfg.output.dir, 'logs');
    await writeCascade(r, logDir, cfg.output.format);
    console.log(formatCascadeInspect(await inspectCascade(logDir)));
  },
});

const train = defineCommand({
  name: 'prerank cascade train',
  summary: "Train a two-tower pre-ranker (pointwise | hybrid | listwise) on a cascade's training requests, read from the files "
    + 'of a build (config "logs" or --logs) or built in memory (config "cascade"); validation on the latest training '
    + 'requests, early stopping, <out>/best|last checkpoints and <out>/log.jsonl; evaluates the best epoch and the logged '
    + 'production pre-ranker on the evaluation requests and writes a table and <out>/eval.json.',
  options: {
    config: { type: 'string', required: true, value: 'file', description: 'a cascade train config (`prerank schema cascade-train`)' },
    logs: { type: 'string', value: 'build dir', defaultText: "the config's logs or cascade", description: 'read the cascade from this `prerank cascade build` directory' },
    resume: { type: 'boolean', description: "continue from <out>/last: the epochs it recorded are kept, training goes on from the next one" },
  },
  examples: ['prerank cascade train --config configs/cascade/train-ml-latest-small-dssm-hybrid.json --logs runs/cascade-ml-latest-small'],
  async run(o) {
    const { cfg, cascade } = loadCascadeTrainConfig(o.config);
    if (o.logs !== undefined) cfg.logs = resolve(o.logs);
    const r = await runCascadeTrain(cfg, cascade, { resume: o.resume, log: (m) => console.error(`[cascade train] ${m}`) });
    console.log(formatCascadeTrain(r));
    console.error(`[cascade train] wrote ${join(cfg.out, 'eval.json')}`);
  },
});

const inspect = defineCommand({
  name: 'prerank cascade inspect',
  summary: 'Per-split, per-stage counts and label mix of a cascade build.',
  options: {
    dir: { type: 'string', required: true, value: 'dir', description: 'a `prerank cascade build` directory (or its logs/)' },
    json: { type: 'boolean', description: 'print JSON instead of a table' },
  },
  examples: ['prerank cascade inspect --dir runs/cascade-ml-100k', 'prerank cascade inspect --dir runs/cascade-ml-100k --json'],
  async run(o) {
    const x = await inspectCascade(o.dir);
    console.log(o.json ? JSON.stringify(x, null, 2) : formatCascadeInspect(x));
  },
});

/** The options of a cascade experiment (also those of `prerank experiment`, which runs cascade experiments too). */
export const CASCADE_EXPERIMENT_OPTIONS = {
  config: { type: 'string', required: true, value: 'file', description: 'an experiment config (`prerank schema experiment` or `prerank schema cascade-experiment`)' },
  out: { type: 'string', value: 'dir', defaultText: "the config's outDir", description: 'where results.md, results.json and report.html go' },
  resume: { type: 'boolean', description: 'keep the runs already recorded in outDir/results.json (same config, or the same with entries added) and train the rest; in a model experiment a run killed part-way continues from its last checkpoint when its config.json is unchanged' },
  seeds: { type: 'list', of: 'int', value: 'n,...', defaultText: "the config's seeds", description: 'override the seeds (a smoke run, marked as overridden)' },
  epochs: { type: 'int', min: 1, max: 100_000, defaultText: "the config's epochs", description: 'override every row\'s epochs (a smoke run)' },
  cascade: { type: 'string', value: 'file', defaultText: "the config's cascade", description: 'build this cascade config in memory instead' },
  logs: { type: 'string', value: 'build dir', defaultText: "the config's logs", description: 'read this `prerank cascade build` directory instead' },
} as const;

type CascadeExperimentValues = OptionValues<typeof CASCADE_EXPERIMENT_OPTIONS>;

/** `cascade experiment` (also reached from `prerank experiment`); `prefix` is the command as typed, for the record. */
export async function runCascadeExperimentCommand(o: CascadeExperimentValues, prefix = 'prerank cascade experiment'): Promise<void> {
  if (o.cascade !== undefined && o.logs !== undefined) throw new UsageError('give --cascade or --logs, not both');
  const { exp, cascade } = loadCascadeExperiment(o.config);
  let cascadeCfg = cascade;
  if (o.seeds !== undefined) exp.seeds = o.seeds;
  if (o.epochs !== undefined) {
    exp.train.epochs = o.epochs;
    for (const r of exp.rows) if (r.epochs !== undefined) r.epochs = o.epochs;
  }
  if (o.cascade !== undefined) {
    cascadeCfg = loadCascadeConfig(o.cascade);
    exp.logs = undefined;
  }
  if (o.logs !== undefined) {
    exp.logs = resolve(o.logs);
    cascadeCfg = null;
  }
  if (o.out !== undefined) exp.outDir = resolve(o.out);
  if (o.cascade || o.logs || o.seeds || o.epochs) exp.name += ' (overridden on the command line: not the configured run)';
  const command = [prefix, '--config', o.config, ...(['seeds', 'epochs', 'cascade', 'logs', 'out'] as const)
    .flatMap((k) => (o[k] !== undefined ? [`--${k}`, Array.isArray(o[k]) ? o[k].join(',') : String(o[k])] : []))].join(' ');
  await runCascadeExperiment(exp, cascadeCfg, command, { log: (m) => console.error(m), resume: o.resume });
  console.log(`wrote ${join(exp.outDir, 'results.md')}, results.json, report.html`);
}

const experiment = defineCommand({
  name: 'prerank cascade experiment',
  summary: 'Rows x seeds trained and evaluated on one cascade (RankTower Tables 1-4): results.md, results.json and '
    + 'report.html in outDir. Same as `prerank experiment` with a "type": "cascade" config; the flags override the file for smoke runs.',
  options: CASCADE_EXPERIMENT_OPTIONS,
  examples: [
    'prerank cascade experiment --config configs/cascade/experiments/table1-ml-100k.json',
    'prerank cascade experiment --config configs/cascade/experiments/table1-ml-100k.json --seeds 1 --epochs 2 --out runs/smoke',
  ],
  run: (o) => runCascadeExperimentCommand(o),
});

export const cascadeCommand: CommandGroup = {
  name: 'prerank cascade',
  summary: 'Simulate a recall -> pre-rank -> rank cascade over real logs, train and evaluate a pre-ranker on it, or inspect one.',
  commands: {
    build: { summary: 'simulate a cascade config and write its logs and stage models', load: () => build },
    train: { summary: "train and evaluate a two-tower pre-ranker on a cascade's requests", load: () => train },
    inspect: { summary: 'per-split, per-stage counts and label mix of a build', load: () => inspect },
    experiment: { summary: 'rows x seeds on one cascade: results table, JSON and HTML report', load: () => experiment },
    schema: { summary: 'print the JSON schema of cascade config files (= prerank schema cascade)', load: () => schemaCommand('cascade', 'prerank cascade schema') },
  },
  examples: ['prerank cascade build --config configs/cascade/ml-100k.json', 'prerank cascade build --help'],
};
