// Run metrics over batches and flatten their results into one plain object.
import type { Metric } from './metric.js';

/** Current values of the metrics: a number under the metric's name, a record's entries under their own keys. */
export function results(metrics: Iterable<Metric<never>>): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (key: string, value: number): void => {
    if (Object.hasOwn(out, key)) throw new Error(`evaluate: two metrics report "${key}"`);
    out[key] = value;
  };
  for (const m of metrics) {
    const v = m.compute();
    if (typeof v === 'number') put(m.name, v);
    else for (const [k, x] of Object.entries(v)) put(k, x);
  }
  return out;
}

/** Resets the metrics, feeds them every batch, returns results(metrics). */
export function evaluate<B>(metrics: readonly Metric<B>[], batches: Iterable<B>): Record<string, number> {
  for (const m of metrics) m.reset();
  for (const b of batches) for (const m of metrics) m.update(b);
  return results(metrics);
}

export async function evaluateAsync<B>(
  metrics: readonly Metric<B>[],
  batches: AsyncIterable<B> | Iterable<B>,
): Promise<Record<string, number>> {
  for (const m of metrics) m.reset();
  for await (const b of batches) for (const m of metrics) m.update(b);
  return results(metrics);
}
