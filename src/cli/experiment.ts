// `prerank experiment --config <file>`: models x seeds -> results.md, results.json, report.html in the config's outDir.
import { parseArgs } from 'node:util';
import { loadExperiment, runExperiment } from '../train/experiment.js';

export async function runExperimentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, out: { type: 'string' } } });
  if (!values.config) throw new Error('usage: prerank experiment --config <file> [--out <dir>]');
  const exp = loadExperiment(values.config);
  if (values.out) exp.outDir = values.out;
  await runExperiment(exp, `prerank experiment --config ${values.config}${values.out ? ` --out ${values.out}` : ''}`);
  console.log(`wrote ${exp.outDir}/results.md, results.json, report.html`);
}
