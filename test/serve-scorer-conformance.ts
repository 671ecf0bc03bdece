// The one conformance suite every scorer passes (run by serve-scorers.test.ts for each bundle kind and each path that
// can serve it): scores are the model's own, best first with ties in request order and NaN last; unknown ids in
// request order; OOV values reported; odd candidate lists answered; retrieval as the bundle allows; and the paths
// that serve one bundle agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bundle } from '../src/export/bundle.js';
import type { ItemTable } from '../src/export/item-table.js';
import { RequestError, UnsupportedError, type ItemId, type Scorer, type ScoreResponse, type ScoreStats, type UserFeatures } from '../src/serve/scorer.js';
import { maxAbsDiff } from './serve-fixture.js';

export interface ScorerCase {
  bundle: Bundle;
  /** Raw users (as the service receives them) whose every feature value the encoders know. */
  users: UserFeatures[];
  /** The model's own logits (training-time model, eval mode) for a raw user against known item ids. */
  expected(user: UserFeatures, ids: string[]): Float32Array;
  /** How far a served score may be from expected(). */
  tol: number;
  /** A user-side column and a value of it the encoders never saw, and the feature it maps to OOV. */
  oov: { column: string; value: string; feature: string };
  /** A dense user-side column (a non-finite value is a missing one). */
  dense: string;
  /** The scorers of every path that can serve the bundle, over its item table or the given one; observe gets their stats. */
  paths(o: { table?: ItemTable; observe?: (s: ScoreStats) => void }): Record<string, Scorer>;
  /** Whether retrieve answers (two-tower bundles); the paths then get the bundle's kind of index as an exact scan. */
  retrieves: boolean;
}

const scoresById = (r: ScoreResponse): Map<ItemId, number> => new Map(r.items.map((x) => [x.id, x.score]));

/** Best first; equal scores in request order; NaN last. */
function assertRanked(r: ScoreResponse, candidates: ItemId[], what: string): void {
  const pos = new Map<ItemId, number[]>();
  candidates.forEach((c, i) => pos.set(c, [...(pos.get(c) ?? []), i]));
  const seen = new Map<ItemId, number>();
  const at = r.items.map((x) => {
    const k = seen.get(x.id) ?? 0;
    seen.set(x.id, k + 1);
    return pos.get(x.id)![k];
  });
  for (let i = 1; i < r.items.length; i++) {
    const [a, b] = [r.items[i - 1].score, r.items[i].score];
    if (Number.isNaN(a)) assert.ok(Number.isNaN(b), `${what}: a NaN score at #${i - 1} before ${b}`);
    else if (!Number.isNaN(b)) assert.ok(a > b || (a === b && at[i - 1] < at[i]), `${what}: #${i - 1} (${a}, request #${at[i - 1]}) before #${i} (${b}, request #${at[i]})`);
  }
}

/** A NaN as each table dtype stores it (int8: a zero row whose scale is NaN). */
const NAN_OF = { float32: NaN, bfloat16: 0x7fc0, float16: 0x7e00, int8: 0 } as const;

/** A permutation of xs by a fixed stride (not sorted, not reversed). */
const shuffled = <T>(xs: T[]): T[] => xs.map((_, i) => xs[(i * 7 + 3) % xs.length]);

