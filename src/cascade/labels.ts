// Label aggregation (RankTower sec. 3.2): every logged sample gets one ordered scalar from its stage and, for
// impressions, the user's feedback. The mapping is configuration (labels in the cascade config); config.ts checks
// that it keeps the order feedback levels >= exposed >= ranking candidate >= pre-ranking candidate >= random.
import type { CascadeConfig } from './config.js';

export const STAGES = ['impression', 'ranking_candidate', 'prerank_candidate', 'random'] as const;
export type Stage = (typeof STAGES)[number];

export interface AggregatedLabel {
  label: number;
  /** The level's name: a feedback level, 'exposed', or the stage name for candidates and random samples. */
  level: string;
}

/**
 * An impression with feedback takes the first feedback level whose `min` it reaches (null matches any); an
 * impression without feedback, or below every level, is 'exposed'. Other stages take their stage's value: what the
 * user did with items that were never shown is unobservable in production, so it does not change their label
 * (it is still logged as raw feedback, for evaluation).
 */
export function aggregateLabel(labels: CascadeConfig['labels'], stage: Stage, feedback: number | null): AggregatedLabel {
  if (stage === 'impression') {
    if (feedback !== null) {
      for (const lv of labels.feedback) if (lv.min === null || feedback >= lv.min) return { label: lv.value, level: lv.name };
    }
    return { label: labels.exposed, level: 'exposed' };
  }
  if (stage === 'ranking_candidate') return { label: labels.rankingCandidate, level: stage };
  if (stage === 'prerank_candidate') return { label: labels.prerankCandidate, level: stage };
  return { label: labels.random, level: stage };
}

/** Every level name in label order, highest first (for reports). */
export function levelNames(labels: CascadeConfig['labels']): string[] {
  return [...labels.feedback.map((l) => l.name), 'exposed', 'ranking_candidate', 'prerank_candidate', 'random'];
}
