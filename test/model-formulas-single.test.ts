// The single-tower models' formulas against float64 computations written here from their papers: DCN's cross layer,
// DeepFM's FM term, AutoInt's interacting layer, and each model's whole logit. The registry's models run their real
// float32 forward on a three-row batch with every weight drawn from U(-0.5, 0.5); batch norm is off and the models
// are in eval mode, so the logit is a fixed function of the weights that the hand computation repeats.
import { test } from 'node:test';
import { Rng, Tensor } from '../src/core/index.js';
import { Module } from '../src/nn/index.js';
import { fmSecondOrder } from '../src/models/deepfm.js';
import { InteractingLayer } from '../src/models/autoint.js';
import {
  ALL_SOURCES, Params, add, affine, assertClose, buildFilled, chunks, denseRow, dot, fieldRows, fillParams, relu, run,
  scalev, softmax, subModule, sum, tinyBatch, transpose, type Mat, type Vec,
} from './helpers/float64.js';

const batch = tinyBatch();
const ROWS = [0, 1, 2];
const D = 3;

/** Embedded fields then dense values, as flatInput concatenates them: x0 [K]. */
const flatRow = (p: Params, row: number, prefix = 'embed'): Vec =>
  [...fieldRows(p, batch, row, ALL_SOURCES, prefix).flat(), ...denseRow(batch, row, ALL_SOURCES)];

/** A [rows, cols] float32 tensor of U(-1, 1) values and the same values as float64 rows. */
function randomInput(rng: Rng, shape: number[]): { t: Tensor; rows: Mat } {
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rng.uniform() - 1);
  const cols = shape[shape.length - 1];
  return { t: Tensor.from(data, shape), rows: chunks(Array.from(data), cols) };
}

/** DCN cross network, vector form (DCN v1, as dcn.ts's header says): x_{l+1} = x0 (x_l . w_l) + b_l + x_l. */
function crossByHand(p: Params, x0: Vec, layers: number): Vec {
  let x = x0;
  for (let l = 0; l < layers; l++) {
    const w = transpose(p.mat(`cross.w${l}.weight`))[0]; // [K, 1] -> [K]
    x = add(add(scalev(x0, dot(x, w)), p.vec(`cross.b${l}`)), x);
  }
  return x;
}

test('DCN cross layer is x_{l+1} = x0 (x_l . w_l) + b_l + x_l (vector form) and the logit is [x_L, deep] w_out + b', () => {
  const layers = 3;
  const model = buildFilled('dcn', { embedDim: D, dnn: [4, 3], dropout: 0, batchNorm: false, crossLayers: layers });
  const p = new Params(model);
  const x0s = ROWS.map((r) => flatRow(p, r));
  const K = x0s[0].length;
  // The cross network alone, on an input that is not an embedding lookup.
  const x = randomInput(new Rng(3), [2, K]);
  assertClose(run(() => subModule<Module & { forward(t: Tensor): Tensor }>(model, 'cross').forward(x.t)),
    x.rows.flatMap((r) => crossByHand(p, r, layers)), 'cross network');
  // The whole logit.
  const want = x0s.map((x0) => {
    const deep = relu(affine(relu(affine(x0, p.mat('dnn.fc0.weight'), p.vec('dnn.fc0.bias'))), p.mat('dnn.fc1.weight'), p.vec('dnn.fc1.bias')));
    return affine([...crossByHand(p, x0, layers), ...deep], p.mat('out.weight'))[0] + p.scalar('bias');
  });
  assertClose(run(() => model.forward(batch)), want, 'dcn logits');
});

test('DeepFM FM term is 1/2 sum_d [(sum_f e_fd)^2 - sum_f e_fd^2], the sum of <e_i, e_j> over field pairs i < j', () => {
  const F = 4;
  const e = randomInput(new Rng(4), [2, F, D]);
  const want = chunks(e.rows.flat(), F * D).map((row) => {
    const fields = chunks(row, D);
    let s = 0;
    for (let i = 0; i < F; i++) for (let j = i + 1; j < F; j++) s += dot(fields[i], fields[j]);
    return s;
  });
  assertClose(run(() => fmSecondOrder(e.t)), want, 'FM second order');
});

