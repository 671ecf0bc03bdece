// Shared by the cascade-* tests: a tiny synthetic log and the cascade simulated over it (small stages, tiny DSSM
// pre-ranker and DCN teacher), written under `root`.
import { join } from 'node:path';
import { parseCascadeConfig } from '../src/cascade/config.js';
import { simulateCascade, type CascadeResult } from '../src/cascade/simulate.js';
import { parseDataConfig, type DataConfig } from '../src/data/spec.js';
import { writeSyntheticLog } from '../src/data/synthetic.js';

export async function tinyCascade(root: string, evalRequests: number): Promise<{ cascade: CascadeResult; dataCfg: DataConfig; dataDir: string }> {
  const dataDir = join(root, 'data');
  const dataCfg = parseDataConfig(writeSyntheticLog(dataDir, { users: 60, items: 80 }));
  const cascade = await simulateCascade(parseCascadeConfig({
    name: 'tiny', seed: 3, data: { config: 'unused.json' }, requests: { train: 25, eval: evalRequests, windowSeconds: 500 },
    stages: { recall: 24, prerank: 10, impressions: 4, random: 5 },
    prerank: { kind: 'dssm', config: { embedDim: 8, tower: [16, 8] }, epochs: 2, batchSize: 256 },
    teacher: { kind: 'dcn', config: { embedDim: 8, dnn: [16] }, epochs: 2, batchSize: 256 },
  }), { modelDir: join(root, 'models'), dataConfig: dataCfg });
  return { cascade, dataCfg, dataDir };
}
