// The data config's schema, types and cross-reference checks, without file access (pages load it too, with a
// bundle's encoders); parseDataConfig and loadDataConfig, which resolve the config's paths, are in spec.ts.
import { z } from 'zod';
import { ConfigError } from '../util/config-parse.js';

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'feature names are identifiers')
  .refine((n) => !(n in Object.prototype), 'a feature name may not be an Object.prototype member (e.g. constructor)');
const Source = z.enum(['user', 'item', 'context']);
const Pooling = z.enum(['mean', 'sum', 'max']);
const ScalerKind = z.enum(['minmax', 'standard', 'log1p', 'none']);

export const TableSchema = z.strictObject({
  path: z.string().describe('file path; a relative path resolves against the config file'),
  format: z.enum(['csv', 'tsv', 'jsonl', 'parquet']).optional().describe('default: from the extension (.gz stripped)'),
  delimiter: z.string().optional().describe("field separator for csv, e.g. '|' or '::' (tsv: tab)"),
  header: z.boolean().default(true).describe('csv/tsv: the first line names the columns'),
  columns: z.array(z.string()).optional().describe('column names in file order, for files without a header'),
  encoding: z.enum(['utf-8', 'latin-1']).default('utf-8'),
  quote: z.string().optional().describe("csv quote character; '' disables quoting (default '\"')"),
  key: z.string().optional().describe('users/items tables: the column joined to keys.user / keys.item'),
});

export const ListSourceSchema = TableSchema.extend({
  side: z.enum(['user', 'item']),
  key: z.string().describe('column holding the user or item key'),
  column: z.string().describe('column whose values are collected per key'),
  as: name.describe('name of the resulting list column on the user/item table'),
  lowercase: z.boolean().default(false),
});

const SparseSchema = z.strictObject({
  kind: z.literal('sparse'), name, source: Source,
  column: z.string().optional().describe('default: the feature name'),
  minFreq: z.number().int().min(1).default(1).describe('values seen fewer times in train map to OOV'),
  maxSize: z.number().int().min(0).optional().describe('keep the most frequent values (reserved ids not counted)'),
  hashBuckets: z.number().int().min(1).optional()
    .describe('values outside the vocabulary hash into this many ids instead of OOV (maxSize then defaults to 0)'),
  shareWith: name.optional().describe('use the vocabulary and embedding table of this feature'),
  dim: z.number().int().min(1).optional().describe('embedding dimension hint'),
});

const DenseSchema = z.strictObject({
  kind: z.literal('dense'), name, source: Source,
  column: z.string().optional(),
  scaler: ScalerKind.default('standard'),
  fillNaN: z.union([z.enum(['mean', 'zero']), z.number()]).default('mean').describe('missing values, fit on train'),
});

const SequenceSchema = z.strictObject({
  kind: z.literal('sequence'), name, source: Source,
  column: z.string().optional().describe('a text column split by `separator`, or a list column'),
  separator: z.string().default('|'),
  flagColumns: z.array(z.string()).optional().describe('0/1 columns; each set flag adds its column name'),
  pooling: Pooling.default('mean'),
  maxLen: z.number().int().min(1).default(8),
  minFreq: z.number().int().min(1).default(1),
  maxSize: z.number().int().min(0).optional(),
  hashBuckets: z.number().int().min(1).optional(),
  shareWith: name.optional(),
  dim: z.number().int().min(1).optional(),
});

export const FeatureSchema = z.discriminatedUnion('kind', [SparseSchema, DenseSchema, SequenceSchema]);

const StatSchema = z.strictObject({
  kind: z.literal('stat'), name,
  source: z.enum(['user', 'item']),
  stat: z.enum(['meanLabel', 'mean', 'count']),
  column: z.string().optional().describe("stat 'mean': the numeric interaction column averaged (e.g. rating)"),
  prior: z.number().min(0).default(0).describe('pseudo-count pulling means towards the global train mean'),
  scaler: ScalerKind.default('standard'),
});

