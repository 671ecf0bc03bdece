// Commands declare their options once (name, type, default, range, description); parsing, validation and --help
// all come from that declaration. A group (`prerank data`, `prerank cascade`) holds sub-commands, each a command.
// Bad input is a UsageError: main.ts prints its one-line message, then the command's usage, and exits 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../util/suggest.js';

interface Common {
  description: string;
  /** The default as the help shows it, when it is not a plain value (e.g. "the config's outDir"). */
  defaultText?: string;
}
export type OptionSpec = Common & (
  | { type: 'boolean' }
  | { type: 'string'; default?: string; required?: boolean; choices?: readonly string[]; value?: string }
  | { type: 'int' | 'number'; default?: number; required?: boolean; min?: number; max?: number; value?: string }
  | { type: 'list'; of: 'string' | 'int'; default?: readonly (string | number)[]; required?: boolean; min?: number; value?: string }
);
export type Options = Record<string, OptionSpec>;

type Present<S> = S extends { default: unknown } | { required: true } ? true : false;
type ValueOf<S extends OptionSpec> =
  S extends { type: 'boolean' } ? boolean
  : S extends { type: 'int' | 'number' } ? number
  : S extends { type: 'list'; of: 'int' } ? number[]
  : S extends { type: 'list' } ? string[]
  : S extends { choices: readonly (infer C)[] } ? C
  : string;
/** Parsed option values: booleans always, options with a default or required always, others possibly undefined. */
export type OptionValues<O extends Options> = {
  [K in keyof O]: O[K] extends { type: 'boolean' } ? boolean : Present<O[K]> extends true ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

export interface Command<O extends Options = Options> {
  /** The command as typed, e.g. 'prerank train'. */
  name: string;
  summary: string;
  /** Synopsis lines after "usage:"; default: the name, the required options, then [options]. */
  usage?: string[];
  options: O;
  examples: string[];
  /** Paragraphs shown after the options. */
  notes?: string;
  run(values: OptionValues<O>): Promise<void>;
}

export interface CommandGroup {
  name: string;
  summary: string;
  commands: Record<string, { summary: string; load: () => Promise<Command<any> | CommandGroup> | Command<any> | CommandGroup }>;
  examples: string[];
  notes?: string;
  /** The sub-commands are one command for different kinds (`prerank schema <kind>`): documented by the group's help alone. */
  uniform?: boolean;
}

export function defineCommand<const O extends Options>(c: Command<O>): Command<O> {
  return c;
}

/** A mistake on the command line; `usage` is filled in with the command's by `runCommand` when left empty. */
export class UsageError extends Error {
  constructor(message: string, public usage = '') {
    super(message);
  }
}

const HELP = new Set(['--help', '-h']);
const flag = (name: string): string => `--${name}`;

/** Choices short enough to show in the placeholder itself (`<a|b|c>`). */
const inlineChoices = (o: OptionSpec): boolean => o.type === 'string' && !!o.choices && !o.value && o.choices.join('|').length <= 32;

function placeholder(name: string, o: OptionSpec): string {
  if (o.type === 'boolean') return '';
  if (o.value) return ` <${o.value}>`;
  if (o.type === 'string' && o.choices) return inlineChoices(o) ? ` <${o.choices.join('|')}>` : ' <value>';
  if (o.type === 'list') return o.of === 'int' ? ' <n,n,...>' : ' <a,b,...>';
  return o.type === 'int' || o.type === 'number' ? ' <n>' : ` <${name}>`;
}

function rangeText(o: OptionSpec): string {
  if (o.type !== 'int' && o.type !== 'number') return '';
  const kind = o.type === 'int' ? 'an integer' : 'a number';
  if (o.min !== undefined && o.max !== undefined) return `${kind} from ${o.min} to ${o.max}`;
  if (o.min !== undefined) return `${kind} >= ${o.min}`;
  if (o.max !== undefined) return `${kind} <= ${o.max}`;
  return kind;
}

function defaultText(o: OptionSpec): string | undefined {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.type === 'boolean') return 'false';
  if ('required' in o && o.required) return undefined;
  if ('default' in o && o.default !== undefined) return Array.isArray(o.default) ? o.default.join(',') : String(o.default);
  return 'none';
}

