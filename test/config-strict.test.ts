// Config files are strict: every kind rejects an unknown key with its full path and the closest valid key, reads
// YAML as well as JSON (a YAML file loads to the same config as its JSON twin), and every config shipped in
// configs/ parses.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadCascadeConfig, parseCascadeConfig } from '../src/cascade/config.js';
import { loadCascadeExperiment, parseCascadeExperiment } from '../src/cascade/experiment.js';
import { loadCascadeTrainConfig, parseCascadeTrainConfig } from '../src/cascade/run.js';
import { loadDataConfig, parseDataConfig } from '../src/data/spec.js';
import { loadOnlineConfig, parseOnlineConfig } from '../src/online/config.js';
import { parseTrainConfig } from '../src/train/config.js';
import { loadExperiment, parseExperiment } from '../src/train/experiment.js';
import { loadTrainConfig } from '../src/train/run.js';
import { loadTuneConfig, parseTuneConfig } from '../src/train/tune/config.js';

const root = mkdtempSync(join(tmpdir(), 'prerank-config-strict-'));
after(() => rmSync(root, { recursive: true, force: true }));
const REPO = join(import.meta.dirname, '..', '..');

const CAPS = { impression: 4, ranking_candidate: 4, prerank_candidate: 4, random: 4 };
/** A small valid config of each kind (relative paths: nothing is read while parsing). */
const VALID = {
  data: { name: 'd', sources: { interactions: { path: 'events.csv' } }, keys: { user: 'u', item: 'i' },
    features: [{ kind: 'sparse', name: 'u', source: 'user' }, { kind: 'sparse', name: 'i', source: 'item' }] },
  train: { model: { kind: 'dssm', config: { embedDim: 8 } }, data: { recipe: 'ml-100k' }, epochs: 2, earlyStopping: { metric: 'auc', patience: 1 }, outDir: 'runs/x' },
  experiment: { name: 'e', data: { recipe: 'ml-100k' }, models: [{ kind: 'dssm', label: 'a' }], seeds: [1], train: { epochs: 2 }, outDir: 'out' },
  cascade: { name: 'c', data: { recipe: 'ml-100k' }, periods: { fit: 0.5, train: 0.2 }, stages: { recall: 50, prerank: 20, impressions: 5, random: 5 } },
  'cascade-train': { name: 't', logs: 'built', model: { kind: 'dssm' }, objective: { kind: 'pointwise' }, caps: CAPS, listsPerBatch: 4, out: 'out' },
  'cascade-experiment': { type: 'cascade', name: 'x', logs: 'built', train: { objective: { kind: 'pointwise' }, caps: CAPS, epochs: 2 },
    rows: [{ label: 'a', model: { kind: 'dssm' } }], outDir: 'out' },
  online: { initial: { run: 'run' }, source: { kind: 'dir', path: 'events' }, outDir: 'out', batchSize: 64, checkpoint: { everyUpdates: 10 } },
  tune: { name: 's', base: { model: { kind: 'dssm' }, data: { recipe: 'ml-100k' }, epochs: 3 }, space: { 'optimizer.lr': { log: [1e-4, 1e-2] } }, trials: 2, outDir: 'out' },
} as const;
type Kind = keyof typeof VALID;

const PARSE: Record<Kind, (x: unknown) => unknown> = {
  data: (x) => parseDataConfig(x, root),
  train: (x) => parseTrainConfig(x),
  experiment: (x) => parseExperiment(x, root),
  cascade: (x) => parseCascadeConfig(x, root),
  'cascade-train': (x) => parseCascadeTrainConfig(x, root),
  'cascade-experiment': (x) => parseCascadeExperiment(x, root),
  online: (x) => parseOnlineConfig(x, root),
  tune: (x) => parseTuneConfig(x, root),
};

const LOAD: Record<Kind, (path: string) => unknown> = {
  data: loadDataConfig, train: loadTrainConfig, experiment: loadExperiment, cascade: loadCascadeConfig,
  'cascade-train': loadCascadeTrainConfig, 'cascade-experiment': loadCascadeExperiment, online: loadOnlineConfig,
  tune: loadTuneConfig,
};