const HistorySchema = z.strictObject({
  kind: z.literal('history'), name,
  source: z.literal('user').default('user'),
  shareWith: name.describe('the item-id feature whose vocabulary and table the history uses'),
  maxLen: z.number().int().min(1).default(20),
  pooling: Pooling.default('mean'),
  causal: z.boolean().optional().describe('only events strictly before the row; default: true when keys.time is set'),
});

export const DerivedSchema = z.discriminatedUnion('kind', [StatSchema, HistorySchema]);

export const LabelSchema = z.strictObject({
  column: z.string().optional().describe('absent: every interaction is a positive (implicit feedback)'),
  rule: z.strictObject({ op: z.enum(['>', '>=', '<', '<=', '==', '!=']), value: z.number() }).optional()
    .describe('label = 1 where `column op value`, else 0; absent: the column value itself'),
  drop: z.array(z.number()).default([]).describe('rows whose label column equals one of these are removed'),
});

export const SplitSchema = z.strictObject({
  method: z.enum(['random', 'temporal', 'leave-last-out', 'column']).default('random'),
  val: z.number().min(0).max(1).default(0.1).describe('fraction of rows (random) or of each user (temporal)'),
  test: z.number().min(0).max(1).default(0.2),
  column: z.string().optional().describe("method 'column': a column holding train | val | test"),
});

export const FilterSchema = z.strictObject({
  minUserInteractions: z.number().int().min(1).default(1).describe('remove the rows of users with fewer kept rows than this'),
  minItemInteractions: z.number().int().min(1).default(1).describe('remove the rows of items with fewer kept rows than this'),
  repeat: z.boolean().default(false)
    .describe('apply both minimums again until they hold together (a k-core); default: once, users and items counted on the same rows'),
});

export const DataConfigSchema = z.strictObject({
  name: z.string().describe('dataset name used in every report'),
  seed: z.number().int().default(42),
  onBadRow: z.enum(['error', 'skip']).default('error'),
  sources: z.strictObject({
    interactions: TableSchema,
    users: TableSchema.optional(),
    items: TableSchema.optional(),
    lists: z.array(ListSourceSchema).default([]),
  }),
  keys: z.strictObject({
    user: z.string().describe('interaction column with the user key'),
    item: z.string().describe('interaction column with the item key'),
    time: z.string().optional().describe('interaction column with a numeric timestamp'),
  }),
  label: LabelSchema.default({ drop: [] }),
  weight: z.strictObject({ column: z.string() }).optional(),
  filter: FilterSchema.optional()
    .describe('keep only users and items with enough interactions (counted over all rows label.drop keeps, before the split)'),
  features: z.array(FeatureSchema).min(1),
  derived: z.array(DerivedSchema).default([]),
  split: SplitSchema.default({ method: 'random', val: 0.1, test: 0.2 }),
  duckdb: z.strictObject({
    threads: z.number().int().min(1).optional().describe('default: PRERANK_DUCKDB_THREADS, else the core count'),
    memoryLimit: z.string().optional().describe("DuckDB's memory_limit, e.g. '4GB' (default: PRERANK_DUCKDB_MEMORY, else 2.5GB when building a cache)"),
  }).optional().describe('DuckDB settings for reading and encoding; they do not change the encoded data'),
  cache: z.strictObject({
    dir: z.string().optional().describe('where encoded caches go (default: .prerank-cache beside the interactions file)'),
    chunkRows: z.number().int().min(1024).default(65536).describe('rows per read of the cache (batches shuffle across 4 chunks)'),
  }).optional().describe('out-of-core: encode once into an on-disk columnar cache and read batches from it in chunks'),
});

