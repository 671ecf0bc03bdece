// `prerank data <inspect|schema|synth>`: look at a dataset through its config, print the config's JSON schema, or
// write a synthetic log.
import { parseArgs } from 'node:util';
import { Dataset } from '../data/dataset.js';
import { formatInspect, inspectDataset } from '../data/inspect.js';
import { recipeConfig, recipeMissing, type RecipeName } from '../data/recipes.js';
import { dataConfigJsonSchema, loadDataConfig } from '../data/spec.js';
import { runSynth, SYNTH_USAGE } from './data-synth.js';

const USAGE = `usage:
  prerank data inspect --config <file.json> [--json]   cardinality, OOV rates, label rates, rows read/skipped
  prerank data inspect --recipe <ml-100k|ml-1m|ml-latest-small> [--dir <folder>] [--json]
  prerank data schema                                   the JSON schema of data config files
${SYNTH_USAGE}`;

export async function runData(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'schema') {
    console.log(JSON.stringify(dataConfigJsonSchema(), null, 2));
    return;
  }
  if (sub === 'synth') {
    await runSynth(rest);
    return;
  }
  if (sub !== 'inspect') {
    console.error(USAGE);
    process.exitCode = sub === undefined || sub === '--help' ? 0 : 2;
    return;
  }
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, recipe: { type: 'string' },
    dir: { type: 'string' }, json: { type: 'boolean' } } });
  let cfg;
  if (values.config) cfg = loadDataConfig(values.config);
  else if (values.recipe) {
    const name = values.recipe as RecipeName;
    if (!['ml-100k', 'ml-1m', 'ml-latest-small'].includes(name)) throw new Error(`unknown recipe '${name}'\n${USAGE}`);
    const missing = recipeMissing(name, values.dir);
    if (missing) throw new Error(missing);
    cfg = recipeConfig(name, values.dir);
  } else throw new Error(`give --config or --recipe\n${USAGE}`);
  const report = inspectDataset(await Dataset.load(cfg));
  console.log(values.json ? JSON.stringify(report, null, 2) : formatInspect(report));
}
