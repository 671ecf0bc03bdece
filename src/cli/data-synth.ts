// `prerank data synth`: writes a synthetic interaction log (src/data/synth-log.ts) and reports rows/s and peak RSS.
import { cpus } from 'node:os';
import { duckdbThreads } from '../data/duck-db.js';
import { SYNTH_SIZES, writeSynthLog, type SynthProgress, type SynthSize } from '../data/synth-log.js';
import { DEFAULT_SYNTH_PARAMS, MAX_EXPOSURE_CANDIDATES, type SynthParams } from '../data/synth-sql.js';
import { peakRssMiB } from '../util/proc.js';
import { defineCommand, UsageError } from './command.js';

const SIZES = Object.keys(SYNTH_SIZES) as SynthSize[];
/** The hidden model's parameters --param sets (the exposure ones have their own flags). */
const TUNABLE = Object.keys(DEFAULT_SYNTH_PARAMS).filter((k) => !k.startsWith('exposure')) as (keyof SynthParams)[];

/** --param name=value,... as parameters; an unknown name or a value that is not a finite number is a UsageError. */
export function parseSynthParams(items: readonly string[]): Partial<SynthParams> {
  const out: Partial<SynthParams> = {};
  for (const item of items) {
    const [name, raw, ...rest] = item.split('=');
    if (!TUNABLE.includes(name as keyof SynthParams)) throw new UsageError(`--param: unknown parameter '${name}' (one of ${TUNABLE.join(', ')})`);
    const value = Number(raw);
    if (rest.length || raw === undefined || raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--param ${name}: expected ${name}=<number>, got '${item}'`);
    out[name as keyof SynthParams] = value;
  }
  return out;
}
const count = (n: number): string => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
const sizeList = Object.entries(SYNTH_SIZES)
  .map(([k, v]) => `${k} = ${count(v.events)} events, ${count(v.users)} users, ${count(v.items)} items`).join('; ');

export const synthCommand = defineCommand({
  name: 'prerank data synth',
  summary: 'Write a synthetic interaction log with the statistics of real data (long-tailed users and items, a daily '
    + 'cycle, user and item features, clicks from a hidden model) as Parquet files, plus the data config that reads them.',
  options: {
    out: { type: 'string', required: true, value: 'dir', description: 'the folder to write (replaced atomically)' },
    size: { type: 'string', choices: SIZES, default: 'S', description: `a named size: ${sizeList}` },
    events: { type: 'int', min: 1, value: 'n', defaultText: "the size's", description: 'number of events' },
    users: { type: 'int', min: 1, value: 'n', defaultText: "the size's", description: 'number of users' },
    items: { type: 'int', min: 1, value: 'n', defaultText: "the size's", description: 'number of items' },
    seed: { type: 'int', min: 0, default: 1, description: 'the seed; the files are the same bytes for a seed and DuckDB version' },
    threads: { type: 'int', min: 1, value: 'n', defaultText: 'PRERANK_DUCKDB_THREADS or the core count', description: 'DuckDB threads (the files do not depend on it)' },
    'exposure-candidates': { type: 'int', min: 1, max: MAX_EXPOSURE_CANDIDATES, default: DEFAULT_SYNTH_PARAMS.exposureCandidates,
      description: 'popularity draws an event picks its item from by the user\'s interests (1: exposure by popularity alone)' },
    'exposure-weight': { type: 'number', default: DEFAULT_SYNTH_PARAMS.exposureWeight,
      description: 'how sharply that pick follows the interests (softmax weight on a cosine)' },
    param: { type: 'list', of: 'string', value: 'name=value,...', defaultText: 'the defaults in synth.json',
      description: `other parameters of the hidden model (docs/DATA.md): ${TUNABLE.join(', ')}` },
  },
  examples: ['prerank data synth --out .synth/S', 'prerank data synth --size M --out .synth/M',
    'prerank data synth --exposure-candidates 16 --out .synth/S-interest',
    'prerank data synth --param factorWeight=0,featureWeight=0,userBias=0,itemBias=0 --out .synth/S-facets',
    'prerank data synth --events 200000 --users 40000 --items 20000 --out .synth/200k'],
  notes: 'The folder gets events.parquet, users.parquet, items.parquet, config.json (a data config: '
    + '`prerank data inspect --config <dir>/config.json`, or data.config of a train config) and synth.json (counts, '
    + 'seed, model parameters, DuckDB version). docs/DATA.md describes the hidden model.',
  async run(o) {
    const base = SYNTH_SIZES[o.size];
    const threads = duckdbThreads(o.threads);
    const set = parseSynthParams(o.param ?? []);
    const params = { ...set, exposureCandidates: o['exposure-candidates'], exposureWeight: o['exposure-weight'] };
    const opts = { events: o.events ?? base.events, users: o.users ?? base.users, items: o.items ?? base.items, seed: o.seed, threads, params };
    const exposure = params.exposureCandidates === 1 ? 'exposure by popularity'
      : `exposure by interest (${params.exposureCandidates} candidates, weight ${params.exposureWeight})`;
    const setText = Object.entries(set).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`synth: ${opts.events} events, ${opts.users} users, ${opts.items} items, seed ${opts.seed}, ${exposure}, ${setText ? `${setText}, ` : ''}`
      + `${threads} DuckDB threads (${cpus()[0]?.model ?? 'unknown CPU'})`);
    const r = await writeSynthLog(o.out, { ...opts, onProgress: progressPrinter() });
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    for (const f of r.files) console.log(`  ${f.file.padEnd(16)} ${mib(f.bytes)}`);
    const peak = peakRssMiB();
    console.log(`done in ${r.seconds.toFixed(1)} s (${fmtRate(opts.events / r.seconds)} events overall); peak RSS `
      + `${peak === null ? 'n/a' : `${peak.toFixed(0)} MiB`}; config ${r.config}`);
  },
});

/** Progress on one rewritten line on a TTY, a line every 10 s otherwise, and each file's last line always. */
function progressPrinter(): (p: SynthProgress) => void {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  return (p) => {
    const rate = p.seconds > 0 ? p.rows / p.seconds : 0;
    const line = `${p.file.padEnd(6)} ${p.rows.toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')} rows, ${p.seconds.toFixed(1)} s, ${fmtRate(rate)}`;
    if (p.done) {
      if (tty) process.stderr.write('\r\x1b[K');
      console.log(line);
      lastLine = 0;
    } else if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (p.seconds - lastLine >= 10) {
      lastLine = p.seconds;
      console.log(line);
    }
  };
}

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M rows/s` : `${(r / 1e3).toFixed(1)}k rows/s`;
}