/** A misspelled key per kind, where it goes, and the message it must give. */
const TYPOS: [Kind, (c: any) => void, RegExp][] = [
  ['data', (c) => (c.onBadRows = 'skip'), /data\.onBadRows: unknown key 'onBadRows'; did you mean 'onBadRow'\?/],
  ['data', (c) => (c.features[0].minFrq = 2), /data\.features\.0\.minFrq: unknown key 'minFrq'; did you mean 'minFreq'\?/],
  ['data', (c) => (c.sources.interactions.delimter = ';'), /data\.sources\.interactions\.delimter: unknown key 'delimter'; did you mean 'delimiter'\?/],
  ['train', (c) => (c.epoch = 50), /train\.epoch: unknown key 'epoch'; did you mean 'epochs'\?/],
  ['train', (c) => (c.earlyStoping = { patience: 2 }), /train\.earlyStoping: unknown key 'earlyStoping'; did you mean 'earlyStopping'\?/],
  ['train', (c) => (c.optimizer = { lr: 0.01, weightDecy: 0 }), /train\.optimizer\.weightDecy: unknown key 'weightDecy'; did you mean 'weightDecay'\?/],
  ['train', (c) => (c.data = { recepe: 'ml-100k' }), /train\.data\.recepe: unknown key 'recepe'; did you mean 'recipe'\?/],
  ['experiment', (c) => (c.models[0].lable = 'b'), /experiment\.models\.0\.lable: unknown key 'lable'; did you mean 'label'\?/],
  ['experiment', (c) => (c.seed = [1]), /experiment\.seed: unknown key 'seed'; did you mean 'seeds'\?/],
  ['experiment', (c) => (c.train.epoch = 3), /experiment\.train\.epoch: unknown key 'epoch'; did you mean 'epochs'\?/],
  ['cascade', (c) => (c.stage = {}), /cascade\.stage: unknown key 'stage'; did you mean 'stages'\?/],
  ['cascade', (c) => (c.periods.fitt = 0.5), /cascade\.periods\.fitt: unknown key 'fitt'; did you mean 'fit'\?/],
  ['cascade-train', (c) => (c.listPerBatch = 8), /cascade-train\.listPerBatch: unknown key 'listPerBatch'; did you mean 'listsPerBatch'\?/],
  ['cascade-train', (c) => (c.caps.ranking_candidates = 1), /cascade-train\.caps\.ranking_candidates: unknown key 'ranking_candidates'; did you mean 'ranking_candidate'\?/],
  ['cascade-experiment', (c) => (c.train.epoch = 3), /cascade-experiment\.train\.epoch: unknown key 'epoch'; did you mean 'epochs'\?/],
  ['cascade-experiment', (c) => (c.rows[0].lables = 'x'), /cascade-experiment\.rows\.0\.lables: unknown key 'lables'; did you mean 'label'\?/],
  ['online', (c) => (c.batchsize = 32), /online\.batchsize: unknown key 'batchsize'; did you mean 'batchSize'\?/],
  ['online', (c) => (c.checkpoint.everyUpdate = 5), /online\.checkpoint\.everyUpdate: unknown key 'everyUpdate'; did you mean 'everyUpdates'\?/],
  ['tune', (c) => (c.trial = 3), /tune\.trial: unknown key 'trial'; did you mean 'trials'\?/],
  ['tune', (c) => (c.base.epoch = 3), /tune\.base\.epoch: unknown key 'epoch'; did you mean 'epochs'\?/],
];

const copy = <T>(x: T): any => JSON.parse(JSON.stringify(x));

test('each config kind accepts its valid example', () => {
  for (const kind of Object.keys(VALID) as Kind[]) assert.doesNotThrow(() => PARSE[kind](copy(VALID[kind])), kind);
});

test('a misspelled key is an error naming its path and the closest valid key, for every config kind', () => {
  for (const [kind, spoil, message] of TYPOS) {
    const c = copy(VALID[kind]);
    spoil(c);
    assert.throws(() => PARSE[kind](c), message, `${kind}: ${JSON.stringify(c)}`);
  }
});

test('an unknown key with nothing close lists the valid keys', () => {
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), zzz: 1 }), /train\.zzz: unknown key 'zzz' \(valid keys: model, data, optimizer, .*outDir\)/);
});

