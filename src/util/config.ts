// Config files: the one loader every config kind goes through (JSON, or YAML for .yaml/.yml files), and the strict
// validation of config-parse.ts (re-exported here: the validation alone loads without Node's file system).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-parse.js';

export * from './config-parse.js';

/** The parsed content of a JSON or YAML (.yaml, .yml) file. */
export function readConfigFile(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
}

/**
 * Reads a config file (JSON or YAML) and hands its content to `parse` with the file's folder (relative paths inside
 * a config resolve against it). `what` names the kind of file in errors, which start with the file's path.
 */
export function loadConfig<T>(path: string, what: string, parse: (raw: unknown, baseDir: string) => T): T {
  let raw: unknown;
  try {
    raw = readConfigFile(path);
  } catch (e) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return parse(raw, dirname(resolve(path)));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const err = new (e.constructor as typeof ConfigError)(`${path}: ${e.message}`);
    throw err;
  }
}

