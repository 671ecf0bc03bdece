// Too few optimizer steps per epoch: on small data the default batch size can leave a model after a handful of
// steps (6.6k training rows at batch 2048 is 4 steps an epoch), so early stopping judges barely trained models.
// A run warns once and names a batch size that gives enough steps.

/** Fewer optimizer steps than this in an epoch draws the warning. */
export const MIN_EPOCH_STEPS = 50;

/** The largest power of two that gives at least `minSteps` batches over `rows` rows (1 when none does). */
export function batchSizeForSteps(rows: number, minSteps = MIN_EPOCH_STEPS): number {
  let b = 1;
  while (Math.ceil(rows / (b * 2)) >= minSteps) b *= 2;
  return b;
}

/** Steps an epoch the 'auto' batch size aims for, and its range (docs/TUNING.md: the ML-100K searches' best trials
 * had batches of 128-512 on 51k training rows, 100-400 steps an epoch; large data keeps the former fixed 2048). */
export const AUTO_BATCH = { steps: 200, min: 64, max: 2048 } as const;

/** batchSize 'auto': the largest power of two giving >= AUTO_BATCH.steps steps over `rows`, clamped to min..max. */
export function autoBatchSize(rows: number): number {
  return Math.min(AUTO_BATCH.max, Math.max(AUTO_BATCH.min, batchSizeForSteps(rows, AUTO_BATCH.steps)));
}

/** The warning for a run of `rows` training rows at `batchSize`, or null when an epoch has enough steps. */
export function smallEpochWarning(rows: number, batchSize: number, minSteps = MIN_EPOCH_STEPS): string | null {
  const steps = Math.ceil(rows / batchSize);
  if (steps >= minSteps || rows === 0) return null;
  const head = `an epoch is ${steps} optimizer step${steps === 1 ? '' : 's'} (${rows} training rows at batchSize ${batchSize}), fewer than ${minSteps}`;
  if (rows < minSteps) return `${head}, even at batchSize 1: this dataset is too small to train a deep model reliably`;
  const b = batchSizeForSteps(rows, minSteps);
  return `${head}: set batchSize to ${b} or less (${Math.ceil(rows / b)} steps an epoch) and re-tune the learning rate`;
}
