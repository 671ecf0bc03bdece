// `prerank data <inspect|schema|synth>`: look at a dataset through its config, print the config's JSON schema, or
// write a synthetic log of any size.
// Each sub-command is one entry of `dataCommand.commands`.
import { Dataset } from '../data/dataset.js';
import { CachedDataset } from '../data/cached-dataset.js';
import { formatInspect, inspectDataset } from '../data/inspect.js';
import { RECIPES, recipeConfig, recipeMissing } from '../data/recipes.js';
import { loadDataConfig } from '../data/spec.js';
import { defineCommand, UsageError, type CommandGroup } from './command.js';
import { schemaCommand } from './schema.js';

const inspect = defineCommand({
  name: 'prerank data inspect',
  summary: 'Load a dataset through its data config (JSON or YAML) or a built-in recipe and print its cardinalities, OOV '
    + 'rates, label rates and the rows read and skipped.',
  usage: ['prerank data inspect --config <file> [--json]', 'prerank data inspect --recipe <name> [--dir <folder>] [--json]'],
  options: {
    config: { type: 'string', value: 'file', description: 'a data config (`prerank schema data`); give this or --recipe' },
    recipe: { type: 'string', choices: RECIPES, description: 'a built-in MovieLens recipe instead of a config' },
    dir: { type: 'string', value: 'folder', defaultText: 'data/ml-latest-small for ml-latest-small, else ../shared/data/<recipe> ($PRERANK_SHARED_DATA/<recipe>)', description: 'where the recipe\'s files are' },
    json: { type: 'boolean', description: 'print JSON instead of a table' },
  },
  examples: ['prerank data inspect --config configs/data/ml-100k.json', 'prerank data inspect --recipe ml-latest-small --json'],
  async run(o) {
    if ((o.config === undefined) === (o.recipe === undefined)) throw new UsageError('give --config or --recipe (one of them)');
    let cfg;
    if (o.config !== undefined) cfg = loadDataConfig(o.config);
    else {
      const missing = recipeMissing(o.recipe!, o.dir);
      if (missing) throw new Error(missing);
      cfg = recipeConfig(o.recipe!, o.dir);
    }
    const ds = cfg.cache ? await CachedDataset.open(cfg, { log: (l) => console.error(l) }) : await Dataset.load(cfg);
    const report = inspectDataset(ds);
    console.log(o.json ? JSON.stringify(report, null, 2) : formatInspect(report));
  },
});

export const dataCommand: CommandGroup = {
  name: 'prerank data',
  summary: 'Inspect a dataset through its config, print the data config schema, or write a synthetic log.',
  commands: {
    inspect: { summary: 'cardinality, OOV rates, label rates, rows read/skipped', load: () => inspect },
    schema: { summary: 'print the JSON schema of data config files (= prerank schema data)', load: () => schemaCommand('data', 'prerank data schema') },
    synth: { summary: 'write a synthetic log (Parquet) of any size, S/M/L = 1M/10M/100M events, and its config', load: async () => (await import('./data-synth.js')).synthCommand },
  },
  examples: ['prerank data inspect --config configs/data/ml-100k.json', 'prerank data schema', 'prerank data synth --size S --out .synth/S'],
};