test('a YAML config loads to the same config as its JSON twin, for every kind that is read from a file', () => {
  for (const kind of Object.keys(VALID) as Kind[]) {
    const dir = join(root, 'twins', kind);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(VALID[kind], null, 2));
    writeFileSync(join(dir, 'config.yaml'), `# ${kind} config\n${toYaml(VALID[kind])}`);
    writeFileSync(join(dir, 'config.yml'), toYaml(VALID[kind]));
    const json = LOAD[kind](join(dir, 'config.json'));
    assert.deepEqual(LOAD[kind](join(dir, 'config.yaml')), json, kind);
    assert.deepEqual(LOAD[kind](join(dir, 'config.yml')), json, kind);
  }
});

test('a YAML file is validated as strictly, and a file error names the file', () => {
  const dir = join(root, 'yaml-errors');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.yaml'), 'model: { kind: dssm }\ndata: { recipe: ml-100k }\nepoch: 3\n');
  assert.throws(() => loadTrainConfig(join(dir, 'train.yaml')), /train\.yaml: invalid train config:\n  train\.epoch: unknown key 'epoch'; did you mean 'epochs'\?/);
  writeFileSync(join(dir, 'broken.yaml'), 'model: [unclosed\n');
  assert.throws(() => loadTrainConfig(join(dir, 'broken.yaml')), /cannot read train config .*broken\.yaml: /);
});

/** The kind of a shipped config, from its shape. */
function kindOf(c: Record<string, unknown>): Kind {
  if ('features' in c) return 'data';
  if ('space' in c) return 'tune';
  if ('initial' in c) return 'online';
  if (c.type === 'cascade') return 'cascade-experiment';
  if ('models' in c) return 'experiment';
  if ('objective' in c && ('caps' in c || 'listsPerBatch' in c)) return 'cascade-train'; // a train config may have an objective too
  if ('model' in c) return 'train';
  return 'cascade';
}

test('every config in configs/ parses under strict validation', async () => {
  const { readConfigFile } = await import('../src/util/config.js');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(json|ya?ml)$/.test(f)) files.push(p);
    }
  };
  walk(join(REPO, 'configs'));
  assert.ok(files.length > 40, `found ${files.length} configs`);
  for (const f of files) {
    const kind = kindOf(readConfigFile(f) as Record<string, unknown>);
    try {
      LOAD[kind](f);
    } catch (e) {
      // a config whose data files are not downloaded yet still has to pass validation
      if (!/ENOENT|no such file/.test((e as Error).message) || /invalid|unknown key/.test((e as Error).message)) {
        assert.fail(`${relative(REPO, f)} (${kind}): ${(e as Error).message}`);
      }
    }
  }
});

/** A misspelled key of each registered model's own config, and the key it should suggest. */
const MODEL_TYPOS: Record<string, [string, string]> = {
  lr: ['l2Embeding', 'l2Embedding'], dssm: ['temprature', 'temperature'], dat: ['mimicUsr', 'mimicUser'], cold: ['wid', 'wide'],
  'int-tower': ['cirWeigth', 'cirWeight'], 'wide-deep': ['dnns', 'dnn'], deepfm: ['dropuot', 'dropout'], dcn: ['crossLayer', 'crossLayers'],
  autoint: ['attentionLayer', 'attentionLayers'], 'rank-tower': ['userHead', 'userHeads'], mf: ['biasses', 'biases'], cs3: ['cylce', 'cycle'],
};
const STRATEGY_TYPOS: Record<string, [string, string]> = {
  onebp: ['negativs', 'negatives'], twobp: ['temperture', 'temperature'], 'cs3-cascade': ['warmstart', 'warmStart'],
};

