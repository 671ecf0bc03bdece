// The two-tower models' formulas against float64 computations written here from their papers: IntTower's Light-SE,
// FE-Block max-sim and CIR loss, DAT's dual augmented towers and adaptive-mimic loss, RankTower's gated towers,
// gated cross-attention and max-sim. The registry's models run their real float32 forward on a three-row batch with
// every weight drawn from U(-0.5, 0.5); batch norm is off and the models are in eval mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, Tensor, backward, scope } from '../src/core/index.js';
import type { Module } from '../src/nn/index.js';
import type { IntTowerConfig } from '../src/models/int-tower.js';
import type { RecModel } from '../src/models/types.js';
import {
  ITEM_SIDE, Params, USER_SIDE, add, affine, assertClose, buildFilled, chunks, denseRow, dot, fieldRows, l2n,
  mlpOutputs, mulv, run, scalev, sigmoid, silu, softmax, sub, subModule, sum, tinyBatch, type Mat, type Vec,
} from './helpers/float64.js';

const batch = tinyBatch();
const ROWS = [0, 1, 2];
const D = 3;
const INT_TOWER = { embedDim: D, tower: [4, 3], dropout: 0, batchNorm: false, heads: 2, headSize: 2 } satisfies IntTowerConfig;

/** IntTower's Light-SE on one row's fields: k = softmax(mean_D(e) W (+ b)); paper e_f k_f, authors' code e_f + e_f k_f. */
function lightSeByHand(p: Params, prefix: string, e: Mat, residual: boolean): Mat {
  const z = e.map((ef) => sum(ef) / ef.length);
  const k = softmax(affine(z, p.mat(`${prefix}.fc.weight`), residual ? undefined : p.vec(`${prefix}.fc.bias`)));
  return e.map((ef, f) => (residual ? add(ef, scalev(ef, k[f])) : scalev(ef, k[f])));
}

test('Light-SE reweights field f by softmax(mean_D(e) W + b)_f (paper), or adds the reweighted field to e (authors\' residual form)', () => {
  const [B, F] = [2, 3];
  const rng = new Rng(11);
  const data = Float32Array.from({ length: B * F * D }, () => 2 * rng.uniform() - 1);
  for (const lightSe of ['paper', 'residual'] as const) {
    const model = buildFilled('int-tower', { ...INT_TOWER, lightSe });
    const p = new Params(model);
    const want = chunks(Array.from(data), F * D).flatMap((row) => lightSeByHand(p, 'userSe', chunks(row, D), lightSe === 'residual').flat());
    const se = subModule<Module & { forward(t: Tensor): Tensor }>(model, 'userSe');
    assertClose(run(() => se.forward(Tensor.from(data, [B, F, D]))), want, `Light-SE ${lightSe}`);
  }
});

interface IntTowerReps { user: Vec[][][]; item: Vec[][] }

/**
 * IntTower's towers by hand: Light-SE, then the MLP (ReLU on every layer, dense features after Light-SE), each
 * tapped user layer and the item's last layer projected to H heads of size P, each head L2-normalised unless
 * normalizeHeads is false. user[row][layer][head], item[row][head].
 */
function intTowerReps(p: Params, c: Required<Pick<IntTowerConfig, 'lightSe' | 'taps' | 'normalizeHeads'>>): IntTowerReps {
  const headsOf = (v: Vec): Vec[] => chunks(v, INT_TOWER.headSize).map((h) => (c.normalizeHeads ? l2n(h) : h));
  const L = INT_TOWER.tower.length;
  const input = (row: number, sides: string[], se: string): Vec => {
    const e = fieldRows(p, batch, row, sides);
    const refined = c.lightSe === 'none' ? e : lightSeByHand(p, se, e, c.lightSe === 'residual');
    return [...refined.flat(), ...denseRow(batch, row, sides)];
  };
  return {
    user: ROWS.map((r) => {
      const x = input(r, USER_SIDE, 'userSe');
      const outs = mlpOutputs(p, 'user', c.taps === 'input' ? L - 1 : L, x, true);
      const taps = c.taps === 'output' ? outs : c.taps === 'input' ? [x, ...outs] : [outs[L - 1]];
      return taps.map((t, i) => headsOf(affine(t, p.mat(`userHead${i}.weight`), p.vec(`userHead${i}.bias`))));
    }),
    item: ROWS.map((r) => {
      const h = mlpOutputs(p, 'item', L, input(r, ITEM_SIDE, 'itemSe'), true)[L - 1];
      return headsOf(affine(h, p.mat('itemHead.weight'), p.vec('itemHead.bias')));
    }),
  };
}

