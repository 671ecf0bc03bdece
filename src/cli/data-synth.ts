// `prerank data synth`: writes a synthetic interaction log (src/data/synth-log.ts) and reports rows/s and peak RSS.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { SYNTH_SIZES, writeSynthLog, type SynthProgress, type SynthSize } from '../data/synth-log.js';

export const SYNTH_USAGE = `  prerank data synth --out <dir> [--size S|M|L] [--events N] [--users U] [--items I] [--seed s] [--threads T]
                                                        a synthetic log (Parquet + config.json); sizes: ${
  Object.entries(SYNTH_SIZES).map(([k, v]) => `${k} ${v.events / 1e6}M events`).join(', ')}; flags override the size`;

export async function runSynth(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, size: { type: 'string' }, events: { type: 'string' },
    users: { type: 'string' }, items: { type: 'string' }, seed: { type: 'string' }, threads: { type: 'string' } } });
  if (!values.out) throw new Error(`give --out\n${SYNTH_USAGE}`);
  const size = (values.size ?? 'S').toUpperCase();
  if (!Object.hasOwn(SYNTH_SIZES, size)) throw new Error(`--size must be S, M or L, got '${values.size}'`);
  const base = SYNTH_SIZES[size as SynthSize];
  const int = (name: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const x = Number(v.replace(/_/g, ''));
    if (!Number.isSafeInteger(x)) throw new Error(`--${name} must be an integer, got '${v}'`);
    return x;
  };
  const threads = int('threads', values.threads, availableParallelism());
  const opts = { events: int('events', values.events, base.events), users: int('users', values.users, base.users),
    items: int('items', values.items, base.items), seed: int('seed', values.seed, 1), threads };
  console.log(`synth: ${opts.events} events, ${opts.users} users, ${opts.items} items, seed ${opts.seed}, ${threads} DuckDB threads`
    + ` (${cpus()[0]?.model ?? 'unknown CPU'})`);
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const onProgress = (p: SynthProgress): void => {
    const rate = p.seconds > 0 ? p.rows / p.seconds : 0;
    const line = `${p.file.padEnd(6)} ${p.rows.toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')} rows, ${p.seconds.toFixed(1)} s, ${fmtRate(rate)}`;
    if (p.done) {
      if (tty) process.stderr.write('\r\x1b[K');
      console.log(line);
    } else if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (p.seconds - lastLine >= 10) {
      lastLine = p.seconds;
      console.log(line);
    }
    if (p.done) lastLine = 0;
  };
  const r = await writeSynthLog(values.out, { ...opts, onProgress });
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  for (const f of r.files) console.log(`  ${f.file.padEnd(16)} ${mb(f.bytes)}`);
  console.log(`done in ${r.seconds.toFixed(1)} s (${fmtRate(opts.events / r.seconds)} events overall); peak RSS ${peakRss()}; config ${r.config}`);
}

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M rows/s` : `${(r / 1e3).toFixed(1)}k rows/s`;
}

/** VmHWM of this process (Linux), e.g. '812 MiB'; 'n/a' elsewhere. */
export function peakRss(): string {
  try {
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    return Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MiB` : 'n/a';
  } catch {
    return 'n/a';
  }
}
