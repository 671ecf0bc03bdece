// Request schemas (src/serve/schemas.ts): the plain `accepts` check that valid bodies take must agree with zod's
// verdict on every body — valid ones, each field broken in each way, boundaries of every limit, and random
// mixtures of them — so that skipping zod for valid bodies changes nothing but the cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/index.js';
import { schemas, validate, type Limits, type RequestSchema } from '../src/serve/schemas.js';

const limits: Limits = { maxCandidates: 50, maxK: 20, bodyLimit: 1 << 20 };
const S = schemas(limits);

const long = (n: number): string => 'x'.repeat(n);
/** Values a field may be given, of every JSON type and at every boundary the schemas draw. */
const VALUES: unknown[] = [
  undefined, null, true, false, 0, 1, -1, 1.5, 20, 21, 50, 51, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), NaN, Infinity, -Infinity,
  '', 'a', '12', long(200), long(201), long(256), long(257), long(1000), long(1001),
  [], ['a'], [1, 'b'], [true], [null], [['a']], [{}], Array(1000).fill('a'), Array(1001).fill(1), [long(1000)], [long(1001)], [NaN],
  {}, { a: 1 }, { a: [1] },
];
const USERS: unknown[] = [
  {}, { user_id: '1' }, { age: 31, gender: 'M', genres: ['Drama', 'Comedy'] }, { flag: true, none: null },
  { [long(200)]: 1 }, { [long(201)]: 1 }, { x: long(1001) }, { x: [long(1001)] }, { x: { y: 1 } }, { x: [[1]] }, { x: [true] }, { x: NaN },
  { x: Array(1001).fill('a') }, { x: ['a', , 'b'] }, null, [], 'u', 3, // eslint-disable-line no-sparse-arrays
];
const CANDIDATES: unknown[] = [
  [], ['1'], ['1', 2, '3'], Array.from({ length: 50 }, (_, i) => String(i)), Array.from({ length: 51 }, (_, i) => i),
  [''], ['1', , '2'], [long(256)], [long(257)], // eslint-disable-line no-sparse-arrays [1.5], [-3], [2 ** 53], [2 ** 53 - 1], [null], [true], [['1']], [{}], [NaN], [Infinity], '1', 7, null, {},
];

/** A valid body `base`, then every field of it replaced by every value of its pool, dropped, and random mixtures. */
function bodies(base: Record<string, unknown>, pools: Record<string, unknown[]>, rng: Rng): unknown[] {
  const keys = Object.keys(pools);
  const out: unknown[] = [base, null, [], 'body', 5, [base]];
  for (const k of keys) {
    for (const v of pools[k]) out.push({ ...base, [k]: v });
    const { [k]: _dropped, ...without } = base;
    out.push(without);
  }
  out.push({ ...base, extra: 1 }, { ...base, N: 1 }, { ...base, [long(5)]: undefined });
  // Random mixtures: each field kept, drawn from its pool (valid or not) or dropped; sometimes an unknown field.
  for (let i = 0; i < 400; i++) {
    const b: Record<string, unknown> = {};
    for (const k of keys) {
      const r = rng.uniform();
      if (r < 0.5) b[k] = base[k];
      else if (r < 0.95) b[k] = pools[k][Math.floor(rng.uniform() * pools[k].length)];
    }
    if (rng.uniform() < 0.05) b.other = VALUES[Math.floor(rng.uniform() * VALUES.length)];
    out.push(b);
  }
  return out;
}

function agree<T>(name: string, schema: RequestSchema<T>, cases: unknown[]): void {
  let accepted = 0;
  for (const body of cases) {
    const zod = schema.zod.safeParse(body).success;
    assert.equal(schema.accepts(body), zod, `${name}: accepts() and zod disagree on ${JSON.stringify(body)?.slice(0, 200)}`);
    const v = validate(schema, body);
    assert.equal(v.ok, zod);
    if (v.ok) {
      accepted++;
      assert.equal(v.value, body, 'a valid body is passed on as parsed');
    } else assert.ok(v.issues.length > 0, 'a rejected body has at least one issue');
  }
  assert.ok(accepted >= 10 && accepted < cases.length - 10, `${name}: ${accepted} of ${cases.length} accepted (the cases must have both kinds)`);
}

test('request schemas: the plain check accepts exactly the bodies zod accepts', () => {
  const rng = new Rng(4);
  const user = { user_id: '1', age: 31 };
  agree('prerank', S.prerank, bodies({ user, candidates: ['1', 2], n: 5 }, { user: USERS, candidates: CANDIDATES, n: VALUES }, rng));
  agree('score', S.score, bodies({ user, candidates: ['1', 2] }, { user: USERS, candidates: CANDIDATES }, rng));
  agree('retrieve', S.retrieve, bodies({ user, k: 5 }, { user: USERS, k: VALUES }, rng));
  const modes = ['ann', 'exact', 'fast', '', null, 1];
  agree('retrieve with search settings', S.retrieve, bodies({ user, k: 5, mode: 'ann', perHead: 0, sumDepth: 64, sumGroups: 3, ef: 32, maxCandidates: 50 },
    { user: USERS, k: VALUES, mode: modes, perHead: VALUES, sumDepth: VALUES, sumGroups: VALUES, ef: VALUES, maxCandidates: VALUES }, rng));
  agree('recommend', S.recommend, bodies({ user, n: 5, k: 20, exclude: ['1', 2], mode: 'exact' },
    { user: USERS, n: VALUES, k: VALUES, exclude: CANDIDATES, mode: modes }, rng));
  agree('reload', S.reload, bodies({ bundle: 'runs/x/bundle' }, { bundle: VALUES }, rng));
});

test('request schemas: a rejected body still gets zod\'s issues with their paths', () => {
  const v = validate(S.prerank, { user: { age: { x: 1 } }, candidates: ['1', '', 3], n: 0, extra: true });
  assert.equal(v.ok, false);
  if (v.ok) return;
  const paths = v.issues.map((i) => i.path).sort();
  assert.deepEqual(paths, ['candidates.1', 'extra', 'n', 'user.age']);
});