/** Fills `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

function synopsis(c: Command<any>): string[] {
  if (c.usage) return c.usage;
  const required = Object.entries(c.options as Options).filter(([, o]) => 'required' in o && o.required).map(([n, o]) => `${flag(n)}${placeholder(n, o)}`);
  return [[c.name, ...required, '[options]'].join(' ')];
}

export function usageOf(c: Command<any> | CommandGroup): string {
  const lines = 'commands' in c ? [`${c.name} <command> [options]`] : synopsis(c);
  return `usage: ${lines.join('\n       ')}`;
}

const WIDTH = 100;

/** Two columns: left entries padded to a common width, right text wrapped beside them. */
function table(rows: [string, string][]): string[] {
  const left = Math.min(26, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.flatMap(([l, r]) => {
    const body = wrap(r, Math.max(40, WIDTH - left - 2));
    const first = l.length + 2 > left ? [`  ${l}`, `  ${' '.repeat(left)}${body[0]}`] : [`  ${l.padEnd(left)}${body[0]}`];
    return [...first, ...body.slice(1).map((b) => `  ${' '.repeat(left)}${b}`)];
  });
}

const section = (title: string, lines: string[]): string => (lines.length ? `\n\n${title}:\n${lines.join('\n')}` : '');

export function formatHelp(c: Command<any> | CommandGroup): string {
  const head = `${usageOf(c)}\n\n${wrap(c.summary, WIDTH).join('\n')}`;
  const examples = section('examples', c.examples.map((e) => `  ${e}`));
  const notes = c.notes ? `\n\n${c.notes}` : '';
  if ('commands' in c) {
    const cmds = table(Object.entries(c.commands).map(([n, s]) => [n, s.summary]));
    return `${head}${section('commands', cmds)}\n\nRun '${c.name} <command> --help' for a command's options.${examples}${notes}`;
  }
  const rows: [string, string][] = Object.entries(c.options as Options).map(([n, o]) => {
    const facts = [rangeText(o), o.type === 'string' && o.choices && !inlineChoices(o) ? `one of ${o.choices.join(', ')}` : '',
      'required' in o && o.required ? 'required' : `default: ${defaultText(o)}`].filter(Boolean).join('; ');
    return [`${flag(n)}${placeholder(n, o)}`, `${o.description} [${facts}]`];
  });
  rows.push(['-h, --help', 'print this help and exit']);
  return `${head}${section('options', table(rows))}${examples}${notes}`;
}

function parseNumber(name: string, o: OptionSpec & { type: 'int' | 'number' }, raw: string): number {
  const x = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(raw) ? Number(raw) : NaN;
  const ok = Number.isFinite(x) && (o.type === 'number' || Number.isInteger(x)) && (o.min === undefined || x >= o.min) && (o.max === undefined || x <= o.max);
  if (!ok) throw new UsageError(`${flag(name)} must be ${rangeText(o)}, got '${raw}'`);
  return x;
}

function parseValue(name: string, o: OptionSpec, raw: string): unknown {
  switch (o.type) {
    case 'int':
    case 'number':
      return parseNumber(name, o, raw);
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      if (items.length === 0) throw new UsageError(`${flag(name)} needs a comma-separated list, got '${raw}'`);
      return o.of === 'int' ? items.map((s) => parseNumber(name, { type: 'int', min: o.min, description: '' }, s)) : items;
    }
    case 'string':
      if (o.choices && !o.choices.includes(raw)) throw new UsageError(`${flag(name)} must be one of ${o.choices.join(', ')}, got '${raw}'${didYouMean(raw, o.choices)}`);
      return raw;
    default:
      return raw;
  }
}

/** Parses argv against the options; throws UsageError naming the flag at the first mistake. */
export function parseOptions<O extends Options>(c: Command<O>, argv: string[]): OptionValues<O> {
  const options = c.options as Options;
  const known = Object.keys(options);
  const { tokens } = parseArgs({
    args: argv, strict: false, tokens: true, allowPositionals: true,
    options: Object.fromEntries(known.map((n) => [n, { type: options[n].type === 'boolean' ? 'boolean' : 'string' }])) as ParseArgsConfig['options'],
  });
  const out: Record<string, unknown> = {};
  for (const t of tokens) {
    if (t.kind === 'positional') throw new UsageError(`unexpected argument '${t.value}'`);
    if (t.kind !== 'option') continue;
    const o = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (!o || !t.rawName.startsWith('--')) {
      throw new UsageError(`unknown option '${t.rawName}'${didYouMean(t.name, known, flag)}`);
    }
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value, got '${t.value}'`);
      out[t.name] = true;
      continue;
    }
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--') && Object.hasOwn(options, t.value.slice(2).split('=')[0]))) {
      throw new UsageError(`${t.rawName} needs a value${placeholder(t.name, o)}`);
    }
    out[t.name] = parseValue(t.name, o, t.value);
  }
  for (const [n, o] of Object.entries(options)) {
    if (out[n] !== undefined) continue;
    if (o.type === 'boolean') out[n] = false;
    else if ('required' in o && o.required) throw new UsageError(`${flag(n)} is required`);
    else if ('default' in o && o.default !== undefined) out[n] = Array.isArray(o.default) ? [...o.default] : o.default;
  }
  return out as OptionValues<O>;
}

/** Runs a command or a group's sub-command with argv: --help/-h prints help (exit 0); mistakes throw UsageError. */
export async function runCommand(c: Command<any> | CommandGroup, argv: string[], out: (s: string) => void = console.log): Promise<void> {
  if ('commands' in c) {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError(`${c.name}: missing command`, formatHelp(c));
    if (HELP.has(sub)) return out(formatHelp(c));
    const names = Object.keys(c.commands);
    if (!Object.hasOwn(c.commands, sub)) {
      const suffix = names.find((n) => n.split(':').pop() === sub);
      const hint = suffix ? `; did you mean '${suffix}'?` : didYouMean(sub, names);
      throw new UsageError(`${c.name}: unknown command '${sub}'${hint}`, formatHelp(c));
    }
    return runCommand(await c.commands[sub].load(), rest, out);
  }
  if (argv.some((a) => HELP.has(a))) return out(formatHelp(c));
  try {
    return await c.run(parseOptions(c, argv));
  } catch (e) {
    if (e instanceof UsageError && !e.usage) {
      e.message = `${c.name}: ${e.message}`;
      e.usage = usageOf(c) + `\nRun '${c.name} --help' for the options.`;
    } else if (e instanceof Error && !failedIn.has(e)) failedIn.set(e, c.name);
    throw e;
  }
}

const failedIn = new WeakMap<Error, string>();

/** The command whose run threw `e` (e.g. 'prerank train'), if it came from one. */
export function commandOf(e: unknown): string | undefined {
  return e instanceof Error ? failedIn.get(e) : undefined;
}
