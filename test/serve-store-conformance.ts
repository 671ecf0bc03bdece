// The one conformance suite every item store passes (run by serve-stores.test.ts for each entry of STORES), and the
// one every ANN index passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/index.js';
import { decodeRow, quantize, type ItemDType, type ItemTable } from '../src/export/item-table.js';
import type { AnnIndex } from '../src/serve/ann.js';
import type { ItemStore, StoreOpenOptions } from '../src/serve/stores/types.js';

export function randomTable(n: number, dim: number, dtype: ItemDType, seed = 1): ItemTable {
  const rng = new Rng(seed);
  const reps = Float32Array.from({ length: n * dim }, () => rng.normal() * 0.3);
  const ids = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? String(1000 + i) : `item:${i}/é`));
  return quantize(ids, reps, dim, dtype);
}

const expectedRow = (t: ItemTable, row: number): Float32Array => {
  const out = new Float32Array(t.dim);
  decodeRow(t, row, out, 0);
  return out;
};

export interface StoreHarness {
  /** Opens the store over `table` (each call a fresh key space / instance). */
  open(table: ItemTable, extra?: Partial<StoreOpenOptions>): Promise<ItemStore>;
  skip?: string;
}

export function storeConformance(name: string, h: StoreHarness): void {
  const t = (title: string, fn: () => Promise<void>) => test(`${name} store: ${title}`, { skip: h.skip }, fn);

  for (const dtype of ['float32', 'bfloat16', 'float16', 'int8'] as const) {
    t(`${dtype}: dim, size, and rows decoded exactly as the table decodes them, in request order`, async () => {
      const table = randomTable(300, 24, dtype);
      const s = await h.open(table);
      try {
        assert.equal(s.dim, 24);
        assert.equal(s.size, 300);
        const want = [5, 0, 299, 17, 5];
        const r = await s.get(want.map((i) => table.ids.keyAt(i)));
        assert.deepEqual(Array.from(r.found), [0, 1, 2, 3, 4]);
        assert.deepEqual(r.missing, []);
        assert.equal(r.reps.length, want.length * 24);
        want.forEach((row, k) => assert.deepEqual(r.reps.subarray(k * 24, (k + 1) * 24), expectedRow(table, row)));
        // In place: the table as stored, with its dtype (and an int8 table's row scales).
        const at = s.locate?.(want.map((i) => table.ids.keyAt(i)));
        if (at) {
          assert.equal(at.table, table);
          assert.equal(at.table.dtype, dtype);
          assert.deepEqual(Array.from(at.rows), want);
        }
      } finally {
        await s.close();
      }
    });
  }

  t('unknown ids are reported in request order (duplicates kept), never an error', async () => {
    const table = randomTable(50, 8, 'float32');
    const s = await h.open(table);
    try {
      const ids = ['nope', table.ids.keyAt(3), '', 'nope', table.ids.keyAt(49), 'item:50/é'];
      const r = await s.get(ids);
      assert.deepEqual(Array.from(r.found), [1, 4]);
      assert.deepEqual(r.missing, ['nope', '', 'nope', 'item:50/é']);
      assert.deepEqual(r.reps.subarray(0, 8), expectedRow(table, 3));
      assert.deepEqual(r.reps.subarray(8, 16), expectedRow(table, 49));
      const none = await s.get(['x', 'y']);
      assert.equal(none.found.length, 0);
      assert.equal(none.reps.length, 0);
      const empty = await s.get([]);
      assert.deepEqual([empty.found.length, empty.reps.length, empty.missing.length], [0, 0, 0]);
      // A store that can locate rows in place must agree with get() (found, missing, and the rows' values).
      const at = s.locate?.(ids);
      if (at) {
        assert.deepEqual(Array.from(at.found), Array.from(r.found));
        assert.deepEqual(at.missing, r.missing);
        at.rows.forEach((row, k) => assert.deepEqual(at.table.data.subarray(row * 8, row * 8 + 8), r.reps.subarray(k * 8, k * 8 + 8)));
      }
    } finally {
      await s.close();
    }
  });

  t('large batches (5,000 ids, repeated lookups) return the same rows', async () => {
    const table = randomTable(2000, 16, 'float16', 3);
    const s = await h.open(table, { lruRows: 100 });
    try {
      const rng = new Rng(9);
      const rows = Array.from({ length: 5000 }, () => rng.int(2000));
      for (let round = 0; round < 2; round++) {
        const r = await s.get(rows.map((i) => table.ids.keyAt(i)));
        assert.equal(r.found.length, 5000);
        for (const k of [0, 1, 777, 4999]) assert.deepEqual(r.reps.subarray(k * 16, (k + 1) * 16), expectedRow(table, rows[k]));
      }
    } finally {
      await s.close();
    }
  });

  t('get after close rejects', async () => {
    const s = await h.open(randomTable(4, 4, 'float32'));
    await s.close();
    await assert.rejects(s.get(['1000']), /closed/);
  });
}

export function annConformance(name: string, build: (reps: Float32Array, dim: number) => Promise<AnnIndex>): void {
  test(`${name} ANN index: top-k by inner product, best first; k larger than the catalogue`, async () => {
    const n = 500, dim = 16;
    const rng = new Rng(4);
    const reps = Float32Array.from({ length: n * dim }, () => rng.normal());
    const idx = await build(reps, dim);
    try {
      assert.equal(idx.size, n);
      let hits = 0, total = 0;
      for (let q = 0; q < 20; q++) {
        const query = Float32Array.from({ length: dim }, () => rng.normal());
        const dots = Array.from({ length: n }, (_, i) => query.reduce((s, v, j) => s + v * reps[i * dim + j], 0));
        const exact = dots.map((d, i) => [d, i]).sort((a, b) => b[0] - a[0]).slice(0, 10).map((x) => x[1]);
        const got = Array.from(idx.search(query, 10));
        assert.equal(got.length, 10);
        for (let i = 1; i < got.length; i++) assert.ok(dots[got[i - 1]] >= dots[got[i]] - 1e-5, 'best first');
        hits += got.filter((g) => exact.includes(g)).length;
        total += 10;
      }
      assert.ok(hits / total >= 0.9, `recall@10 ${hits / total}`);
      assert.equal(idx.search(new Float32Array(dim).fill(1), n + 50).length, n);
    } finally {
      idx.close();
    }
  });
}
