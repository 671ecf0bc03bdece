// The protocol's second axis: an experiment with `splitSeeds` runs every (model, seed) on each data split, so its
// tables say how much of a result is the split. Here: the table's wording of what the ± covers, and the gaps between
// two entries per split seed with their sd over split seeds.

/** What these need of an experiment config and of its run records (experiment.ts's types carry more). */
interface ExperimentConfig {
  seeds: number[];
  splitSeeds?: number[];
  gaps?: [string, string][];
}
interface RunRecord {
  label: string;
  splitSeed?: number;
  test: Record<string, number>;
}

/** Sample mean and sample standard deviation (n - 1; 0 for one value). */
export function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}

export function seedsText(exp: ExperimentConfig): string {
  return `Seeds: ${exp.seeds.join(', ')}.${exp.splitSeeds ? ` Split seeds: ${exp.splitSeeds.join(', ')}.` : ''}`;
}

/** What a table's ± is. */
export function spreadText(exp: ExperimentConfig): string {
  if (!exp.splitSeeds) return 'mean ± std over seeds (sample sd, one data split)';
  return `mean ± sd over all ${exp.seeds.length * exp.splitSeeds.length} runs of an entry (${exp.seeds.length} model seeds x ${exp.splitSeeds.length} split seeds; ` +
    'sample sd over the runs, so it holds both the initialisation and the split)';
}

/** Every label a gap names is an entry of the experiment. */
export function checkGaps(exp: ExperimentConfig, labels: string[]): void {
  for (const [a, b] of exp.gaps ?? []) {
    const bad = [a, b].filter((l) => !labels.includes(l));
    if (bad.length) throw new Error(`experiment gaps: no entry labelled ${bad.join(', ')} (labels: ${labels.join(', ')})`);
  }
}

/**
 * Per split seed, the mean test AUC of a over its model seeds minus b's; then the mean and the sample sd of those
 * per-split gaps over split seeds (the seed-to-seed noise within a split averaged out first).
 */
export function splitGaps(runs: RunRecord[], a: string, b: string, splits: (number | undefined)[]): { split: number | undefined; gap: number }[] {
  const auc = (label: string, split: number | undefined) => runs.filter((r) => r.label === label && r.splitSeed === split).map((r) => r.test.auc);
  return splits.flatMap((split) => {
    const [xa, xb] = [auc(a, split), auc(b, split)];
    return xa.length && xb.length ? [{ split, gap: meanSd(xa).mean - meanSd(xb).mean }] : [];
  });
}

export function gapLines(exp: ExperimentConfig, runs: RunRecord[]): string[] {
  if (!exp.gaps?.length) return [];
  const splits = exp.splitSeeds ?? [undefined];
  const lines = ['', 'Test AUC gaps: per split seed, the mean over model seeds of a minus that of b; then the mean and the sample sd of the per-split gaps over split seeds.', '',
    `| a − b | ${splits.map((s) => `split ${s ?? 'default'}`).join(' | ')} | mean | sd over split seeds |`, `|---|${splits.map(() => '---').join('|')}|---|---|`];
  for (const [a, b] of exp.gaps) {
    const gaps = splitGaps(runs, a, b, splits);
    const at = (s: number | undefined) => gaps.find((g) => g.split === s)?.gap.toFixed(4) ?? '–';
    const { mean, sd } = meanSd(gaps.map((g) => g.gap));
    lines.push(`| ${a} − ${b} | ${splits.map(at).join(' | ')} | ${gaps.length ? mean.toFixed(4) : '–'} | ${gaps.length > 1 ? sd.toFixed(4) : '–'} |`);
  }
  return lines;
}
