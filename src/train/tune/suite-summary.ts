// The tuning suite's verdict across datasets: for each dataset's default-vs-tuned experiment (entries `<kind>` and
// `<kind>-tuned`, model seeds x split seeds), each model's default and tuned test AUC, and the targets the suite
// holds the defaults and IntTower to: every default within 0.005 AUC of its tuned config; tuned IntTower at least
// tuned DSSM + 0.01 and at least tuned LR and tuned DCN, each gap taken per split seed (model seeds averaged first)
// with its sd over split seeds, as the experiments' own gap tables.
import { meanSd, splitGaps } from '../split-seeds.js';

/** What the summary reads of an experiment's results.json. */
export interface SuiteExperiment {
  name: string;
  splitSeeds: number[];
  runs: { label: string; splitSeed?: number; test: Record<string, number> }[];
}

/** A default must be within this much test AUC of its tuned config. */
export const DEFAULT_TOLERANCE = 0.005;
/** Tuned IntTower must lead tuned DSSM by at least this much test AUC. */
export const INTTOWER_LEAD = 0.01;

const f4 = (x: number) => x.toFixed(4);
/** A difference to 4 places with its sign (none when it rounds to zero). */
const signed = (x: number) => (Math.abs(x) < 5e-5 ? '0.0000' : `${x > 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`);

/** The gap a − b per split seed: its mean and sd over split seeds, or null when a split lacks either side. */
function gap(e: SuiteExperiment, a: string, b: string): { mean: number; sd: number } | null {
  const gaps = splitGaps(e.runs, a, b, e.splitSeeds);
  return gaps.length === e.splitSeeds.length && gaps.length > 0 ? meanSd(gaps.map((g) => g.gap)) : null;
}

/** Markdown: a table of default and tuned test AUC per dataset and model, then one of the targets per dataset. */
export function suiteSummary(experiments: SuiteExperiment[], kinds: string[]): string[] {
  const aucs = (e: SuiteExperiment, label: string) => e.runs.filter((r) => r.label === label).map((r) => r.test.auc);
  const cell = (xs: number[]) => (xs.length ? `${f4(meanSd(xs).mean)} ± ${f4(meanSd(xs).sd)} (${xs.length})` : '–');
  const lines = [
    'Test AUC, mean ± sample sd over the runs of a row (their count in brackets: model seeds x split seeds).', '',
    '| dataset | model | default | tuned | default − tuned | within 0.005 |', '|---|---|---|---|---|---|',
  ];
  for (const e of experiments) {
    for (const kind of kinds) {
      const [d, t] = [aucs(e, kind), aucs(e, `${kind}-tuned`)];
      const diff = d.length && t.length ? meanSd(d).mean - meanSd(t).mean : null;
      lines.push(`| ${e.name} | ${kind} | ${cell(d)} | ${cell(t)} | ${diff === null ? '–' : signed(diff)} | ` +
        `${diff === null ? '–' : Math.abs(diff) <= DEFAULT_TOLERANCE ? 'yes' : '**no**'} |`);
    }
  }
  const verdict = (g: { mean: number; sd: number } | null, least: number) =>
    (g === null ? '–' : `${signed(g.mean)} (sd ${f4(g.sd)}) ${g.mean >= least ? 'met' : '**not met**'}`);
  lines.push('', 'Targets: each gap is per split seed (the mean over model seeds of a minus that of b), then its mean and sample sd over split seeds.', '',
    '| dataset | tuned IntTower − tuned DSSM >= +0.01 | tuned IntTower − tuned LR >= 0 | tuned IntTower − tuned DCN >= 0 | default IntTower − default DSSM |',
    '|---|---|---|---|---|');
  for (const e of experiments) {
    const g = (a: string, b: string) => gap(e, a, b);
    const plain = g('int-tower', 'dssm');
    lines.push(`| ${e.name} | ${verdict(g('int-tower-tuned', 'dssm-tuned'), INTTOWER_LEAD)} | ${verdict(g('int-tower-tuned', 'lr-tuned'), 0)} | ` +
      `${verdict(g('int-tower-tuned', 'dcn-tuned'), 0)} | ${plain === null ? '–' : `${signed(plain.mean)} (sd ${f4(plain.sd)})`} |`);
  }
  return lines;
}
