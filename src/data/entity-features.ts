// Per-entity derived features as serving reads them: a user's or item's fitted statistic and a user's history, by
// the entity's key. Two implementations: the JSON-shaped fit result (Maps, below) and a bundle's binary tables read
// in place (src/export/encoders-bin-read.ts). Both answer every key alike; FeatureEncoders.encodeRow scales and counts.
import type { Vocabulary } from './vocabulary.js';

export interface EntityFeatures {
  /** The raw (unscaled) statistic of the entity; undefined when it had no train rows (the caller falls back). */
  stat(name: string, key: string): number | undefined;
  /** The statistic of an entity without train rows (the global train value; 0 for counts). */
  fallback(name: string): number;
  /** The entity's last `maxLen` history items as ids of the history's vocabulary, oldest first; empty when none. */
  history(name: string, key: string, maxLen: number): Int32Array;
  /** Every statistic and history in the fitted JSON form (tables read in place enumerate their entities). */
  tables?(vocabulary: (feature: string) => Vocabulary): { stats: Record<string, StatJson>; history: HistoryJson };
}

export interface StatJson {
  keys: string[];
  values: number[];
  fallback: number;
}

/** Per history feature: user key -> item tokens, oldest first. */
export type HistoryJson = Record<string, Record<string, string[]>>;

const EMPTY = new Int32Array(0);

/** EntityFeatures over the fitted JSON: Maps from key to statistic row and to history tokens. */
export class JsonEntityFeatures implements EntityFeatures {
  private readonly histories: Map<string, Map<string, string[]>>;
  private readonly statRows = new Map<string, Map<string, number>>();

  constructor(private readonly stats: Record<string, StatJson>, history: HistoryJson,
    private readonly vocabulary: (feature: string) => Vocabulary) {
    this.histories = new Map(Object.entries(history).map(([name, perUser]) => [name, new Map(Object.entries(perUser))]));
  }

  stat(name: string, key: string): number | undefined {
    let rows = this.statRows.get(name);
    if (!rows) {
      rows = new Map(this.stats[name].keys.map((k, i) => [k, i]));
      this.statRows.set(name, rows);
    }
    const at = rows.get(key);
    return at === undefined ? undefined : this.stats[name].values[at];
  }

  fallback(name: string): number {
    return this.stats[name].fallback;
  }

  history(name: string, key: string, maxLen: number): Int32Array {
    const items = this.histories.get(name)?.get(key);
    if (!items) return EMPTY;
    const vocab = this.vocabulary(name);
    return Int32Array.from(items.slice(-maxLen), (t) => vocab.peek(t));
  }
}