test('DeepFM logit is first order + FM over the field embeddings + deep + b (dense features: first order and deep only)', () => {
  const model = buildFilled('deepfm', { embedDim: D, dnn: [4, 3], dropout: 0, batchNorm: false });
  const p = new Params(model);
  const want = ROWS.map((r) => {
    const first = sum(fieldRows(p, batch, r, ALL_SOURCES, 'first.weights').flat())
      + dot(denseRow(batch, r, ALL_SOURCES), p.mat('first.dense_user.weight').flat());
    const fields = fieldRows(p, batch, r, ALL_SOURCES);
    let fm = 0;
    for (let i = 0; i < fields.length; i++) for (let j = i + 1; j < fields.length; j++) fm += dot(fields[i], fields[j]);
    const h = relu(affine(relu(affine(flatRow(p, r), p.mat('dnn.fc0.weight'), p.vec('dnn.fc0.bias'))), p.mat('dnn.fc1.weight'), p.vec('dnn.fc1.bias')));
    return first + fm + affine(h, p.mat('out.weight'))[0] + p.scalar('bias');
  });
  assertClose(run(() => model.forward(batch)), want, 'deepfm logits');
});

/**
 * One interacting layer for one row: per head h, Q = E Wq_h, K = E Wk_h, V = E Wv_h; A = softmax over fields of
 * Q K^T (/ sqrt(P) when scaled); out = relu(concat_h(A V) + E W_res). The engine packs [Wq_1..H | Wk_1..H | Wv_1..H].
 */
function interactingByHand(p: Params, prefix: string, e: Mat, H: number, P: number, o: { residual: boolean; scaled: boolean }): Mat {
  const qkv = e.map((ef) => chunks(affine(ef, p.mat(`${prefix}.qkv.weight`)), P)); // F x 3H x [P]
  const heads = Array.from({ length: H }, (_, h) => e.map((_, f) => {
    const logits = e.map((__, g) => dot(qkv[f][h], qkv[g][H + h]) / (o.scaled ? Math.sqrt(P) : 1));
    const a = softmax(logits);
    return a.reduce((acc, ag, g) => add(acc, scalev(qkv[g][2 * H + h], ag)), new Array<number>(P).fill(0));
  })); // H x F x [P]
  return e.map((ef, f) => {
    const cat = heads.flatMap((hd) => hd[f]);
    return relu(o.residual ? add(cat, affine(ef, p.mat(`${prefix}.res.weight`))) : cat);
  });
}

test('AutoInt interacting layer is relu(concat_h softmax(Q_h K_h^T) V_h + E W_res), scaled by 1/sqrt(P) only when asked', () => {
  const [B, F, Din, H, P] = [2, 4, 3, 2, 2];
  for (const o of [{ residual: true, scaled: false }, { residual: false, scaled: true }]) {
    const layer = new InteractingLayer(Din, H, P, o.residual, o.scaled, new Rng(5));
    fillParams(layer, new Rng(8), 1); // wide weights, so the attention is far from uniform
    const p = new Params(new Holder(layer));
    const e = randomInput(new Rng(6), [B, F, Din]);
    const want = chunks(e.rows.flat(), F * Din).flatMap((row) => interactingByHand(p, 'att', chunks(row, Din), H, P, o).flat());
    assertClose(run(() => layer.forward(e.t)), want, `interacting layer ${JSON.stringify(o)}`);
  }
});

/** A bare layer under the name 'att', so its parameters read as att.qkv.weight... */
class Holder extends Module {
  constructor(layer: Module) {
    super();
    this.addModule('att', layer);
  }
}

test('AutoInt+ logit is [flattened last interacting layer, deep] w_out + b over two stacked layers', () => {
  const [H, P] = [2, 2];
  const model = buildFilled('autoint', { embedDim: D, attentionLayers: 2, heads: H, headSize: P, dnn: [4], dropout: 0, batchNorm: false });
  const p = new Params(model);
  const want = ROWS.map((r) => {
    let h: Mat = fieldRows(p, batch, r, ALL_SOURCES);
    for (const l of [0, 1]) h = interactingByHand(p, `att${l}`, h, H, P, { residual: true, scaled: false });
    const deep = relu(affine(flatRow(p, r), p.mat('dnn.fc0.weight'), p.vec('dnn.fc0.bias')));
    return affine([...h.flat(), ...deep], p.mat('out.weight'))[0] + p.scalar('bias');
  });
  assertClose(run(() => model.forward(batch)), want, 'autoint logits');
});