test('a model config is validated where it is written: unknown keys of every registered model, with the path from the config', async () => {
  const { MODELS, TINY_CONFIGS } = await import('../src/models/registry.js');
  assert.deepEqual(Object.keys(MODEL_TYPOS).sort(), Object.keys(MODELS).sort(), 'a typo for every registered model');
  for (const [kind, [typo, meant]] of Object.entries(MODEL_TYPOS)) {
    const config = { ...TINY_CONFIGS[kind as keyof typeof TINY_CONFIGS], [typo]: 1 };
    const esc = (s: string) => s.replace(/[-.]/g, (c) => `\\${c}`);
    assert.throws(() => parseTrainConfig({ ...copy(VALID.train), model: { kind, config } }),
      new RegExp(`train\\.model\\.config\\.${typo}: unknown key '${typo}'; did you mean '${meant}'\\?`), kind);
    assert.throws(() => parseExperiment({ ...copy(VALID.experiment), models: [{ kind, config }] }),
      new RegExp(`experiment\\.models\\.0\\.config\\.${typo}: unknown key '${typo}'; did you mean '${meant}'\\?`), kind);
    assert.throws(() => MODELS[kind as keyof typeof MODELS]({ features: [], rng: null as never }, config as never),
      new RegExp(`${esc(kind)}\\.${typo}: unknown key '${typo}'; did you mean '${meant}'\\?`), kind);
  }
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), model: { kind: 'dsm' } }), /train\.model\.kind: unknown model 'dsm'; did you mean 'dssm'\?/);
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), model: { kind: 'dssm', config: { embedDim: 'wide' } } }),
    /train\.model\.config\.embedDim: .*expected number/);
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), model: { kind: 'cs3', config: { base: 'dssm', config: { embdDim: 8 } } } }),
    /train\.model\.config\.config\.embdDim: unknown key 'embdDim'; did you mean 'embedDim'\?/);
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), model: { kind: 'cs3', config: { base: 'dssm', cycle: { hiden: 8 } } } }),
    /train\.model\.config\.cycle\.hiden: unknown key 'hiden'; did you mean 'hidden'\?/);
  const cascade = copy(VALID.cascade);
  cascade.teacher = { kind: 'dcn', config: { crossLayer: 2 } };
  assert.throws(() => parseCascadeConfig(cascade), /cascade\.teacher\.config\.crossLayer: unknown key 'crossLayer'; did you mean 'crossLayers'\?/);
  assert.throws(() => parseCascadeTrainConfig({ ...copy(VALID['cascade-train']), model: { kind: 'dssm', config: { towr: [8] } } }, root),
    /cascade-train\.model\.config\.towr: unknown key 'towr'; did you mean 'tower'\?/);
  assert.throws(() => parseCascadeExperiment({ ...copy(VALID['cascade-experiment']), rows: [{ label: 'a', model: { kind: 'dssm', config: { towr: [8] } } }] }, root),
    /cascade-experiment\.rows\.0\.model\.config\.towr: unknown key 'towr'; did you mean 'tower'\?/);
});

test('an inline cascade config is validated where it is written', () => {
  const inline = { ...copy(VALID.cascade), stage: {} };
  const { logs: _t, ...train } = copy(VALID['cascade-train']);
  assert.throws(() => parseCascadeTrainConfig({ ...train, cascade: inline }, root), /cascade-train\.cascade\.stage: unknown key 'stage'; did you mean 'stages'\?/);
  const { logs: _e, ...exp } = copy(VALID['cascade-experiment']);
  assert.throws(() => parseCascadeExperiment({ ...exp, cascade: inline }, root), /cascade-experiment\.cascade\.stage: unknown key 'stage'; did you mean 'stages'\?/);
  assert.doesNotThrow(() => parseCascadeTrainConfig({ ...train, cascade: copy(VALID.cascade) }, root));
});

test('a strategy config is validated where it is written: unknown keys of every registered strategy', async () => {
  const { STRATEGIES } = await import('../src/train/strategies/registry.js');
  assert.deepEqual(Object.keys(STRATEGY_TYPOS).sort(), Object.keys(STRATEGIES).sort(), 'a typo for every registered strategy');
  for (const [kind, [typo, meant]] of Object.entries(STRATEGY_TYPOS)) {
    const strategy = { kind, config: { [typo]: 1 } };
    assert.throws(() => parseTrainConfig({ ...copy(VALID.train), strategy }),
      new RegExp(`train\\.strategy\\.config\\.${typo}: unknown key '${typo}'; did you mean '${meant}'\\?`), kind);
    assert.throws(() => parseExperiment({ ...copy(VALID.experiment), models: [{ kind: 'dssm', strategy }] }),
      new RegExp(`experiment\\.models\\.0\\.strategy\\.config\\.${typo}: unknown key '${typo}'`), kind);
  }
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), strategy: { kind: 'onebpp' } }), /train\.strategy\.kind: unknown training strategy 'onebpp'; did you mean 'onebp'\?/);
  assert.throws(() => parseTrainConfig({ ...copy(VALID.train), strategy: { kind: 'onebp', config: { beta: 1 } } }), /train\.strategy\.config\.beta: /);
});
