// Raw categorical value -> embedding row. Ids 0 (padding) and 1 (out-of-vocabulary) are reserved; kept values
// take ids 2.. in order of decreasing train frequency; with hashing, values outside the vocabulary take one of
// `hashBuckets` ids after the kept values instead of OOV.

export const PAD_ID = 0;
export const OOV_ID = 1;
const RESERVED = 2;

export interface VocabularyOptions {
  minFreq?: number;
  maxSize?: number;
  hashBuckets?: number;
}

export interface VocabularyJson {
  tokens: string[];
  hashBuckets: number;
}

export type RawValue = string | number | bigint | boolean | null | undefined;

/** Canonical text of a raw value: every path from a raw value to an id goes through this. */
export function rawKey(v: RawValue): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  const s = String(v);
  return s === '' ? null : s;
}

export class Vocabulary {
  /** Lookups and OOV results since creation (or `resetCounts`): the serving-time unknown-id count. */
  lookups = 0;
  oov = 0;
  private readonly ids: Map<string, number>;

  private constructor(readonly tokens: readonly string[], readonly hashBuckets: number) {
    this.ids = new Map(tokens.map((t, i) => [t, i + RESERVED]));
  }

  /** Fits on value counts from the training split. Ties in frequency break by value text, so fits are stable. */
  static fit(counts: Map<string, number>, opts: VocabularyOptions = {}): Vocabulary {
    const minFreq = opts.minFreq ?? 1;
    const hashBuckets = opts.hashBuckets ?? 0;
    const maxSize = opts.maxSize ?? (hashBuckets > 0 ? 0 : Infinity);
    const kept = [...counts].filter(([, c]) => c >= minFreq);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new Vocabulary(kept.slice(0, maxSize).map(([t]) => t), hashBuckets);
  }

  static fromJSON(j: VocabularyJson): Vocabulary {
    return new Vocabulary(j.tokens, j.hashBuckets);
  }

  toJSON(): VocabularyJson {
    return { tokens: [...this.tokens], hashBuckets: this.hashBuckets };
  }

  /** Rows an embedding table needs: the reserved ids, the kept values and the hash buckets. */
  get size(): number {
    return RESERVED + this.tokens.length + this.hashBuckets;
  }

  /** The id of a raw value, counting the lookup (and the miss, if it maps to OOV). */
  id(v: RawValue): number {
    const id = this.peek(v);
    this.lookups++;
    if (id === OOV_ID) this.oov++;
    return id;
  }

  /** The id without touching the counters (bulk encoding of the dataset itself). */
  peek(v: RawValue): number {
    const key = rawKey(v);
    if (key === null) return OOV_ID;
    const id = this.ids.get(key);
    if (id !== undefined) return id;
    if (this.hashBuckets === 0) return OOV_ID;
    return RESERVED + this.tokens.length + (fnv1a(key) % this.hashBuckets);
  }

  /** True when the value has its own id (not OOV, not a hash bucket). */
  has(v: RawValue): boolean {
    const key = rawKey(v);
    return key !== null && this.ids.has(key);
  }

  /** The raw value behind an id, or undefined for reserved ids and hash buckets. */
  token(id: number): string | undefined {
    return id >= RESERVED ? this.tokens[id - RESERVED] : undefined;
  }

  resetCounts(): void {
    this.lookups = 0;
    this.oov = 0;
  }
}

/** 32-bit FNV-1a over UTF-16 code units: stable across runs and machines, cheap. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
