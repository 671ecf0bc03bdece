// `prerank tune --config <search.json|yaml> [--resume] [--out <dir>] [--parallel n]`: random search with
// asynchronous successive halving over train config keys; results.md/json, report.html, best-train.json and
// best-experiment.json in the search's outDir.
import { loadTuneConfig, parseTuneConfig } from '../train/tune/config.js';
import { processRunner } from '../train/tune/process-runner.js';
import { metricsText, writeResults } from '../train/tune/results.js';
import { runSearch } from '../train/tune/search.js';
import { defineCommand } from './command.js';

export const tuneCommand = defineCommand({
  name: 'prerank tune',
  summary: 'Search hyperparameters (any train, model or strategy key) with random trials and asynchronous successive halving '
    + 'on the validation metric, several trials at once in separate processes; trial 0 is the base config as it is, unless the config '
    + 'sets baseline: false. The test split is read once, for the best trial. '
    + 'Writes results.md, results.json, report.html, best-train.json and best-experiment.json in the search\'s outDir.',
  options: {
    config: { type: 'string', required: true, value: 'file', description: 'a search config (`prerank schema tune`; docs/TUNING.md)' },
    resume: { type: 'boolean', description: 'continue the search recorded in the outDir (finished trials and rungs are kept)' },
    out: { type: 'string', value: 'dir', defaultText: "the config's outDir", description: 'where the trials and results go' },
    parallel: { type: 'int', min: 1, value: 'n', defaultText: "the config's parallel", description: 'trials trained at once, one process each' },
    trials: { type: 'int', min: 1, value: 'n', defaultText: "the config's trials", description: 'configurations drawn (more with --resume widens a search)' },
    epochs: { type: 'int', min: 1, value: 'n', defaultText: "the base's epochs", description: 'the most epochs a trial trains (the last rung): a smaller budget for a smoke run' },
  },
  examples: [
    'prerank tune --config configs/tune/ml-100k-dssm.yaml',
    'prerank tune --config configs/tune/ml-100k-dssm.yaml --resume --parallel 2',
    'prerank tune --config configs/tune/ml-100k-int-tower.yaml --trials 4 --epochs 3 --out runs/tune-smoke',
  ],
  notes: 'Trial runs go to <outDir>/trials/trial-NNN; the search state, rewritten after every result, is <outDir>/tune.json '
    + 'and every event is in <outDir>/trials.jsonl.',
  async run(o) {
    const read = loadTuneConfig(o.config);
    const cfg = parseTuneConfig({ ...read, outDir: o.out ?? read.outDir, parallel: o.parallel ?? read.parallel, trials: o.trials ?? read.trials,
      base: o.epochs === undefined ? read.base : { ...read.base, epochs: o.epochs } });
    const command = ['prerank tune --config', o.config, ...(['out', 'trials', 'epochs'] as const).flatMap((k) => (o[k] === undefined ? [] : [`--${k}`, String(o[k])]))].join(' ');
    const outcome = await runSearch(cfg, processRunner(cfg.parallel), { resume: o.resume, log: (l) => console.log(l) });
    writeResults(cfg, outcome, command);
    console.log(`best: trial ${outcome.best.id} ${outcome.best.baseline ? '(the base config)' : JSON.stringify(outcome.best.values)}; val ${outcome.state.metric} ` +
      `${outcome.best.rungs[Math.max(...Object.keys(outcome.best.rungs).map(Number))].toFixed(5)}; ` +
      `test ${metricsText(outcome.test)}`);
    console.log(`wrote ${cfg.outDir}/results.md, results.json, report.html, best-train.json, best-experiment.json`);
  },
});
