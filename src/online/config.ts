// The online training config (`prerank train --online --config <file>`): where the initial model comes from, the
// event source, batching, checkpoint and publish cadence, and what to do with bad events. One zod schema, like the
// train and data configs; relative paths resolve against the config file.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { loadConfig, parseConfig } from '../util/config.js';

const DirSource = z.strictObject({
  kind: z.literal('dir'),
  path: z.string().describe('directory of *.csv / *.tsv / *.jsonl files, read in name order, appended to while running'),
  delimiter: z.string().optional().describe("csv field separator (default ',' for .csv, tab for .tsv)"),
});

const RedisSource = z.strictObject({
  kind: z.literal('redis'),
  url: z.string().describe('redis://host:port[/db]'),
  stream: z.string().describe('the stream key (XADD); each entry holds the event fields, or one field `json` with the event as JSON'),
  group: z.string().default('prerank-online'),
  consumer: z.string().default('trainer'),
  blockMs: z.number().int().min(0).default(200).describe('XREADGROUP BLOCK when nothing is pending'),
});

const Initial = z.union([
  z.strictObject({ run: z.string().describe('an offline training run directory (config.json + best/ or last/)') }),
  z.strictObject({
    train: z.string().describe('a train config: the initial model is trained offline on the first part of its data by time'),
    fraction: z.number().gt(0).lt(1).default(0.5).describe('the time prefix: this fraction of the rows (by timestamp)'),
    writeRestTo: z.string().optional().describe('write the remaining rows, in time order, as JSONL event files here (once, if the directory is empty): a replay stream'),
    filesOf: z.number().int().positive().default(50_000).describe('events per replay file'),
    offlineDir: z.string().optional().describe('where the offline model is trained (default outDir/offline); a second run (e.g. the static baseline) can share it'),
  }),
]);

export const OnlineConfigSchema = z.strictObject({
  /** The run's name in reports (default: the outDir's name). */
  label: z.string().optional(),
  initial: Initial,
  source: z.discriminatedUnion('kind', [DirSource, RedisSource]),
  /** Run directory: checkpoint/ (weights + optimizer + source offset, one atomic directory), prequential.jsonl, log.jsonl. */
  outDir: z.string(),
  batchSize: z.number().int().positive().default(256).describe('events per update (fewer when the source has fewer ready)'),
  stepsPerBatch: z.number().int().positive().default(1).describe('optimizer steps on each batch after it was scored'),
  updateHistories: z.boolean().default(false)
    .describe("true: each trained batch's positives join their users' history features (e.g. liked_movies); false: histories stay as fitted offline"),
  learn: z.boolean().default(true).describe('false: score the stream with the initial model and never train (the static baseline)'),
  compare: z.array(z.strictObject({ dir: z.string(), label: z.string().optional() })).default([])
    .describe("other online run directories drawn beside this one in report.html (e.g. the static baseline)"),
  optimizer: z.strictObject({ lr: z.number().positive() }).partial().default({}).describe("overrides of the train config's optimizer"),
  checkpoint: z.strictObject({
    everyUpdates: z.number().int().positive().default(50),
    everySeconds: z.number().positive().optional().describe('also checkpoint when this much time passed since the last one'),
  }).default({ everyUpdates: 50 }),
  publish: z.strictObject({
    dir: z.string().describe('bundle version root (src/export/versions.ts): versions/<n>/ + a pointer file'),
    everyUpdates: z.number().int().positive().default(200),
    everySeconds: z.number().positive().optional(),
  }).optional(),
  /** Timestamps may go backwards by at most this many seconds (late events); more is a bad event. */
  timeTolerance: z.number().min(0).default(0),
  onBadEvent: z.enum(['skip', 'stop']).default('skip').describe("'skip': count, log the first ones with file:line; 'stop': fail with file:line"),
  /** Stop when the source has nothing new for this long (replays, tests); absent: run until killed. */
  stopWhenIdleMs: z.number().int().min(0).optional(),
  pollMs: z.number().int().positive().default(200).describe('directory polling interval when no complete line is ready'),
  /** Stop after this many updates in this process (tests); the run can be continued. */
  maxUpdates: z.number().int().positive().optional(),
  quiet: z.boolean().default(false),
});

export type OnlineConfig = z.infer<typeof OnlineConfigSchema>;
export type OnlineConfigInput = z.input<typeof OnlineConfigSchema>;
export type SourceConfig = OnlineConfig['source'];

/** Validates an online config object; relative paths resolve against baseDir when given. */
export function parseOnlineConfig(input: unknown, baseDir?: string): OnlineConfig {
  const cfg = parseConfig(OnlineConfigSchema, input, 'online');
  if (baseDir) {
    const fix = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
    cfg.outDir = fix(cfg.outDir);
    if ('run' in cfg.initial) cfg.initial.run = fix(cfg.initial.run);
    else {
      cfg.initial.train = fix(cfg.initial.train);
      if (cfg.initial.writeRestTo) cfg.initial.writeRestTo = fix(cfg.initial.writeRestTo);
      if (cfg.initial.offlineDir) cfg.initial.offlineDir = fix(cfg.initial.offlineDir);
    }
    if (cfg.source.kind === 'dir') cfg.source.path = fix(cfg.source.path);
    if (cfg.publish) cfg.publish.dir = fix(cfg.publish.dir);
    for (const c of cfg.compare) c.dir = fix(c.dir);
  }
  return cfg;
}

/** Reads an online config file (JSON or YAML). */
export function loadOnlineConfig(path: string): OnlineConfig {
  return loadConfig(path, 'online config', parseOnlineConfig);
}
