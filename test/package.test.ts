// The package as npm publishes it: `npm pack`, then `npm install` of the tarball into a scratch project, and every
// entry of the exports map imported from there by name, a tiny model trained and exported, and the bin run, as a
// user would.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  name: string; version: string; bin: Record<string, string>; dependencies: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

/** What user code should find at each entry (a few names each, not the whole surface). */
const ENTRY_NAMES: Record<string, string[]> = {
  '.': ['Tensor', 'engineInfo', 'nn', 'data', 'evaluation'],
  './core': ['Tensor', 'engineInfo'],
  './nn': ['Linear', 'Adam'],
  './data': ['Dataset', 'loadDataConfig', 'writeSynthLog'],
  './models': ['MODELS'],
  './train': ['runTraining', 'loadTrainConfig', 'Trainer', 'runExperiment', 'STRATEGIES'],
  './eval': ['auc'],
  './export': ['exportBundle', 'Bundle'],
  './cascade': ['loadCascadeConfig', 'CooccurrenceRecall'],
  './serve': ['createServer'],
  './online': ['runOnline', 'SOURCES'],
  './web': ['WasmScorer', 'WasmScorerError', 'defaultWasmUrl'],
};

let scratch = '';
let files: string[] = [];

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'prerank-pack-'));
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: REPO, encoding: 'utf8' });
  const [packed] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  files = packed.files.map((f) => f.path);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'user-app', type: 'module', private: true }));
  // A real install of the tarball (dependencies from npm's cache, which `npm ci` filled); the package's own install
  // script, which compiles the addon, is skipped and the addon this checkout built is copied in its place.
  execFileSync('npm', ['install', `./${packed.filename}`, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: scratch, encoding: 'utf8', stdio: 'pipe' });
  const addon = join(scratch, 'node_modules', PKG.name, 'build', 'Release');
  mkdirSync(addon, { recursive: true });
  cpSync(join(REPO, 'build', 'Release', 'prerank_native.node'), join(addon, 'prerank_native.node'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test('the packed files hold every exports target, its types, the bin and the native sources, and no tests or benches', () => {
  const has = new Set(files);
  for (const [entry, target] of Object.entries(PKG.exports)) {
    const paths = typeof target === 'string' ? [target] : [target.types, target.default];
    for (const p of paths) assert.ok(has.has(p.replace(/^\.\//, '')), `${entry}: ${p} is not in the package`);
  }
  for (const bin of Object.values(PKG.bin)) assert.ok(has.has(bin), `bin ${bin} is not in the package`);
  assert.ok(has.has('binding.gyp') && has.has('native/addon.cc'), 'the addon must build on install');
  // built by `npm ci` where clang can target wasm32 (CI installs it): shipped, so installing needs no toolchain for it
  for (const build of ['prerank-scorer.wasm', 'prerank-scorer-relaxed.wasm', 'prerank-scorer-portable.wasm']) {
    if (existsSync(join(REPO, 'dist', 'wasm', build))) assert.ok(has.has(`dist/wasm/${build}`), `the WebAssembly scorer ${build} is not in the package`);
  }
  const stray = files.filter((f) => /^(dist\/)?(test|bench)\//.test(f) || f.startsWith('src/'));
  assert.deepEqual(stray, [], 'tests, benches and TypeScript sources stay out of the package');
});

test('every exports entry imports by package name from an installed copy and has its main names', () => {
  assert.deepEqual(Object.keys(ENTRY_NAMES).sort(), Object.keys(PKG.exports).filter((e) => e !== './package.json').sort(),
    'a new exports entry needs its names listed here');
  const script = `const want = ${JSON.stringify(ENTRY_NAMES)}; const missing = [];
    for (const [entry, names] of Object.entries(want)) {
      const m = await import(entry === '.' ? '${PKG.name}' : '${PKG.name}/' + entry.slice(2));
      if (Object.keys(m).length === 0) missing.push(entry + ': exports nothing');
      for (const n of names) if (!(n in m)) missing.push(entry + ': ' + n);
    }
    const { version } = (await import('${PKG.name}/package.json', { with: { type: 'json' } })).default;
    console.log(JSON.stringify({ missing, version }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, encoding: 'utf8' });
  const { missing, version } = JSON.parse(out.trim().split('\n').pop()!) as { missing: string[]; version: string };
  assert.deepEqual(missing, []);
  assert.equal(version, PKG.version);
});

test('a user project trains a tiny model and exports it through the package names alone', () => {
  const script = `import { writeFileSync } from 'node:fs';
    import { writeSyntheticLog } from '${PKG.name}/data';
    import { TINY_CONFIGS } from '${PKG.name}/models';
    import { parseTrainConfig, runTraining } from '${PKG.name}/train';
    import { exportBundle, Bundle } from '${PKG.name}/export';
    writeFileSync('data.json', JSON.stringify(writeSyntheticLog('data', { users: 40, items: 20, interactionsPerUser: 10 })));
    const cfg = parseTrainConfig({ model: { kind: 'dssm', config: TINY_CONFIGS.dssm }, data: { config: 'data.json' },
      batchSize: 64, epochs: 1, outDir: 'run' });
    const run = await runTraining(cfg, { quiet: true });
    await exportBundle('run', 'bundle', { annIndex: false });
    const b = await Bundle.load('bundle');
    console.log(JSON.stringify({ auc: run.test.auc, items: b.manifest.items.count }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { auc: number; items: number };
  assert.ok(r.auc > 0 && r.auc <= 1, out);
  assert.equal(r.items, 20);
});

test('the installed bin runs: prerank --version', () => {
  const bin = join(scratch, 'node_modules', PKG.name, PKG.bin.prerank);
  assert.equal(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim(), PKG.version);
});
