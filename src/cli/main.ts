#!/usr/bin/env node
// The `prerank` command. Each sub-command lives in its own module and registers here in one line.
import { engineInfo } from '../core/index.js';
import { own } from '../util/own.js';

type Command = { summary: string; run: (args: string[]) => Promise<void> };

const COMMANDS: Record<string, Command> = {
  demo: {
    summary: 'train IntTower and DSSM on the embedded ml-latest-small and print their test metrics',
    run: async (args) => (await import('./demo.js')).runDemo(args),
  },
  train: {
    summary: 'train a model: --config <file> [--resume] [--out <dir>]; online from an event stream: --online --config <file>',
    run: async (args) => (await import('./train.js')).runTrain(args),
  },
  eval: {
    summary: 'evaluate a trained run: --model <run dir> [--data train|val|test]',
    run: async (args) => (await import('./train.js')).runEval(args),
  },
  experiment: {
    summary: 'train models x seeds and write a results table, JSON and an HTML report: --config <file>',
    run: async (args) => (await import('./experiment.js')).runExperimentCommand(args),
  },
  info: {
    summary: 'print the CPU, the SIMD path and the thread pool the engine uses',
    run: async () => console.log(JSON.stringify(engineInfo(), null, 2)),
  },
  data: { summary: 'inspect a dataset (cardinality, OOV, label rates) or print the data config schema', run: async (args) => (await import('./data.js')).runData(args) },
  export: { summary: 'write a serving bundle from a training run: --model <run dir> --out <dir> [--items float32|bfloat16|float16|int8]', run: async (args) => (await import('./export.js')).runExport(args) },
  cascade: { summary: 'simulate a recall -> pre-rank -> rank cascade over real logs, train a pre-ranker on one and evaluate it, or inspect one: build --config <file> | train --config <file> | inspect --dir <dir>', run: async (args) => (await import('./cascade.js')).runCascade(args) },
  serve: { summary: 'serve a bundle over HTTP: --bundle <dir> or --watch <versions root> [--store memory|redis://...] [--port 8080] (--help: admin routes, token, bundle root)', run: async (args) => (await import('./serve.js')).runServe(args) },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`);
  return `usage: prerank <command> [options]\n\ncommands:\n${lines.join('\n')}`;
}

const [name, ...rest] = process.argv.slice(2);
const cmd = name ? own(COMMANDS, name) : undefined;
if (!cmd) {
  console.error(name && name !== '--help' ? `prerank: unknown command '${name}'\n\n${usage()}` : usage());
  process.exit(name === '--help' ? 0 : 2);
}
try {
  await cmd.run(rest);
} catch (err) {
  console.error(`prerank ${name}: ${(err as Error).message}`);
  process.exit(1);
}
