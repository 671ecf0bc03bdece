// `prerank experiment --config <file>`: models x seeds -> results.md, results.json, report.html in the config's outDir.
// --resume keeps the recorded runs; --only a,b trains only those entries (shards of one experiment may run at once,
// each with its own labels, in several processes: results.json is merged on every write).
// A config with "type": "cascade" is a cascade experiment (src/cascade/experiment.ts; RankTower Tables 1-4), which
// also takes --seeds 1,2 / --epochs N / --cascade <cascade config> / --logs <build dir> overrides for smoke runs.
import { loadExperiment, runExperiment } from '../train/experiment.js';
import { openRunIndex } from '../serve/run-index.js';
import { nativeScan } from '../serve/compiled.js';
import { isCascadeExperiment } from '../cascade/experiment.js';
import { readConfigFile } from '../util/config.js';
import { CASCADE_EXPERIMENT_OPTIONS, runCascadeExperimentCommand } from './cascade.js';
import { defineCommand, UsageError } from './command.js';

export const experimentCommand = defineCommand({
  name: 'prerank experiment',
  summary: 'Train the models x seeds of an experiment config (JSON or YAML) on one dataset and write results.md (mean ± std, '
    + 'RelaImpr), results.json and report.html in its outDir. A config with "type": "cascade" is a cascade experiment '
    + '(same as `prerank cascade experiment`).',
  options: {
    ...CASCADE_EXPERIMENT_OPTIONS,
    only: { type: 'list', of: 'string', value: 'label,...', defaultText: 'every entry',
      description: 'train only these entries (labels); shards of one experiment may run at once in several processes' },
  },
  examples: [
    'prerank experiment --config configs/experiments/ml-100k.json',
    'prerank experiment --config configs/experiments/ml-100k.json --only dssm,int-tower --resume',
    'prerank experiment --config configs/cascade/experiments/table1-ml-100k.json --seeds 1 --epochs 2 --out runs/smoke',
  ],
  notes: '--seeds, --epochs, --cascade and --logs apply to cascade experiments only; --only to the others.',
  async run(o) {
    let json: unknown;
    try {
      json = readConfigFile(o.config);
    } catch (err) {
      throw new Error(`cannot read experiment config ${o.config}: ${(err as Error).message}`);
    }
    if (isCascadeExperiment(json)) {
      if (o.only) throw new UsageError('--only applies to experiments that are not cascade experiments');
      await runCascadeExperimentCommand(o, 'prerank experiment');
      return;
    }
    for (const k of ['seeds', 'epochs', 'cascade', 'logs'] as const) {
      if (o[k] !== undefined) throw new UsageError(`--${k} applies to cascade experiments only ("type": "cascade")`);
    }
    const exp = loadExperiment(o.config);
    if (o.out !== undefined) exp.outDir = o.out;
    await runExperiment(exp, `prerank experiment --config ${o.config}${o.out ? ` --out ${o.out}` : ''}`, console.log, { resume: o.resume, only: o.only, openIndex: openRunIndex, scan: nativeScan });
    console.log(`wrote ${exp.outDir}/results.md, results.json, report.html`);
  },
});
