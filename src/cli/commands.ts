// Every `prerank` command by name, one line each; a command's options, help and validation come from its declaration
// (command.ts), loaded only when it runs.
import { engineInfo } from '../core/index.js';
import { defineCommand, type CommandGroup } from './command.js';

const info = defineCommand({
  name: 'prerank info',
  summary: 'Print the CPU, the SIMD path and the thread pool the engine uses (JSON).',
  options: {},
  examples: ['prerank info'],
  run: async () => console.log(JSON.stringify(engineInfo(), null, 2)),
});

export const PRERANK: CommandGroup = {
  name: 'prerank',
  summary: 'Pre-ranking for cascade recommenders: train, evaluate, export and serve two-tower and ranking models.',
  commands: {
    demo: { summary: 'train IntTower and DSSM on the embedded ml-latest-small, print their test metrics, export and serve', load: async () => (await import('./demo.js')).demoCommand },
    train: { summary: 'train a model from a train config, or online from an event stream (--online)', load: async () => (await import('./train.js')).trainCommand },
    eval: { summary: "evaluate a training run's best checkpoint on a split", load: async () => (await import('./train.js')).evalCommand },
    experiment: { summary: 'train models x seeds and write a results table, JSON and an HTML report', load: async () => (await import('./experiment.js')).experimentCommand },
    tune: { summary: 'search hyperparameters: random trials, successive halving on validation, test read once for the best', load: async () => (await import('./tune.js')).tuneCommand },
    export: { summary: 'write a serving bundle from a training run', load: async () => (await import('./export.js')).exportCommand },
    serve: { summary: 'serve a bundle (or a versioned bundle root) over HTTP', load: async () => (await import('./serve.js')).serveCommand },
    data: { summary: 'inspect a dataset (cardinality, OOV, label rates), print the data config schema, or write a synthetic log', load: async () => (await import('./data.js')).dataCommand },
    cascade: { summary: 'simulate a recall -> pre-rank -> rank cascade, train and evaluate a pre-ranker on it, or inspect one', load: async () => (await import('./cascade.js')).cascadeCommand },
    schema: { summary: 'print the JSON Schema of a config kind (data, train, experiment, cascade, online, models, strategies)', load: async () => (await import('./schema.js')).schemaGroup },
    info: { summary: 'print the CPU, the SIMD path and the thread pool the engine uses', load: () => info },
  },
  examples: ['prerank demo', 'prerank train --config configs/bench/train-ml-100k-dssm.json', 'prerank serve --help'],
  notes: 'Config files are JSON or YAML (.yaml, .yml); unknown keys are errors. Run `prerank --version` for the version.',
};