export function scorerConformance(name: string, open: () => Promise<ScorerCase>): void {
  const each = (title: string, fn: (c: ScorerCase, path: string, s: Scorer) => Promise<void>) =>
    test(`${name} scorer: ${title}`, async () => {
      const c = await open();
      for (const [path, s] of Object.entries(c.paths({}))) await fn(c, path, s);
    });

  each('every known candidate gets the model\'s own score, best first, ties in request order', async (c, path, s) => {
    const ids = shuffled(itemKeys(c));
    for (const [u, user] of c.users.entries()) {
      const r = await s.scoreAll({ user, candidates: ids });
      assert.equal(r.items.length, ids.length);
      assert.deepEqual([r.unknown, r.oov, r.modelVersion], [[], [], c.bundle.modelVersion]);
      assertRanked(r, ids, `${path} user ${u}`);
      const want = c.expected(user, ids);
      const got = scoresById(r);
      const served = Float32Array.from(ids, (id) => got.get(id)!);
      assert.ok(maxAbsDiff(served, want) <= c.tol, `${path} user ${u}: max diff to the model ${maxAbsDiff(served, want)} (tolerance ${c.tol})`);
    }
  });

  each('prerank gives the first n of the full ranking; n above the candidates gives them all', async (c, path, s) => {
    const ids = shuffled(itemKeys(c)).slice(0, 40);
    const all = await s.scoreAll({ user: c.users[0], candidates: ids });
    for (const n of [1, 5, 39, 40]) assert.deepEqual((await s.prerank({ user: c.users[0], candidates: ids, n })).items, all.items.slice(0, n), `${path} n ${n}`);
    assert.deepEqual((await s.prerank({ user: c.users[0], candidates: ids, n: 1000 })).items, all.items, `${path} n 1000`);
    assert.deepEqual((await s.prerank({ user: c.users[0], candidates: ids })).items, all.items, `${path} no n`);
  });

  each('unknown ids are reported in request order (duplicates kept); a duplicate known id is scored at each place', async (c, path, s) => {
    const [a, b] = itemKeys(c);
    const candidates: ItemId[] = ['nope', a, 7, 'nope', b, a, ''];
    const stats: ScoreStats[] = [];
    const observed = c.paths({ observe: (x) => stats.push(x) })[path];
    const r = await observed.prerank({ user: c.users[0], candidates, n: 10 });
    assert.deepEqual(r.unknown, ['nope', 7, 'nope', ''], path);
    assert.equal(r.items.length, 3, path);
    const dup = r.items.filter((x) => x.id === a);
    assert.equal(dup.length, 2, `${path}: both places of ${a}`);
    assert.equal(dup[0].score, dup[1].score, `${path}: one item, one score`);
    assertRanked(r, candidates, path);
    assert.deepEqual(stats.map((x) => [x.route, x.candidates, x.unknown]), [['prerank', 7, 4]], path);
    assert.equal(stats[0].userRep !== undefined, c.bundle.twoTower, `${path}: userRep is reported for two-tower models only`);
  });

  each('concurrent requests keep their own users and answers', async (c, path, s) => {
    const ids = shuffled(itemKeys(c));
    const one = async (user: UserFeatures) => (await s.prerank({ user, candidates: ids, n: 10 })).items;
    const want: ScoreResponse['items'][] = [];
    for (const user of c.users) want.push(await one(user));
    const got = await Promise.all([...c.users, ...c.users].map(one));
    got.forEach((g, i) => assert.deepEqual(g, want[i % c.users.length], `${path} request ${i}`));
    assert.notDeepEqual(want[0], want[1], 'two users rank differently (else this could not tell them apart)');
  });

  each('no candidates, or only unknown ones, answer an empty ranking', async (c, path, s) => {
    for (const candidates of [[], ['x', 'y', 'x']]) {
      const r = await s.prerank({ user: c.users[0], candidates, n: 5 });
      assert.deepEqual([r.items, r.unknown, r.oov], [[], candidates, []], `${path} ${JSON.stringify(candidates)}`);
    }
  });

  each('OOV values are reported by feature and still scored; an unknown user feature is a RequestError', async (c, path, s) => {
    const ids = itemKeys(c).slice(0, 8);
    const user = { ...c.users[0], [c.oov.column]: c.oov.value };
    const r = await s.scoreAll({ user, candidates: ids });
    assert.ok(r.oov.includes(c.oov.feature), `${path}: oov ${JSON.stringify(r.oov)} lacks ${c.oov.feature}`);
    assert.equal(r.items.length, ids.length);
    const want = c.expected(user, ids);
    const got = scoresById(r);
    assert.ok(maxAbsDiff(Float32Array.from(ids, (id) => got.get(id)!), want) <= c.tol, `${path}: an OOV user is scored as the model scores it`);
    await assert.rejects(s.scoreAll({ user: { ...c.users[0], nosuch: 1 }, candidates: ids }),
      (e: Error) => e instanceof RequestError && e.path === 'user.nosuch' && /unknown user feature 'nosuch'/.test(e.message), path);
  });

  each('a non-finite user value is a missing one: the same scores as without it', async (c, path, s) => {
    const ids = itemKeys(c).slice(0, 8);
    const { [c.dense]: _, ...without } = c.users[0];
    const want = (await s.scoreAll({ user: without, candidates: ids })).items;
    for (const v of [NaN, Infinity]) {
      const got = (await s.scoreAll({ user: { ...c.users[0], [c.dense]: v }, candidates: ids })).items;
      assert.deepEqual(got, want, `${path} ${c.dense} = ${v}`);
      assert.ok(got.every((x) => Number.isFinite(x.score)), path);
    }
  });

  test(`${name} scorer: a NaN in a candidate's rep gives it a NaN score, ranked last, on every path`, async (t) => {
    const c = await open();
    const items = c.bundle.items;
    if (!items) return; // full-pair scoring reads encoded features, which hold no NaN
    const bad = 2;
    const data = items.data.slice();
    data.fill(NAN_OF[items.dtype] as never, bad * items.dim, bad * items.dim + 3); // one head's first values
    const scales = items.scales?.slice();
    if (scales) scales[bad] = NaN;
    const table: ItemTable = { ...items, data, scales, mapped: false };
    const ids = [0, 1, 2, 3, 4].map((i) => items.ids.keyAt(i));
    for (const [path, s] of Object.entries(c.paths({ table }))) {
      await t.test(path, async () => {
        const r = await s.scoreAll({ user: c.users[0], candidates: ids });
        const shown = JSON.stringify(r.items.map((x) => [x.id, String(x.score)]));
        assert.equal(r.items.length, 5);
        assert.equal(r.items[4].id, ids[bad], shown);
        assert.ok(Number.isNaN(r.items[4].score), shown);
        assert.ok(r.items.slice(0, 4).every((x) => Number.isFinite(x.score)), shown);
        assert.deepEqual((await s.prerank({ user: c.users[0], candidates: ids, n: 2 })).items, r.items.slice(0, 2));
      });
    }
  });

  each('retrieve answers the exact top-k of the catalogue in exact mode and through an index searched to full depth; single-tower bundles refuse', async (c, path, s) => {
    if (!c.retrieves) {
      await assert.rejects(s.retrieve({ user: c.users[0], k: 3 }), (e: Error) => e instanceof UnsupportedError, path);
      await assert.rejects(s.recommend({ user: c.users[0], n: 3 }), (e: Error) => e instanceof UnsupportedError, path);
      return;
    }
    const n = itemKeys(c).length;
    for (const user of c.users) {
      const all = await s.scoreAll({ user, candidates: itemKeys(c) });
      const full = { perHead: 100_000, ef: 100_000, maxCandidates: n };
      for (const req of [{ mode: 'exact' as const }, { mode: 'ann' as const, ...full }, {}]) {
        const what = `${path} ${JSON.stringify(req)}`;
        const r = await s.retrieve({ user, k: 5, ...req });
        assert.deepEqual(r.items.map((x) => x.id), all.items.slice(0, 5).map((x) => x.id), what);
        r.items.forEach((x, i) => assert.ok(Math.abs(x.score - all.items[i].score) <= 1e-5, `${what} #${i}`));
      }
    }
  });

  each('recommend returns the best n of the retrieved items without the excluded ids', async (c, path, s) => {
    if (!c.retrieves) return;
    const top = (await s.retrieve({ user: c.users[0], k: 6, mode: 'exact' })).items;
    const exclude = [top[0].id, top[2].id, 'no-such-item'];
    const r = await s.recommend({ user: c.users[0], n: 3, k: 6, exclude, mode: 'exact' });
    assert.deepEqual(r.items.map((x) => x.id), [top[1].id, top[3].id, top[4].id], path);
  });

  test(`${name} scorer: every path that serves the bundle gives the same scores`, async () => {
    const c = await open();
    const paths = Object.entries(c.paths({}));
    const ids = itemKeys(c);
    for (const user of c.users) {
      const ref = await paths[0][1].scoreAll({ user, candidates: ids });
      for (const [path, s] of paths.slice(1)) {
        const got = scoresById(await s.scoreAll({ user, candidates: ids }));
        const diff = Math.max(...ref.items.map((x) => Math.abs(x.score - got.get(x.id)!)));
        assert.ok(diff <= c.tol, `${path} against ${paths[0][0]}: max diff ${diff}`);
      }
    }
  });
}

function itemKeys(c: ScorerCase): string[] {
  const ids = c.bundle.items?.ids ?? c.bundle.itemFeatures!.ids;
  return Array.from({ length: ids.size }, (_, i) => ids.keyAt(i));
}
