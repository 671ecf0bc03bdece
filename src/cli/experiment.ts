// `prerank experiment --config <file>`: models x seeds -> results.md, results.json, report.html in the config's outDir.
// --resume keeps the recorded runs; --only a,b trains only those entries (shards of one experiment may run at once,
// each with its own labels, in several processes: results.json is merged on every write).
// A config with "type": "cascade" is a cascade experiment (src/cascade/experiment.ts; RankTower Tables 1-4), which
// also takes --seeds 1,2 / --epochs N / --cascade <cascade config> / --logs <build dir> overrides for smoke runs.
import { parseArgs } from 'node:util';
import { isCascadeExperiment } from '../cascade/experiment.js';
import { loadExperiment, runExperiment } from '../train/experiment.js';
import { runCascadeExperimentCommand } from './cascade.js';
import { readConfigFile } from '../util/config.js';

const OPTIONS = { config: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, only: { type: 'string' } } as const;

export async function runExperimentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: false, options: OPTIONS });
  if (typeof values.config !== 'string') throw new Error('usage: prerank experiment --config <file> [--out <dir>] [--resume] [--only label,label]');
  let json: unknown;
  try {
    json = readConfigFile(values.config);
  } catch (err) {
    throw new Error(`cannot read experiment config ${values.config}: ${(err as Error).message}`);
  }
  if (isCascadeExperiment(json)) {
    await runCascadeExperimentCommand(argv, 'prerank experiment');
    return;
  }
  parseArgs({ args: argv, options: OPTIONS });
  const exp = loadExperiment(values.config);
  if (typeof values.out === 'string') exp.outDir = values.out;
  await runExperiment(exp, `prerank experiment --config ${values.config}${values.out ? ` --out ${values.out}` : ''}`, console.log, {
    resume: values.resume === true,
    only: typeof values.only === 'string' ? values.only.split(',').map((l) => l.trim()).filter((l) => l.length > 0) : undefined,
  });
  console.log(`wrote ${exp.outDir}/results.md, results.json, report.html`);
}
