// Small summary statistics for timings.

/** The median (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Least-squares slope of y on x (the line fitted to the points): sum((x - mean x)(y - mean y)) / sum((x - mean x)^2),
 * summed about the means (sums of raw products lose the slope when x is, say, a timestamp far from zero). NaN with
 * fewer than two distinct x.
 */
export function leastSquaresSlope(xs: readonly number[], ys: readonly number[]): number {
  if (xs.length !== ys.length) throw new Error(`leastSquaresSlope: ${xs.length} x values but ${ys.length} y values`);
  const n = xs.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) * (xs[i] - mx);
  }
  return n < 2 || sxx === 0 ? NaN : sxy / sxx;
}

/** Nearest-rank percentile: the value at index floor(q * n) of the sorted values (the last one for q = 1). */
export function percentile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** The mean of each column of rows [n, dim] (summed in float64). */
export function columnMeans(rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim, sum = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) sum[j] += rows[r * dim + j];
  return Float32Array.from(sum, (x) => (n ? x / n : 0));
}
