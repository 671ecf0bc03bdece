// Where an ONNX export takes what it writes besides the graphs: the features, the fitted encoders (encoders.json)
// and one encoded row for inputs.json's worked example. A training run has its dataset (the example is a real test
// row); a serving bundle has the model, its weights and encoders but no logged rows (the example is a row made of
// each vocabulary's first value).
import type { Batch, FeatureEncoders, FeatureInfo, TrainingData } from '../../data/index.js';
import { allocBatch, headOf } from '../../data/batch.js';

export interface OnnxSource {
  features: readonly FeatureInfo[];
  encoders: FeatureEncoders;
  /** One row (a batch of 1) and what it is; null: inputs.json has no example. */
  example: { row: Batch; about: string } | null;
}

/** A training run's dataset: its first test row (else its first train row) is the example. */
export function datasetSource(ds: TrainingData): OnnxSource {
  const split = ds.splitSize('test') ? 'test' : 'train';
  const b: Batch | undefined = ds.batches(split, { batchSize: 1, shuffle: false }).epoch(0).next().value;
  const example = b && b.size > 0 ? { row: headOf(b, 1), about: `row 0 of the ${split} split` } : null;
  return { features: ds.features, encoders: ds.encoders, example };
}

/**
 * A bundle's features and encoders. Its example row: every sparse feature the first value of its vocabulary (id 2;
 * id 1, out of vocabulary, when the vocabulary kept none), every sequence that one id, every dense feature 0.
 */
export function encodersSource(features: readonly FeatureInfo[], encoders: FeatureEncoders): OnnxSource {
  const row = allocBatch([...features], 1);
  const first = (f: FeatureInfo): number => (encoders.vocabulary(f.name).count > 0 ? 2 : 1);
  for (const f of features) {
    if (f.kind === 'sparse') row.sparse[f.name][0] = first(f);
    else if (f.kind === 'sequence') {
      row.sequence[f.name].ids[0] = first(f);
      row.sequence[f.name].lengths[0] = 1;
    }
  }
  const about = 'a row made of each vocabulary\'s first value (ids 2) and dense values 0 (the bundle holds no logged rows)';
  return { features, encoders, example: { row, about } };
}
