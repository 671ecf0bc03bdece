// The data config: one zod schema (spec-schema.ts, re-exported here) that validates the config file (JSON or YAML)
// and, through `dataConfigJsonSchema()`, documents it; here the config is parsed with its paths resolved.
import { isAbsolute, resolve } from 'node:path';
import { loadConfig, parseConfig } from '../util/config.js';
import { checkReferences, DataConfigSchema, type DataConfig } from './spec-schema.js';

export * from './spec-schema.js';

/** Validates a config object; cross-references (names, shared tables, split needs) are checked here too. */
export function parseDataConfig(input: unknown, baseDir?: string): DataConfig {
  const cfg = parseConfig(DataConfigSchema, input, 'data');
  if (baseDir) {
    const fix = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
    const s = cfg.sources;
    s.interactions.path = fix(s.interactions.path);
    if (s.users) s.users.path = fix(s.users.path);
    if (s.items) s.items.path = fix(s.items.path);
    for (const l of s.lists) l.path = fix(l.path);
    if (cfg.cache?.dir) cfg.cache.dir = fix(cfg.cache.dir);
  }
  checkReferences(cfg);
  return cfg;
}

/** Reads and validates a JSON or YAML config file; relative paths inside resolve against the file's folder. */
export function loadDataConfig(path: string): DataConfig {
  return loadConfig(path, 'data config', parseDataConfig);
}

