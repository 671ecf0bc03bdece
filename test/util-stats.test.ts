import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/index.js';
import { leastSquaresSlope, median, percentile } from '../src/util/stats.js';

const close = (a: number, b: number, tol: number): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('median: the middle value, or the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('leastSquaresSlope: the fitted line through points on a line is that line', () => {
  const xs = [0, 1, 2, 5, 9];
  close(leastSquaresSlope(xs, xs.map((x) => 3 * x + 2)), 3, 1e-12);
  close(leastSquaresSlope(xs, xs.map((x) => 7 - 0.5 * x)), -0.5, 1e-12);
  assert.equal(leastSquaresSlope(xs, xs.map(() => 4)), 0);
});

test('leastSquaresSlope: a value worked out by hand, not the slope between the end points', () => {
  // x mean 1.5, y mean 2.75; sum (dx dy) = 2.625 - 0.125 - 0.375 + 3.375 = 5.5; sum dx^2 = 5 -> 1.1 (end points: 4/3)
  close(leastSquaresSlope([0, 1, 2, 3], [1, 3, 2, 5]), 1.1, 1e-12);
  // a spike at the end pulls the fit a little, the end-point slope a lot
  close(leastSquaresSlope([0, 1, 2, 3, 4], [0, 0, 0, 0, 10]), 2, 1e-12);
});

test('leastSquaresSlope: the order of the points does not matter', () => {
  const xs = [0, 1, 2, 3], ys = [1, 3, 2, 5];
  close(leastSquaresSlope([3, 0, 2, 1], [5, 1, 2, 3]), leastSquaresSlope(xs, ys), 1e-12);
});

test('leastSquaresSlope: recovers the slope of noisy samples, wherever time starts (minutes since the epoch)', () => {
  // 20 minutes of per-second RSS samples: 0.25 MiB/min of growth plus +-8 MiB of noise, x in minutes since the epoch
  const rng = new Rng(7);
  const t0 = Date.UTC(2026, 11, 5) / 60_000;
  const xs: number[] = [], ys: number[] = [];
  for (let s = 0; s < 1200; s++) {
    xs.push(t0 + s / 60);
    ys.push(512 + 0.25 * (s / 60) + 16 * (rng.uniform() - 0.5));
  }
  close(leastSquaresSlope(xs, ys), 0.25, 0.05);
  // shifting x or y changes nothing
  close(leastSquaresSlope(xs.map((x) => x - t0), ys.map((y) => y - 512)), leastSquaresSlope(xs, ys), 1e-9);
});

test('leastSquaresSlope: undefined with fewer than two distinct x; mismatched lengths throw', () => {
  assert.ok(Number.isNaN(leastSquaresSlope([], [])));
  assert.ok(Number.isNaN(leastSquaresSlope([1], [2])));
  assert.ok(Number.isNaN(leastSquaresSlope([1, 1, 1], [2, 3, 4])));
  assert.throws(() => leastSquaresSlope([1, 2], [1]), /2 x values but 1/);
});

test('percentile: nearest rank, the value at floor(q * n) of the sorted values; the input is left unsorted', () => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(xs, 0.5), 6);
  assert.equal(percentile(xs, 0.99), 10);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile(xs, 1), 10);
  assert.deepEqual(xs, [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
});