/** FE-Block: sum over tapped layers i and user heads a of max over item heads b of <u_a^i, v_b>, over T, plus the bias. */
function feBlock(user: Vec[][], item: Vec[], bias: number, temperature = 1): number {
  return sum(user.flatMap((layer) => layer.map((u) => Math.max(...item.map((v) => dot(u, v)))))) / temperature + bias;
}

test('IntTower logit is the FE-Block max-sim: sum over user layers and heads of the max over item heads of <u, v>, / T, plus b', () => {
  const variants = [
    { lightSe: 'paper', taps: 'output', normalizeHeads: true, temperature: 1 }, // the paper
    { lightSe: 'residual', taps: 'input', normalizeHeads: false, temperature: 1 }, // the authors' code: residual Light-SE, input taps, raw dots
    { lightSe: 'residual', taps: 'output', normalizeHeads: true, temperature: 0.3 },
  ] as const;
  for (const c of variants) {
    const model = buildFilled('int-tower', { ...INT_TOWER, ...c });
    const p = new Params(model);
    const reps = intTowerReps(p, c);
    const want = ROWS.map((r) => feBlock(reps.user[r], reps.item[r], p.scalar('bias'), c.temperature));
    assertClose(run(() => model.forward(batch)), want, `int-tower logits ${JSON.stringify(c)}`);
    // One user's cached rep against every item: the serving path (one GEMM, then the grouped max).
    const uRep = run(() => model.encodeUser!(batch));
    const vRep = Tensor.from(Float32Array.from(run(() => model.encodeItem!(batch))), [3, reps.item[0].flat().length]);
    const one = Tensor.from(Float32Array.from(uRep.slice(0, uRep.length / 3)), [1, uRep.length / 3]);
    assertClose(run(() => model.score!(one, vRep)), ROWS.map((r) => feBlock(reps.user[0], reps.item[r], p.scalar('bias'), c.temperature)), 'one user x items');
  }
});

test('CIR is lambda1 x the mean over positive rows q of -log softmax_j(cos(u_q, v_j) / tau) at j = q, on last-layer heads', () => {
  const c = { lightSe: 'paper', taps: 'output', normalizeHeads: true } as const;
  const [tau, lambda1] = [0.5, 0.3];
  const model = buildFilled('int-tower', { ...INT_TOWER, ...c, cirTemperature: tau, cirWeight: lambda1 });
  const p = new Params(model);
  const reps = intTowerReps(p, c);
  const u = reps.user.map((layers) => l2n(layers[layers.length - 1].flat())); // [B, H*P], flattened then normalised
  const v = reps.item.map((heads) => l2n(heads.flat()));
  const positives = ROWS.filter((r) => batch.label[r] > 0.5);
  const nce = positives.map((q) => -Math.log(softmax(v.map((vj) => dot(u[q], vj) / tau))[q]));
  const want = lambda1 * sum(nce) / positives.length;
  assertClose([scope(() => model.loss(batch).parts.cir)], [want], 'cir');
});

const DAT = { embedDim: D, tower: [4, 3], dropout: 0, batchNorm: false, temperature: 0.5, l2Embedding: 0 };

/** DAT's towers by hand: p = l2n(MLP([fields, dense, a])), a the row's augmented vector (looked up by uid / iid). */
function datReps(p: Params): { pu: Vec[]; pv: Vec[]; au: Vec[]; av: Vec[] } {
  const au = ROWS.map((r) => p.row('augUser.table', batch.sparse.uid[r]));
  const av = ROWS.map((r) => p.row('augItem.table', batch.sparse.iid[r]));
  const tower = (name: string, sides: string[], a: Vec[]): Vec[] => ROWS.map((r) =>
    l2n(mlpOutputs(p, name, 2, [...fieldRows(p, batch, r, sides).flat(), ...denseRow(batch, r, sides), ...a[r]], false)[1]));
  return { pu: tower('user', USER_SIDE, au), pv: tower('item', ITEM_SIDE, av), au, av };
}

