// The `prerank` command line, run as a child process: --help for every command, --version, and the exit codes
// (0 done, 1 the work failed, 2 a usage mistake, which prints a one-line error naming the flag and the usage).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '..', '..');
const CLI = join(REPO, 'dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'prerank-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const helps = new Map<string, { code: number | null; out: string; err: string }>();

function prerank(...args: string[]): { code: number | null; out: string; err: string } {
  const key = args.join('\0');
  if (args.at(-1) === '--help' && helps.has(key)) return helps.get(key)!;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PRERANK_ADMIN_TOKEN: '' } });
  const result = { code: r.status, out: r.stdout, err: r.stderr };
  if (args.at(-1) === '--help') helps.set(key, result);
  return result;
}

/** Every command as typed after `prerank`, with the options it declares ([] for a group). */
const COMMANDS: [string[], string[]][] = [
  [['demo'], ['epochs', 'out', 'no-serve', 'port']],
  [['train'], ['config', 'resume', 'out', 'online']],
  [['eval'], ['model', 'data']],
  [['experiment'], ['config', 'out', 'resume', 'seeds', 'epochs', 'cascade', 'logs', 'only']],
  [['tune'], ['config', 'resume', 'out', 'parallel', 'trials', 'epochs']],
  [['export'], ['model', 'bundle', 'out', 'items', 'format']],
  [['serve'], ['bundle', 'compare', 'watch', 'watch-poll-ms', 'store', 'port', 'host', 'ann', 'max-candidates', 'max-inflight', 'admin-token', 'no-admin', 'workers', 'bundle-root', 'log-level']],
  [['info'], []],
  [['data'], []],
  [['data', 'inspect'], ['config', 'recipe', 'dir', 'json']],
  [['data', 'schema'], []],
  [['data', 'synth'], ['out', 'size', 'events', 'users', 'items', 'seed', 'threads']],
  [['cascade'], []],
  [['cascade', 'build'], ['config', 'out', 'format']],
  [['cascade', 'train'], ['config', 'logs', 'resume']],
  [['cascade', 'inspect'], ['dir', 'json']],
  [['cascade', 'experiment'], ['config', 'out', 'resume', 'seeds', 'epochs', 'cascade', 'logs']],
  [['cascade', 'schema'], []],
  [['schema'], []],
  [['schema', 'train'], []],
];

test('prerank --help and -h list every command; no command is a usage mistake (exit 2)', () => {
  for (const flag of ['--help', '-h']) {
    const r = prerank(flag);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^usage: prerank <command>/);
    for (const [[name]] of COMMANDS) assert.match(r.out, new RegExp(`^  ${name} `, 'm'), name);
  }
  const none = prerank();
  assert.equal(none.code, 2);
  assert.match(none.err, /^prerank: missing command\n\nusage: prerank <command>/);
});

/** The help blocks of docs/CLI.md by command ('prerank data inspect' -> its --help text). */
function documentedHelp(): Map<string, string> {
  const page = readFileSync(join(REPO, 'docs/CLI.md'), 'utf8');
  return new Map([...page.matchAll(/```text\n\$ (prerank[^\n]*) --help\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]]));
}

test('docs/CLI.md holds the current --help of prerank and of every command (node scripts/cli-docs.mjs writes it)', () => {
  const documented = documentedHelp();
  const expected = [[], ...COMMANDS.map(([cmd]) => cmd).filter((c) => !(c[0] === 'schema' && c.length > 1))];
  assert.deepEqual([...documented.keys()].sort(), expected.map((c) => ['prerank', ...c].join(' ')).sort());
  for (const cmd of expected) {
    const name = ['prerank', ...cmd].join(' ');
    assert.equal(documented.get(name), prerank(...cmd, '--help').out, `${name}: docs/CLI.md is stale; run node scripts/cli-docs.mjs`);
  }
});

test('prerank --version prints the version of package.json', () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = prerank(flag);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${version}\n`);
  }
});

