// `prerank schema <kind>`: the JSON Schema of every config kind, generated from the zod schemas that validate them.
import { z } from 'zod';
import { CascadeConfigSchema } from '../cascade/config.js';
import { CascadeExperimentSchema } from '../cascade/experiment.js';
import { CascadeTrainConfigSchema } from '../cascade/run.js';
import { DataConfigSchema } from '../data/spec.js';
import { MODEL_CONFIGS } from '../models/registry.js';
import { OnlineConfigSchema } from '../online/config.js';
import { TrainConfigSchema } from '../train/config.js';
import { ExperimentSchema } from '../train/experiment.js';
import { TuneConfigSchema } from '../train/tune/config.js';
import { STRATEGY_CONFIGS } from '../train/strategies/registry.js';
import { defineCommand, type Command, type CommandGroup } from './command.js';

/** Every config kind: its schema and what it configures. Models and strategies: `model:<kind>`, `strategy:<kind>`. */
export const CONFIG_SCHEMAS: Record<string, { summary: string; schema: z.ZodType }> = {
  data: { summary: 'a data config: sources, keys, label, features, split (prerank data inspect; a train config\'s data.config)', schema: DataConfigSchema },
  train: { summary: 'a train config: model, data, optimizer, epochs, early stopping (prerank train)', schema: TrainConfigSchema },
  experiment: { summary: 'an experiment: models x seeds on one dataset (prerank experiment)', schema: ExperimentSchema },
  tune: { summary: 'a hyperparameter search: base train config, search space, trials, successive halving (prerank tune)', schema: TuneConfigSchema },
  cascade: { summary: 'a cascade simulation: periods, requests, stages, stage models, labels (prerank cascade build)', schema: CascadeConfigSchema },
  'cascade-train': { summary: 'a pre-ranker trained on a cascade (prerank cascade train)', schema: CascadeTrainConfigSchema },
  'cascade-experiment': { summary: 'rows x seeds on one cascade (prerank experiment with "type": "cascade")', schema: CascadeExperimentSchema },
  online: { summary: 'online training from an event stream (prerank train --online)', schema: OnlineConfigSchema },
  ...Object.fromEntries(Object.entries(MODEL_CONFIGS).map(([k, schema]) => [`model:${k}`, { summary: `the config of model '${k}' (model.config)`, schema }])),
  ...Object.fromEntries(Object.entries(STRATEGY_CONFIGS).map(([k, schema]) => [`strategy:${k}`, { summary: `the config of training strategy '${k}' (strategy.config)`, schema }])),
};

/** The JSON Schema of a config kind (input side: defaults shown, fields with defaults optional). */
export function configJsonSchema(kind: string): unknown {
  return z.toJSONSchema(CONFIG_SCHEMAS[kind].schema, { io: 'input', unrepresentable: 'any' });
}

/** The command printing one kind's schema (`name`: as typed, e.g. the `prerank data schema` alias). */
export function schemaCommand(kind: string, name = `prerank schema ${kind}`): Command<{}> {
  return defineCommand({
    name,
    summary: `Print the JSON Schema of ${CONFIG_SCHEMAS[kind].summary}.`,
    options: {},
    examples: [`${name} > ${kind.replace(':', '-')}.schema.json`],
    async run() {
      console.log(JSON.stringify(configJsonSchema(kind), null, 2));
    },
  });
}

export const schemaGroup: CommandGroup = {
  name: 'prerank schema',
  summary: 'Print the JSON Schema of a config kind (config files may be JSON or YAML; unknown keys are errors).',
  commands: Object.fromEntries(Object.entries(CONFIG_SCHEMAS).map(([k, s]) => [k, { summary: s.summary, load: () => schemaCommand(k) }])),
  examples: ['prerank schema train', 'prerank schema model:int-tower', 'prerank schema strategy:onebp'],
  uniform: true,
};
