// The two training steps the engine benchmark times, built from nn layers, with the parameter names of the
// fixture format shared with bench/reference/step.py (so PyTorch starts from the same weights and batch).
//   dssm:     towers 160->300->300->128 and 96->300->300->128 (ReLU), L2-normalise, logit 5<u,v>, BCE, Adam.
//   inttower: embeddings (Fu=5, Fi=3 fields, D=32) -> Light-SE -> the same towers -> FE-Block (each user layer and
//             the item's last layer projected to H heads of size P, L2-normalised; score = sum over layers and
//             user heads of the max over item heads), BCE, Adam (lazy on the embedding tables).
import { Tensor, Rng, backward, ops, scope } from '../src/core/index.js';
import { Adam, Embedding, Linear, Mlp, Module } from '../src/nn/index.js';

export const BATCH = 2048;
const TOWER = [300, 300, 128];

export interface StepModel {
  readonly kind: 'dssm' | 'inttower';
  readonly config: Record<string, unknown>;
  /** Fixture tensors: parameters under their shared names plus the batch. */
  fixture(): Map<string, Tensor>;
  /** zero_grad + forward + backward + Adam step; returns the loss computed before the update. */
  step(): number;
}

function towerNames(prefix: string, mlp: Mlp): [string, Tensor][] {
  return mlp.layers.flatMap((l, i) => [[`${prefix}.${i}.weight`, l.weight], [`${prefix}.${i}.bias`, l.bias!]] as [string, Tensor][]);
}

function trainStep(params: [string, Tensor][], opt: Adam, loss: () => Tensor): number {
  return scope(() => {
    opt.zeroGrad();
    const l = loss();
    backward(l);
    opt.step();
    return l.item();
  });
}

function labels(rng: Rng): Tensor {
  return new Tensor(Float32Array.from({ length: BATCH }, () => (rng.uniform() < 0.5 ? 1 : 0)), [BATCH], { register: false });
}

function gaussian(rng: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => rng.normal()), shape, { register: false });
}

export function createDssmStep(seed: number, lr = 1e-3): StepModel {
  const rng = new Rng(seed);
  const user = new Mlp(160, { dims: TOWER }, rng);
  const item = new Mlp(96, { dims: TOWER }, rng);
  const xu = gaussian(rng, [BATCH, 160]);
  const xi = gaussian(rng, [BATCH, 96]);
  const y = labels(rng);
  const params = [...towerNames('user', user), ...towerNames('item', item)];
  const opt = new Adam(params, { lr });
  const loss = (): Tensor => {
    const u = ops.l2Normalize(user.forward(xu));
    const v = ops.l2Normalize(item.forward(xi));
    return ops.bceWithLogits(ops.scale(ops.rowDot(u, v), 5), y);
  };
  return {
    kind: 'dssm',
    config: { scale: 5.0, batch: BATCH },
    fixture: () => new Map([...params, ['x_user', xu], ['x_item', xi], ['y', y]]),
    step: () => trainStep(params, opt, loss),
  };
}

/** Light-SE: softmax field weights from the mean of each field's embedding, re-weighting the fields. */
class LightSe extends Module {
  readonly fc: Linear;
  constructor(readonly fields: number, rng: Rng) {
    super();
    this.fc = this.addModule('fc', new Linear(fields, fields, rng));
  }
  forward(e: Tensor): Tensor {
    // e [B, F, D] -> [B, F*D]
    const [B, F, D] = e.shape;
    const k = ops.softmax(this.fc.forward(ops.mean(e, 2)));
    return ops.reshape(ops.mul(e, ops.reshape(k, [B, F, 1])), [B, F * D]);
  }
}

export function createIntTowerStep(seed: number, lr = 1e-3, heads = 4, headSize = 64): StepModel {
  const rng = new Rng(seed);
  const D = 32;
  const userVocab = [6041, 3, 8, 22, 3500];
  const itemVocab = [3953, 19, 100];
  const uEmb = userVocab.map((v) => new Embedding(v, D, rng, { init: 'normal', scale: 0.05 }));
  const iEmb = itemVocab.map((v) => new Embedding(v, D, rng, { init: 'normal', scale: 0.05 }));
  const uSe = new LightSe(userVocab.length, rng);
  const iSe = new LightSe(itemVocab.length, rng);
  const user = new Mlp(userVocab.length * D, { dims: TOWER }, rng);
  const item = new Mlp(itemVocab.length * D, { dims: TOWER }, rng);
  const HP = heads * headSize;
  const feUser = TOWER.map((d) => new Linear(d, HP, rng));
  const feItem = new Linear(TOWER[2], HP, rng);
  const ids = (vocab: number[]): Tensor[] => vocab.map((v) => new Tensor(Int32Array.from({ length: BATCH }, () => rng.int(v)), [BATCH], { register: false }));
  const uIds = ids(userVocab);
  const iIds = ids(itemVocab);
  const y = labels(rng);
  const params: [string, Tensor][] = [
    ...uEmb.map((e, f) => [`user.emb.${f}`, e.table] as [string, Tensor]),
    ...iEmb.map((e, f) => [`item.emb.${f}`, e.table] as [string, Tensor]),
    ['user.se.weight', uSe.fc.weight], ['user.se.bias', uSe.fc.bias!],
    ['item.se.weight', iSe.fc.weight], ['item.se.bias', iSe.fc.bias!],
    ...towerNames('user', user), ...towerNames('item', item),
    ...feUser.flatMap((l, i) => [[`fe.user.${i}.weight`, l.weight], [`fe.user.${i}.bias`, l.bias!]] as [string, Tensor][]),
    ['fe.item.weight', feItem.weight], ['fe.item.bias', feItem.bias!],
  ];
  const opt = new Adam(params, { lr });
  const fields = (embs: Embedding[], idList: Tensor[]): Tensor =>
    ops.reshape(ops.concat(embs.map((e, f) => e.forward(idList[f])), 1), [BATCH, embs.length, D]);
  const heads3 = (h: Tensor, proj: Linear): Tensor =>
    ops.reshape(ops.l2Normalize(ops.reshape(proj.forward(h), [BATCH * heads, headSize])), [BATCH, heads, headSize]);
  const loss = (): Tensor => {
    const hu = user.forwardAll(uSe.forward(fields(uEmb, uIds)));
    const hi = item.forward(iSe.forward(fields(iEmb, iIds)));
    const mv = heads3(hi, feItem);
    let logit: Tensor | null = null;
    hu.forEach((h, l) => {
      const s = ops.sum(ops.max(ops.bmm(heads3(h, feUser[l]), mv, { transB: true }), 2), 1);
      logit = logit ? ops.add(logit, s) : s;
    });
    return ops.bceWithLogits(logit!, y);
  };
  const batch: [string, Tensor][] = [
    ['ids_user', stackColumns(uIds)],
    ['ids_item', stackColumns(iIds)],
    ['y', y],
  ];
  return {
    kind: 'inttower',
    config: { heads, head_size: headSize, dim: D, user_vocab: userVocab, item_vocab: itemVocab, batch: BATCH },
    fixture: () => new Map([...params, ...batch]),
    step: () => trainStep(params, opt, loss),
  };
}

/** Field columns [B] each -> [B, F] row-major. */
function stackColumns(cols: Tensor[]): Tensor {
  const F = cols.length;
  const out = new Int32Array(BATCH * F);
  cols.forEach((c, f) => {
    for (let b = 0; b < BATCH; b++) out[b * F + f] = c.data[b];
  });
  return new Tensor(out, [BATCH, F], { register: false });
}
