// RelaImpr (DIN, Zhou et al. 2018): ((AUC_model - 0.5) / (AUC_base - 0.5) - 1) * 100, in percent.

/** NaN when the base is no better than random in the limit (AUC_base = 0.5) or either AUC is NaN. */
export function relaImpr(aucModel: number, aucBase: number): number {
  if (aucBase === 0.5) return NaN;
  return ((aucModel - 0.5) / (aucBase - 0.5) - 1) * 100;
}

/** RelaImpr of every model against the one named `base` (which gets 0). */
export function relaImprVs(aucs: Readonly<Record<string, number>>, base: string): Record<string, number> {
  const b = aucs[base];
  if (b === undefined) throw new Error(`relaImpr: base model "${base}" not among ${Object.keys(aucs).join(', ')}`);
  return Object.fromEntries(Object.entries(aucs).map(([name, a]) => [name, relaImpr(a, b)]));
}