test('DAT logit is <p_u, p_v> / T + b with p = l2n(tower([features, augmented vector]))', () => {
  const model = buildFilled('dat', DAT);
  const p = new Params(model);
  const { pu, pv } = datReps(p);
  assertClose(run(() => model.forward(batch)), ROWS.map((r) => dot(pu[r], pv[r]) / DAT.temperature + p.scalar('bias')), 'dat logits');
});

test('DAT mimic loss is l_u/B sum_b y_b ||a_u - p_v||^2 (and l_v for a_v), and its gradient reaches only the augmented vectors', () => {
  const [lu, lv] = [0.7, 1.3];
  const model = buildFilled('dat', { ...DAT, mimicUser: lu, mimicItem: lv });
  const p = new Params(model);
  const { pu, pv, au, av } = datReps(p);
  const y = Array.from(batch.label);
  const mimic = (a: Vec[], t: Vec[], w: number): number => (w / 3) * sum(ROWS.map((r) => y[r] * dot(sub(a[r], t[r]), sub(a[r], t[r]))));
  const parts = scope(() => model.loss(batch).parts);
  assertClose([parts.mimicUser, parts.mimicItem], [mimic(au, pv, lu), mimic(av, pu, lv)], 'mimic losses');

  // The same weights without the mimic terms: the gradients differ by d(mimic)/da = 2 w/B y (a - p) on the augmented
  // vectors' rows, and not at all on the towers (stop-gradient on p).
  const plain = buildFilled('dat', { ...DAT, mimicUser: 0, mimicItem: 0 });
  const grads = (m: RecModel): Map<string, Vec> => {
    scope(() => backward(m.loss(batch).loss));
    return new Map(m.namedParameters().map(([n, t]) => [n, denseGrad(t)]));
  };
  const [g1, g0] = [grads(model), grads(plain)];
  for (const [name, g] of g1) {
    const diff = sub(g, g0.get(name)!);
    if (name === 'augUser.table' || name === 'augItem.table') {
      const [a, target, w, ids] = name === 'augUser.table' ? [au, pv, lu, batch.sparse.uid] : [av, pu, lv, batch.sparse.iid];
      const O = a[0].length;
      const want = new Array<number>(diff.length).fill(0);
      ROWS.forEach((r) => scalev(sub(a[r], target[r]), (2 * w / 3) * y[r]).forEach((x, j) => { want[ids[r] * O + j] += x; }));
      assertClose(diff, want, `${name} gradient from the mimic loss`);
    } else {
      assert.ok(Math.max(...diff.map(Math.abs)) <= 1e-6 * Math.max(1e-3, ...g.map(Math.abs)), `${name}: the mimic loss moved a tower parameter`);
    }
  }
});

/** A parameter's gradient as a dense float64 vector (sparse embedding rows summed into place). */
function denseGrad(t: Tensor): Vec {
  const out = new Array<number>(t.size).fill(0);
  if (t.grad) t.grad.data.subarray(0, t.size).forEach((x, i) => { out[i] = x; });
  const width = t.shape[t.shape.length - 1];
  t.sparseGrad?.ids.forEach((ids, k) => ids.forEach((id, j) => {
    for (let c = 0; c < width; c++) out[id * width + c] += t.sparseGrad!.rows[k][j * width + c];
  }));
  return out;
}

const RANK_TOWER = { embedDim: D, tower: [4], dropout: 0, batchNorm: false, userHeads: 3, itemHeads: 2, headSize: 2, gateHidden: 3, temperature: 0.5 };

/** LayerNorm over one sub-space: (x - mean) / sqrt(var + 1e-5) gamma + beta, biased variance. */
function layerNorm(x: Vec, gamma: Vec, beta: Vec): Vec {
  const m = sum(x) / x.length;
  const v = sum(x.map((xi) => (xi - m) ** 2)) / x.length;
  return x.map((xi, i) => ((xi - m) / Math.sqrt(v + 1e-5)) * gamma[i] + beta[i]);
}

