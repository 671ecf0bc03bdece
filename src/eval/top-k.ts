// Top-K selection over N scores with a K-element heap: O(N log K), no full sort. The one top-k of the TypeScript
// side: ranking metrics, the scorer's tensor path, the brute-force ANN index. (The native plan has its own, in C++,
// with the same order: test/serve-plan.test.ts compares them.)
// Order: higher score first; equal scores rank the lower item index first.

/** What a NaN score does: throw (a metric over a NaN is meaningless), or rank below every number (serving). */
export type NanRule = 'throw' | 'last';

/**
 * Indices of the best min(K, candidates) items, best first. Items with exclude[i] !== 0 are skipped. A NaN score
 * throws, or with `nan = 'last'` ranks below -Infinity (NaNs among themselves by index), as the native plan ranks it.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: ArrayLike<number>, nan: NanRule = 'throw'): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new Error(`topK: K must be a non-negative integer, got ${k}`);
  const n = scores.length;
  if (exclude !== undefined && exclude.length !== n) throw new Error(`topK: ${n} scores but ${exclude.length} mask entries`);
  const heap = new Int32Array(Math.min(k, n)); // heap[0] is the worst item kept
  const cap = heap.length;
  const nans: number[] = []; // NaN-scored candidates in index order, kept only while they could still fill the top
  let size = 0;
  // a ranks below b
  const worse = (a: number, b: number): boolean => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (from: number): void => {
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) return;
      const c = l + 1 < size && worse(heap[l + 1], heap[l]) ? l + 1 : l;
      if (!worse(heap[c], heap[i])) return;
      const t = heap[i];
      heap[i] = heap[c];
      heap[c] = t;
      i = c;
    }
  };
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (Number.isNaN(s)) {
      if (nan === 'throw') throw new Error(`topK: score ${i} is NaN`);
      if ((exclude === undefined || exclude[i] === 0) && nans.length < cap) nans.push(i);
      continue;
    }
    if (exclude !== undefined && exclude[i] !== 0) continue;
    if (size < cap) {
      let j = size++;
      heap[j] = i;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!worse(heap[j], heap[p])) break;
        const t = heap[j];
        heap[j] = heap[p];
        heap[p] = t;
        j = p;
      }
    } else if (cap > 0 && s > scores[heap[0]]) {
      heap[0] = i; // a later index never beats an equal score, so only strictly higher scores enter
      siftDown(0);
    }
  }
  const out = new Int32Array(Math.min(cap, size + nans.length));
  for (let j = size; j < out.length; j++) out[j] = nans[j - size];
  for (let r = size - 1; r >= 0; r--) {
    out[r] = heap[0];
    heap[0] = heap[--size];
    siftDown(0);
  }
  return out;
}
