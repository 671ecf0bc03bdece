// `prerank cascade build|train|inspect|schema`: simulate a cascade over real logs and write it; look at a written one.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cascadeConfigJsonSchema, loadCascadeConfig } from '../cascade/config.js';
import { loadCascadeExperiment, runCascadeExperiment } from '../cascade/experiment.js';
import { formatCascadeInspect, inspectCascade } from '../cascade/inspect.js';
import { formatCascadeTrain, loadCascadeTrainConfig, runCascadeTrain } from '../cascade/run.js';
import { simulateCascade } from '../cascade/simulate.js';
import { writeCascade } from '../cascade/writer.js';

const USAGE = `usage:
  prerank cascade build --config <file.json> [--out <dir>] [--format jsonl|parquet]
      simulate the cascade; <dir>/logs holds samples, requests and manifest.json, <dir>/models the stage models
  prerank cascade inspect --dir <dir> [--json]   per-split, per-stage counts and label mix of a build
  prerank cascade train --config <file.json> [--logs <build dir>]
      train a two-tower pre-ranker (pointwise | hybrid) on a cascade's training requests, read from the files of a
      build (config "logs" or --logs) or built in memory (config "cascade"); validation on the latest training
      requests, early stopping, <out>/best|last checkpoints and <out>/log.jsonl; evaluate the best epoch and the
      logged production pre-ranker on the evaluation requests; table + <out>/eval.json
  prerank cascade experiment --config <file.json> [--seeds 1,2] [--epochs N] [--cascade <cascade config>] [--logs <dir>] [--out <dir>] [--resume]
      (= prerank experiment with a "type": "cascade" config) rows x seeds trained and evaluated on one cascade;
      results.md, results.json, report.html in outDir; the flags override the file (smoke runs); --resume keeps the
      runs already in outDir/results.json (same config) and trains the rest
  prerank cascade schema                         the JSON schema of cascade config files`;

/** `cascade experiment` (also reached from `prerank experiment`); `prefix` is the command as typed, for the record. */
export async function runCascadeExperimentCommand(argv: string[], prefix = 'prerank cascade experiment'): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, out: { type: 'string' }, seeds: { type: 'string' },
    epochs: { type: 'string' }, cascade: { type: 'string' }, logs: { type: 'string' }, resume: { type: 'boolean' } } });
  if (!values.config) throw new Error(`give --config\n${USAGE}`);
  const { exp, cascade } = loadCascadeExperiment(values.config);
  let cascadeCfg = cascade;
  if (values.seeds) {
    const seeds = values.seeds.split(',').map(Number);
    if (!seeds.length || seeds.some((x) => !Number.isInteger(x))) throw new Error(`--seeds: '${values.seeds}' is not a comma-separated list of integers`);
    exp.seeds = seeds;
  }
  if (values.epochs) {
    const n = Number(values.epochs);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--epochs: '${values.epochs}' is not a positive integer`);
    exp.train.epochs = n;
    for (const r of exp.rows) if (r.epochs !== undefined) r.epochs = n;
  }
  if (values.cascade && values.logs) throw new Error('give --cascade or --logs, not both');
  if (values.cascade) {
    cascadeCfg = loadCascadeConfig(values.cascade);
    exp.logs = undefined;
  }
  if (values.logs) {
    exp.logs = resolve(values.logs);
    cascadeCfg = null;
  }
  if (values.out) exp.outDir = resolve(values.out);
  if (values.cascade || values.logs || values.seeds || values.epochs) exp.name += ' (overridden on the command line: not the configured run)';
  const command = [prefix, '--config', values.config, ...(['seeds', 'epochs', 'cascade', 'logs', 'out'] as const)
    .flatMap((k) => (values[k] ? [`--${k}`, values[k]!] : []))].join(' ');
  await runCascadeExperiment(exp, cascadeCfg, command, { log: (m) => console.error(m), resume: values.resume });
  console.log(`wrote ${join(exp.outDir, 'results.md')}, results.json, report.html`);
}

export async function runCascade(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'schema') {
    console.log(JSON.stringify(cascadeConfigJsonSchema(), null, 2));
    return;
  }
  if (sub === 'build') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, out: { type: 'string' },
      format: { type: 'string' } } });
    if (!values.config) throw new Error(`give --config\n${USAGE}`);
    const cfg = loadCascadeConfig(values.config);
    if (values.out) cfg.output.dir = values.out;
    if (values.format) {
      if (values.format !== 'jsonl' && values.format !== 'parquet') throw new Error(`--format must be jsonl or parquet, got '${values.format}'`);
      cfg.output.format = values.format;
    }
    const log = (m: string): void => console.error(`[cascade] ${m}`);
    const r = await simulateCascade(cfg, { modelDir: join(cfg.output.dir, 'models'), log });
    const logDir = join(cfg.output.dir, 'logs');
    await writeCascade(r, logDir, cfg.output.format);
    console.log(formatCascadeInspect(await inspectCascade(logDir)));
    return;
  }
  if (sub === 'train') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, logs: { type: 'string' } } });
    if (!values.config) throw new Error(`give --config\n${USAGE}`);
    const { cfg, cascade } = loadCascadeTrainConfig(values.config);
    if (values.logs) cfg.logs = resolve(values.logs);
    const r = await runCascadeTrain(cfg, cascade, { log: (m) => console.error(`[cascade train] ${m}`) });
    console.log(formatCascadeTrain(r));
    console.error(`[cascade train] wrote ${join(cfg.out, 'eval.json')}`);
    return;
  }
  if (sub === 'experiment') {
    await runCascadeExperimentCommand(rest);
    return;
  }
  if (sub === 'inspect') {
    const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' }, json: { type: 'boolean' } } });
    if (!values.dir) throw new Error(`give --dir\n${USAGE}`);
    const x = await inspectCascade(values.dir);
    console.log(values.json ? JSON.stringify(x, null, 2) : formatCascadeInspect(x));
    return;
  }
  console.error(USAGE);
  process.exitCode = sub === undefined || sub === '--help' ? 0 : 2;
}