test('--help and -h of every command and sub-command: usage, every option with its default, an example; exit 0', () => {
  for (const [cmd, options] of COMMANDS) {
    const r = prerank(...cmd, '--help');
    assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.err}`);
    assert.match(r.out, new RegExp(`^usage: prerank ${cmd.join(' ')}`), cmd.join(' '));
    assert.match(r.out, /\nexamples:\n  prerank /, cmd.join(' '));
    // each option's entry (its lines up to the next option) ends with its default or "required"
    const entries = r.out.split(/\n(?=  -)/);
    for (const o of options) {
      const entry = entries.find((e) => e.startsWith(`  --${o} `) || e.startsWith(`  --${o}\n`));
      assert.ok(entry, `${cmd.join(' ')} --${o} is listed`);
      assert.match(entry!.replace(/\s+/g, ' '), /\[(.*; )?(default: [^\]]+|required)\]/, `${cmd.join(' ')} --${o}`);
    }
  }
  for (const cmd of [['train'], ['data'], ['data', 'inspect'], ['schema', 'model:dssm']]) {
    const h = prerank(...cmd, '-h');
    assert.equal(h.code, 0, cmd.join(' '));
    assert.equal(h.out, prerank(...cmd, '--help').out, `${cmd.join(' ')} -h`);
  }
});

/** `prerank ...args` run in this process: the usage mistake it makes (message and usage), or undefined. */
async function usageMistake(args: string[]): Promise<{ message: string; usage: string } | undefined> {
  const { PRERANK } = await import('../src/cli/commands.js');
  const { runCommand, UsageError } = await import('../src/cli/command.js');
  try {
    await runCommand(PRERANK, args, () => {});
  } catch (e) {
    if (e instanceof UsageError) return { message: e.message, usage: e.usage };
    throw e;
  }
  return undefined;
}

test('a misspelled flag exits 2 with a one-line error naming it, the closest flag, then the usage', async () => {
  for (const [cmd, options] of COMMANDS) {
    const o = options.find((x) => x.length > 3);
    if (!o) continue;
    const typo = `--${o.slice(0, -1)}`;
    const m = await usageMistake([...cmd, typo, 'x']);
    assert.equal(m?.message, `prerank ${cmd.join(' ')}: unknown option '${typo}'; did you mean --${o}?`);
    assert.match(m!.usage, new RegExp(`^usage: prerank ${cmd.join(' ')}`));
  }
  for (const cmd of [['train'], ['data', 'inspect']]) {
    const r = prerank(...cmd, '--confg', 'x');
    assert.equal(r.code, 2, `${cmd.join(' ')}: ${r.err}`);
    const [first, blank, usage] = r.err.split('\n');
    assert.equal(first, `prerank ${cmd.join(' ')}: unknown option '--confg'; did you mean --config?`);
    assert.equal(blank, '');
    assert.match(usage, new RegExp(`^usage: prerank ${cmd.join(' ')}`));
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
  assert.match((await usageMistake(['train', '--zzz']))!.message, /^prerank train: unknown option '--zzz'$/);
});

test('bad values are usage mistakes naming the flag and its range: --max-inflight abc cannot switch the limit off', async () => {
  const cases: [string[], RegExp][] = [
    [['serve', '--bundle', 'b', '--max-inflight', 'abc'], /^prerank serve: --max-inflight must be an integer from 1 to 1000000, got 'abc'$/],
    [['serve', '--bundle', 'b', '--max-inflight', '0'], /--max-inflight must be an integer from 1 to 1000000, got '0'/],
    [['serve', '--bundle', 'b', '--max-inflight', '2.5'], /--max-inflight must be an integer/],
    [['serve', '--bundle', 'b', '--max-candidates', '-1'], /--max-candidates must be an integer from 1 to 1000000, got '-1'/],
    [['serve', '--bundle', 'b', '--port', '70000'], /--port must be an integer from 0 to 65535, got '70000'/],
    [['serve', '--bundle', 'b', '--watch-poll-ms', '5'], /--watch-poll-ms must be an integer from 10 to 3600000, got '5'/],
    [['serve', '--bundle', 'b', '--ann', 'faiss'], /--ann must be one of usearch, brute-force, off, got 'faiss'/],
    [['serve', '--bundle', 'b', '--workers', '0'], /--workers must be an integer from 1 to 256, got '0'/],
    [['serve', '--bundle', 'b', '--no-admin', '--admin-token', 't'], /--no-admin and --admin-token contradict each other/],
    [['serve'], /^prerank serve: give --bundle <dir> or --watch <root>$/],
    [['serve', '--bundle'], /^prerank serve: --bundle needs a value <dir>$/],
    [['demo', '--epochs', '0'], /--epochs must be an integer from 1 to 1000, got '0'/],
    [['demo', '--port', '-1'], /--port must be an integer from 0 to 65535, got '-1'/],
    [['export', '--model', 'm', '--out', 'o', '--items', 'float64'], /--items must be one of float32, bfloat16, float16, int8, got 'float64'/],
    [['export', '--out', 'o'], /^prerank export: give --model <run dir> or --bundle <bundle dir>$/],
    [['export', '--model', 'm', '--bundle', 'b', '--format', 'onnx', '--out', 'o'], /^prerank export: give --model or --bundle, not both$/],
    [['export', '--bundle', 'b', '--out', 'o', '--items', 'int8'], /^prerank export: --items sets the item table of an export from --model; a copy of a bundle keeps its table$/],
    [['eval', '--model', 'm', '--data', 'tset'], /--data must be one of train, val, test, got 'tset'; did you mean 'test'\?/],
    [['train'], /^prerank train: --config is required$/],
    [['train', '--config', 'c.json', 'extra'], /^prerank train: unexpected argument 'extra'$/],
    [['train', '--config', 'c.json', '--resume=yes'], /--resume takes no value/],
    [['experiment', '--config', 'c.json', '--seeds', '1,x'], /--seeds must be an integer, got 'x'/],
    [['experiment', '--config', 'c.json', '--epochs', '0'], /--epochs must be an integer from 1 to 100000, got '0'/],
    [['cascade', 'experiment', '--config', 'c.json', '--cascade', 'a.json', '--logs', 'b'], /give --cascade or --logs, not both/],
    [['data', 'inspect'], /^prerank data inspect: give --config or --recipe/],
    [['data', 'inspect', '--recipe', 'ml-10m'], /--recipe must be one of ml-100k, ml-1m, ml-latest-small, got 'ml-10m'/],
    [['cascade', 'build', '--config', 'c.json', '--format', 'csv'], /--format must be one of jsonl, parquet, got 'csv'/],
  ];
  for (const [args, message] of cases) {
    const m = await usageMistake(args);
    assert.match(m?.message ?? '(none)', message, args.join(' '));
    assert.match(m!.usage, new RegExp(`^usage: prerank ${args[0]}`), args.join(' '));
  }
  for (const args of [['serve', '--bundle', 'b', '--max-inflight', 'abc'], ['serve', '--bundle', 'b', '--port', '70000'], ['train']]) {
    const r = prerank(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /^prerank \w+: --[a-z-]+ (must be|is required)[^\n]*\n\nusage: prerank /, args.join(' '));
  }
});

test('unknown commands and sub-commands exit 2 with the closest name and the list of commands', async () => {
  const cases: [string[], RegExp, string][] = [
    [['trian'], /^prerank: unknown command 'trian'; did you mean 'train'\?$/, 'prerank'],
    [['data', 'inspct'], /^prerank data: unknown command 'inspct'; did you mean 'inspect'\?$/, 'prerank data'],
    [['cascade', 'biuld'], /^prerank cascade: unknown command 'biuld'; did you mean 'build'\?$/, 'prerank cascade'],
    [['schema', 'dssm'], /^prerank schema: unknown command 'dssm'; did you mean 'model:dssm'\?$/, 'prerank schema'],
    [['data'], /^prerank data: missing command$/, 'prerank data'],
  ];
  for (const [args, message, group] of cases) {
    const m = await usageMistake(args);
    assert.match(m?.message ?? '(none)', message, args.join(' '));
    assert.ok(m!.usage.startsWith(`usage: ${group} <command>`), args.join(' '));
  }
  const r = prerank('data', 'inspct');
  assert.equal(r.code, 2);
  assert.match(r.err, /^prerank data: unknown command 'inspct'; did you mean 'inspect'\?\n\nusage: prerank data <command>[\s\S]*\n  inspect /);
});

test('a failed run exits 1 with the command and the reason: a misspelled config key names its path', () => {
  const missing = prerank('train', '--config', join(root, 'absent.json'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^prerank train: cannot read train config .*absent\.json/);
  const cfg = join(root, 'typo.yaml');
  writeFileSync(cfg, 'model: { kind: dssm }\ndata: { recipe: ml-latest-small }\nepoch: 2\n');
  const typo = prerank('train', '--config', cfg);
  assert.equal(typo.code, 1);
  assert.match(typo.err, /typo\.yaml: invalid train config:\n  train\.epoch: unknown key 'epoch'; did you mean 'epochs'\?/);
  assert.doesNotMatch(typo.err, /\n\s+at /, 'no stack trace');
});

test('prerank schema <kind> prints the JSON Schema of every config kind; data and cascade schema are aliases', async () => {
  const { CONFIG_SCHEMAS } = await import('../src/cli/schema.js');
  const kinds = Object.keys(CONFIG_SCHEMAS);
  for (const k of ['data', 'train', 'experiment', 'cascade', 'cascade-train', 'cascade-experiment', 'online', 'model:dssm', 'model:cs3', 'strategy:onebp']) {
    assert.ok(kinds.includes(k), k);
  }
  const printed: Record<string, string> = {};
  for (const kind of kinds) {
    const r = prerank('schema', kind);
    assert.equal(r.code, 0, `${kind}: ${r.err}`);
    const schema = JSON.parse(r.out) as { type?: string; additionalProperties?: unknown };
    assert.equal(schema.type, 'object', kind);
    assert.equal(schema.additionalProperties, false, `${kind}: unknown keys are not allowed`);
    printed[kind] = r.out;
  }
  assert.equal(prerank('data', 'schema').out, printed.data);
  assert.equal(prerank('cascade', 'schema').out, printed.cascade);
});

test('parseOptions: types, defaults, lists and the first mistake', async () => {
  const { defineCommand, parseOptions, UsageError } = await import('../src/cli/command.js');
  const c = defineCommand({
    name: 'prerank t', summary: 's', examples: [], run: async () => {},
    options: {
      n: { type: 'int', default: 3, min: 1, max: 9, description: 'n' }, x: { type: 'number', description: 'x' },
      ids: { type: 'list', of: 'int', description: 'ids' }, s: { type: 'string', choices: ['a', 'b'], default: 'a', description: 's' },
      flag: { type: 'boolean', description: 'f' },
    },
  });
  assert.deepEqual(parseOptions(c, []), { n: 3, s: 'a', flag: false });
  assert.deepEqual(parseOptions(c, ['--n=4', '--x', '-0.5', '--ids', '1, 2,3', '--s', 'b', '--flag']), { n: 4, x: -0.5, ids: [1, 2, 3], s: 'b', flag: true });
  for (const [argv, message] of [[['--n', '10'], /--n must be an integer from 1 to 9, got '10'/], [['--n', ''], /--n must be an integer/],
    [['--x', '1e999'], /--x must be a number/], [['--x', '0x10'], /--x must be a number/], [['--ids', ','], /--ids needs a comma-separated list/],
    [['--n', '--flag'], /--n needs a value/], [['-q'], /unknown option '-q'/]] as const) {
    assert.throws(() => parseOptions(c, [...argv]), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
  }
});
