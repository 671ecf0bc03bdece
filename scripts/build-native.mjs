#!/usr/bin/env node
// Builds the native addon with node-gyp (against the local Node headers; nothing is downloaded when npm's nodedir
// points at them). A failed build does not fail `npm install`: prerank then runs on its TypeScript reference kernels
// and says so once at load time. `--strict` (npm run build:native) makes a failure fatal.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function nodeGypCommand() {
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ['npx', '--yes', 'node-gyp'];
}

const [cmd, ...pre] = nodeGypCommand();
const args = [...pre, 'rebuild', '--release', '-j', 'max'];
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
if (res.status !== 0) {
  const msg = 'prerank: building the native addon failed; prerank will run on its (slow) TypeScript reference kernels.';
  if (strict) {
    console.error(msg);
    process.exit(res.status ?? 1);
  }
  console.warn(`${msg}\nprerank: fix the compiler error above and run \`npm run build:native\` to get the fast path.`);
}
