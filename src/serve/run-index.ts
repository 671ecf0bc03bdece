// A trained run's retrieval index, as /v1/retrieve searches it: the run exported to a bundle and the bundle's
// candidate generator at its default settings. Experiments measure retrieval through it (`ranking.index`): the
// candidates are scored exactly by the caller, so what differs from exact full-corpus retrieval is only what the
// index misses.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingData } from '../data/index.js';
import { Bundle } from '../export/bundle.js';
import { exportBundle } from '../export/export-bundle.js';
import { retrievalSettings } from '../export/retrieval-index.js';
import type { IndexOpener } from '../train/experiment.js';
import type { RunResult } from '../train/run.js';
import { openCandidateSource } from './candidates.js';

/**
 * Exports the run to its run directory's bundle/ (`headIndex`: the max-sim models' index) and opens its index, with
 * its settings as the export line words them; null when the bundle has none. close() removes the bundle unless
 * `keep` (at 1M items one is 2-3 GB, per run).
 */
export const openRunIndex: IndexOpener = async (run: RunResult, data: TrainingData, headIndex: 'hnsw' | 'centroids', opts = {}) => {
  const dir = join(run.config.outDir, 'bundle');
  await exportBundle({ model: run.model, dataset: data, config: run.config.model, strategy: run.strategy }, dir, { headIndex });
  const bundle = await Bundle.load(dir);
  const release = (): void => {
    bundle.dispose();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };
  const { source } = await openCandidateSource(bundle, 'usearch');
  const items = bundle.manifest.items;
  if (!source) {
    release();
    return null;
  }
  return {
    candidates: (rep, k) => source.candidates(rep, k, source.defaults),
    settings: retrievalSettings(items.cached ? items.retrievalIndex : undefined),
    close: () => {
      source.close();
      release();
    },
  };
};
