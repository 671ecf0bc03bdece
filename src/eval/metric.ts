// The streaming metric contract: update(batch) any number of times, then compute(); reset() starts over.

export interface Metric<B = PointBatch> {
  readonly name: string;
  update(batch: B): void;
  compute(): number | Record<string, number>;
  reset(): void;
}

/**
 * One batch of pointwise predictions [B]: logits (preferred) or probabilities, labels in [0, 1] (positive when > 0.5
 * for AUC, GAUC and accuracy; soft labels enter logloss as they are), and user ids for GAUC.
 */
export type PointBatch = {
  labels: ArrayLike<number>;
  users?: ArrayLike<number>;
} & ({ logits: ArrayLike<number>; probs?: undefined } | { probs: ArrayLike<number>; logits?: undefined });

/** The batch's scores (logits or probabilities), checked against the number of labels. */
export function scoresOf(batch: PointBatch, metric: string): ArrayLike<number> {
  const s = batch.logits ?? batch.probs;
  if (s === undefined) throw new Error(`${metric}: batch has neither logits nor probs`);
  if (s.length !== batch.labels.length) throw new Error(`${metric}: ${s.length} scores but ${batch.labels.length} labels`);
  return s;
}