export type DataConfig = z.infer<typeof DataConfigSchema>;
export type DataConfigInput = z.input<typeof DataConfigSchema>;
export type TableSpec = z.infer<typeof TableSchema>;
export type FilterSpec = z.infer<typeof FilterSchema>;
export type ListSourceSpec = z.infer<typeof ListSourceSchema>;
export type FeatureSpec = z.infer<typeof FeatureSchema>;
export type SparseSpec = z.infer<typeof SparseSchema>;
export type DenseSpec = z.infer<typeof DenseSchema>;
export type SequenceSpec = z.infer<typeof SequenceSchema>;
export type DerivedSpec = z.infer<typeof DerivedSchema>;
export type StatSpec = z.infer<typeof StatSchema>;
export type HistorySpec = z.infer<typeof HistorySchema>;
export type ScalerKind = z.infer<typeof ScalerKind>;
export type Pooling = z.infer<typeof Pooling>;
export type FeatureSource = z.infer<typeof Source>;

export function dataConfigJsonSchema(): unknown {
  return z.toJSONSchema(DataConfigSchema, { io: 'input' });
}

/** The config's cross-references (names, shared tables, split needs), checked after its schema. */
export function checkReferences(cfg: DataConfig): void {
  const fail = (msg: string): never => {
    throw new ConfigError(`invalid data config: ${msg}`);
  };
  const names = new Set<string>();
  for (const f of [...cfg.features, ...cfg.derived]) {
    if (names.has(f.name)) fail(`feature name '${f.name}' is used twice`);
    names.add(f.name);
  }
  const byName = new Map(cfg.features.map((f) => [f.name, f]));
  const shareTarget = (from: string, to: string): void => {
    const t = byName.get(to);
    if (!t || t.kind === 'dense') fail(`'${from}' shares the table of '${to}', which is not a sparse or sequence feature`);
    if (t && t.kind !== 'dense' && t.shareWith) fail(`'${from}' shares with '${to}', which itself shares a table`);
  };
  for (const f of cfg.features) {
    if (f.kind !== 'dense' && f.shareWith) shareTarget(f.name, f.shareWith);
    if (f.kind === 'sequence' && f.flagColumns && f.column) fail(`'${f.name}': give column or flagColumns, not both`);
  }
  for (const d of cfg.derived) {
    if (d.kind === 'history') {
      shareTarget(d.name, d.shareWith);
      if (byName.get(d.shareWith)?.source !== 'item') fail(`history '${d.name}' must share an item feature's table`);
    } else if (d.stat === 'mean' && !d.column) fail(`stat '${d.name}' (mean) needs a column`);
  }
  const sm = cfg.split.method;
  if ((sm === 'temporal' || sm === 'leave-last-out') && !cfg.keys.time) fail(`split '${sm}' needs keys.time`);
  if (sm === 'column' && !cfg.split.column) fail("split 'column' needs split.column");
  if (sm !== 'column' && cfg.split.val + cfg.split.test >= 1) fail('split.val + split.test must be below 1');
  if (cfg.label.rule && !cfg.label.column) fail('label.rule needs label.column');
  if (cfg.sources.users && !cfg.sources.users.key) fail('sources.users needs key');
  if (cfg.sources.items && !cfg.sources.items.key) fail('sources.items needs key');
}

/** The column a feature reads (its name unless `column` says otherwise). */
export function featureColumn(f: { name: string; column?: string }): string {
  return f.column ?? f.name;
}

/** The label rule applied to one raw label value (ingest applies the same rule in SQL); no rule: the value itself. */
export function ruleLabel(rule: DataConfig['label']['rule'], v: number): number {
  if (!rule) return v;
  const x = rule.value;
  switch (rule.op) {
    case '>': return v > x ? 1 : 0;
    case '>=': return v >= x ? 1 : 0;
    case '<': return v < x ? 1 : 0;
    case '<=': return v <= x ? 1 : 0;
    case '==': return v === x ? 1 : 0;
    default: return v !== x ? 1 : 0;
  }
}