/**
 * One GAU direction for one pair, from the query side's sub-spaces E, queries Q and gates U and the other side's keys
 * K and values V: out_a = LN(E_a + (U_a * sum_b softmax_b(Q_a . K_b / sqrt d) V_b) W_o + b_o).
 */
function gauByHand(p: Params, br: string, e: Vec[], q: Vec[], u: Vec[], k: Vec[], v: Vec[]): Vec[] {
  return e.map((ea, a) => {
    const att = softmax(k.map((kb) => dot(q[a], kb) / Math.sqrt(q[a].length)));
    const av = att.reduce((acc, w, b) => add(acc, scalev(v[b], w)), new Array<number>(v[0].length).fill(0));
    const o = affine(mulv(u[a], av), p.mat(`${br}.o.weight`), p.vec(`${br}.o.bias`));
    return layerNorm(add(ea, o), p.vec(`${br}.ln.gamma`), p.vec(`${br}.ln.beta`));
  });
}

/** Max-sim over cosines of the attended sub-spaces, times 1/tau = exp(logInvTau), plus b. */
function maxSimByHand(p: Params, au: Vec[], ai: Vec[]): number {
  const s = sum(au.map(l2n).map((x) => Math.max(...ai.map(l2n).map((y) => dot(x, y)))));
  return s * Math.exp(p.scalar('logInvTau')) + p.scalar('bias');
}

test('RankTower pair score: both GAU directions, LayerNorm, then max-sim of cosines x 1/tau + b (on any cached reps)', () => {
  const model = buildFilled('rank-tower', RANK_TOWER);
  const p = new Params(model);
  const { userHeads: Hu, itemHeads: Hi, headSize: k } = RANK_TOWER;
  const rng = new Rng(12);
  const rand = (n: number): Vec => Array.from({ length: n }, () => Math.fround(4 * rng.uniform() - 2)); // wide: sharp attention
  const N = 2;
  const users = ROWS.slice(0, N).map(() => rand(5 * Hu * k));
  const items = ROWS.slice(0, N).map(() => rand(5 * Hi * k));
  const want = users.map((ur, n) => {
    const [eu, qu, uu, ku, vu] = chunks(ur, Hu * k).map((part) => chunks(part, k)); // user rep: [E, Q, U, K', V']
    const [ei, ki, vi, qi, ui] = chunks(items[n], Hi * k).map((part) => chunks(part, k)); // item rep: [E, K, V, Q', U']
    return maxSimByHand(p, gauByHand(p, 'userToItem', eu, qu, uu, ki, vi), gauByHand(p, 'itemToUser', ei, qi, ui, ku, vu));
  });
  const asTensor = (rows: Vec[]): Tensor => Tensor.from(Float32Array.from(rows.flat()), [N, rows[0].length]);
  assertClose(run(() => model.score!(asTensor(users), asTensor(items))), want, 'rank-tower pair scores');
});

