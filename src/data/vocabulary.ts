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

/**
 * Distinct keys in a fixed order, looked up by text: key -> position (-1 when absent) and back. A vocabulary's kept
 * values sit on one (in memory at training time, a binary table read in place at serving time), as do a bundle's
 * per-entity keys.
 */
export interface KeyIndex {
  readonly size: number;
  indexOf(key: string): number;
  /** indexOf of every key at once into `out` (a new array when absent): out[q] = indexOf(keys[q]). */
  indexOfAll(keys: readonly string[], out?: Int32Array): Int32Array;
  keyAt(i: number): string;
}

/** A KeyIndex over a string array (a Map from key to position, built on the first lookup). */
export class ArrayKeyIndex implements KeyIndex {
  private at: Map<string, number> | null = null;

  constructor(readonly keys: readonly string[]) {}

  get size(): number {
    return this.keys.length;
  }

  indexOf(key: string): number {
    this.at ??= new Map(this.keys.map((k, i) => [k, i]));
    return this.at.get(key) ?? -1;
  }

  indexOfAll(keys: readonly string[], out = new Int32Array(keys.length)): Int32Array {
    if (out.length < keys.length) throw new RangeError(`indexOfAll of ${keys.length} keys into an array of ${out.length}`);
    for (let q = 0; q < keys.length; q++) out[q] = this.indexOf(keys[q]);
    return out;
  }

  keyAt(i: number): string {
    return this.keys[i];
  }
}

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

  private constructor(private readonly index: KeyIndex, readonly hashBuckets: number) {}

  /** A vocabulary whose kept values (ids 2..) are the keys of `index`, in its order. */
  static over(index: KeyIndex, hashBuckets: number): Vocabulary {
    return new Vocabulary(index, hashBuckets);
  }

  /** Fits on value counts from the training split. Ties in frequency break by value text, so fits are stable. */
  static fit(counts: Map<string, number>, opts: VocabularyOptions = {}): Vocabulary {
    const minFreq = opts.minFreq ?? 1;
    const hashBuckets = opts.hashBuckets ?? 0;
    const maxSize = opts.maxSize ?? (hashBuckets > 0 ? 0 : Infinity);
    const kept = [...counts].filter(([, c]) => c >= minFreq);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new Vocabulary(new ArrayKeyIndex(kept.slice(0, maxSize).map(([t]) => t)), hashBuckets);
  }

  static fromJSON(j: VocabularyJson): Vocabulary {
    return new Vocabulary(new ArrayKeyIndex(j.tokens), j.hashBuckets);
  }

  /** The kept values in id order (over a binary table this builds every string: O(count)). */
  get tokens(): readonly string[] {
    if (this.index instanceof ArrayKeyIndex) return this.index.keys;
    return Array.from({ length: this.index.size }, (_, i) => this.index.keyAt(i));
  }

  /** Kept values (ids 2 .. 2 + count - 1). */
  get count(): number {
    return this.index.size;
  }

  toJSON(): VocabularyJson {
    return { tokens: [...this.tokens], hashBuckets: this.hashBuckets };
  }

  /** Rows an embedding table needs: the reserved ids, the kept values and the hash buckets. */
  get size(): number {
    return RESERVED + this.index.size + this.hashBuckets;
  }

  /** The id of a raw value, counting the lookup (and the miss, if it maps to OOV). */
  id(v: RawValue): number {
    return this.tally(this.peek(v));
  }

  /** Counts a lookup that gave `id` (ids resolved ahead of time, like a bundle's stored histories); returns it. */
  tally(id: number): number {
    this.lookups++;
    if (id === OOV_ID) this.oov++;
    return id;
  }

  /** The id without touching the counters (bulk encoding of the dataset itself). */
  peek(v: RawValue): number {
    const key = rawKey(v);
    if (key === null) return OOV_ID;
    const at = this.index.indexOf(key);
    if (at >= 0) return at + RESERVED;
    if (this.hashBuckets === 0) return OOV_ID;
    return RESERVED + this.index.size + (fnv1a(key) % this.hashBuckets);
  }

  /** True when the value has its own id (not OOV, not a hash bucket). */
  has(v: RawValue): boolean {
    const key = rawKey(v);
    return key !== null && this.index.indexOf(key) >= 0;
  }

  /** The raw value behind an id, or undefined for reserved ids and hash buckets. */
  token(id: number): string | undefined {
    return Number.isInteger(id) && id >= RESERVED && id < RESERVED + this.index.size ? this.index.keyAt(id - RESERVED) : undefined;
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
