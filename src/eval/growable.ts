// Append-only typed array with amortised doubling, for metrics that must keep every score.

type Numeric = Float64Array | Uint8Array;

export class Growable<T extends Numeric> {
  private buf: T;
  private len = 0;

  constructor(private readonly make: (capacity: number) => T) {
    this.buf = make(1024);
  }

  get length(): number {
    return this.len;
  }

  /** Room for n more values; returns the buffer and the offset to write them at. Call commit(n) after writing. */
  reserve(n: number): { data: T; at: number } {
    if (this.len + n > this.buf.length) {
      const next = this.make(Math.max(this.len + n, 2 * this.buf.length));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    return { data: this.buf, at: this.len };
  }

  commit(n: number): void {
    this.len += n;
  }

  /** The values appended so far (a view, valid until the next reserve). */
  view(): T {
    return this.buf.subarray(0, this.len) as T;
  }

  clear(): void {
    this.len = 0;
  }
}

export const f64 = (n: number): Float64Array => new Float64Array(n);
export const u8 = (n: number): Uint8Array => new Uint8Array(n);