test('RankTower anchored vectors: each side GAU output against one rep of the other side, L2-normalised (the retrieval index and its queries)', () => {
  const model = buildFilled('rank-tower', RANK_TOWER);
  const p = new Params(model);
  const { userHeads: Hu, itemHeads: Hi, headSize: k } = RANK_TOWER;
  const rng = new Rng(13);
  const rand = (n: number): Vec => Array.from({ length: n }, () => Math.fround(4 * rng.uniform() - 2));
  const users = [rand(5 * Hu * k), rand(5 * Hu * k)];
  const items = [rand(5 * Hi * k), rand(5 * Hi * k), rand(5 * Hi * k)];
  const userParts = (ur: Vec) => chunks(ur, Hu * k).map((part) => chunks(part, k)); // [E, Q, U, K', V']
  const itemParts = (ir: Vec) => chunks(ir, Hi * k).map((part) => chunks(part, k)); // [E, K, V, Q', U']
  const anchorItem = items[2], anchorUser = users[1];
  const [, ki, vi] = itemParts(anchorItem);
  const wantUsers = users.flatMap((ur) => { const [eu, qu, uu] = userParts(ur); return gauByHand(p, 'userToItem', eu, qu, uu, ki, vi).map(l2n).flat(); });
  const [, , , ku, vu] = userParts(anchorUser);
  const wantItems = items.flatMap((ir) => { const [ei, , , qi, ui] = itemParts(ir); return gauByHand(p, 'itemToUser', ei, qi, ui, ku, vu).map(l2n).flat(); });
  const f32 = (rows: Vec[]) => Float32Array.from(rows.flat());
  assertClose(model.anchoredVectors!('user', f32(users), Float32Array.from(anchorItem)), wantUsers, 'rank-tower user vectors against an item');
  assertClose(model.anchoredVectors!('item', f32(items), Float32Array.from(anchorUser)), wantItems, 'rank-tower item vectors against a user');
  // anchored on the pair itself they are the scored vectors: their max-sim is the pair's score
  const pair = (ur: Vec, ir: Vec) => {
    const au = chunks(Array.from(model.anchoredVectors!('user', Float32Array.from(ur), Float32Array.from(ir))), k);
    const ai = chunks(Array.from(model.anchoredVectors!('item', Float32Array.from(ir), Float32Array.from(ur))), k);
    return maxSimByHand(p, au, ai);
  };
  const asTensor = (rows: Vec[]): Tensor => Tensor.from(Float32Array.from(rows.flat()), [rows.length, rows[0].length]);
  assertClose(run(() => model.score!(asTensor([users[0], users[1]]), asTensor([items[0], items[1]]))), [pair(users[0], items[0]), pair(users[1], items[1])], 'rank-tower score from anchored vectors');
  assert.throws(() => model.anchoredVectors!('item', f32(items), Float32Array.from(anchorItem)), /anchor has 20 values, a user rep 30/);
});

test('RankTower towers: E = MLP(x) * sigmoid(gMLP(x)) in sub-spaces, projected by SiLU Q/K/V and sigmoid U, into the logit', () => {
  const model = buildFilled('rank-tower', RANK_TOWER);
  const p = new Params(model);
  const proj = (br: string, n: string, f: (x: number) => number) => (e: Vec): Vec =>
    affine(e, p.mat(`${br}.${n}.weight`), p.vec(`${br}.${n}.bias`)).map(f);
  const gated = (name: string, sides: string[], r: number): Vec[] => {
    const x = [...fieldRows(p, batch, r, sides).flat(), ...denseRow(batch, r, sides)];
    const value = mlpOutputs(p, `${name}.mlp`, 2, x, false)[1];
    const gate = mlpOutputs(p, `${name}.gate`, 2, x, false)[1].map(sigmoid);
    return chunks(mulv(value, gate), RANK_TOWER.headSize);
  };
  const [u2i, i2u] = ['userToItem', 'itemToUser'];
  const sides = ROWS.map((r) => {
    const eu = gated('user', USER_SIDE, r);
    const ei = gated('item', ITEM_SIDE, r);
    // What each side caches: user [E, Q, U, K', V'], item [E, K, V, Q', U'].
    const user = [eu, eu.map(proj(u2i, 'q', silu)), eu.map(proj(u2i, 'u', sigmoid)), eu.map(proj(i2u, 'k', silu)), eu.map(proj(i2u, 'v', silu))];
    const item = [ei, ei.map(proj(u2i, 'k', silu)), ei.map(proj(u2i, 'v', silu)), ei.map(proj(i2u, 'q', silu)), ei.map(proj(i2u, 'u', sigmoid))];
    return { user, item };
  });
  assertClose(run(() => model.encodeUser!(batch)), sides.flatMap((x) => x.user.flat(2)), 'rank-tower user reps');
  assertClose(run(() => model.encodeItem!(batch)), sides.flatMap((x) => x.item.flat(2)), 'rank-tower item reps');
  const want = sides.map(({ user: [eu, qu, uu, ku, vu], item: [ei, ki, vi, qi, ui] }) =>
    maxSimByHand(p, gauByHand(p, u2i, eu, qu, uu, ki, vi), gauByHand(p, i2u, ei, qi, ui, ku, vu)));
  assertClose(run(() => model.forward(batch)), want, 'rank-tower logits');
});
