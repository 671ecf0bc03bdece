// The bases every model extends. ModelBase holds what the constructors share: the field embedder, tower MLPs over
// one side's features with the config's batch norm, dropout and initialisation, and the output bias, each
// registered under the name checkpoints and bundles know it by ('embed', the tower's name, 'bias'), in the order the
// model calls them (the order the generator draws initial weights in). TwoTowerModel derives forward and loss from
// userTower/itemTower/score, so encodeUser + encodeItem + score is the training forward by construction;
// SingleTowerModel has one forward. Shape letters: B batch, N items, U/I user/item rep widths.
import type { Tensor } from '../../core/tensor.js';
import type { Rng } from '../../core/random.js';
import type { ActName } from '../../core/kernels/types.js';
import { param } from '../../nn/init.js';
import type { Mlp } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { Batch } from '../../data/index.js';
import type { LossOutput, ModelContext, RecModel } from '../types.js';
import { l2Penalty, lossOf, type InitScheme } from './base.js';
import { FieldEmbedder, flatWidth, type Source } from './field-embedder.js';
import { makeMlp } from './layers.js';

/** The config keys a tower MLP is built from (COMMON_CONFIG's init, DEEP_CONFIG's batch norm and dropout). */
export interface DeepOptions {
  batchNorm: boolean;
  dropout: number;
  init: InitScheme;
}

export abstract class ModelBase extends Module {
  abstract readonly kind: string;

  constructor(protected readonly l2Embedding: number) {
    super();
  }

  /** The model's field embedder 'embed': one table per feature table, D = embedDim, drawn from N(0, embedStd). */
  protected addEmbedder(ctx: ModelContext, c: { embedDim: number; embedStd: number }): FieldEmbedder {
    return this.addModule('embed', new FieldEmbedder(ctx.features, ctx.rng, { dim: c.embedDim, std: c.embedStd }));
  }

  /**
   * Input width of a tower over `sources`: their flattened field embeddings and dense features, plus `extra` floats
   * the model appends; throws, naming the model and the side, when that is nothing.
   */
  protected inputWidth(embed: FieldEmbedder, sources: readonly Source[], side: string, extra = 0): number {
    const width = flatWidth(embed, sources) + extra;
    if (width === 0) throw new Error(`${this.kind}: no ${side} features`);
    return width;
  }

  /** An MLP registered as `name`: the given widths and last activation, batch norm, dropout and init from the config. */
  protected addMlp(name: string, inWidth: number, dims: readonly number[], lastAct: ActName, c: DeepOptions, rng: Rng): Mlp {
    return this.addModule(name, makeMlp(inWidth, { dims, batchNorm: c.batchNorm, dropout: c.dropout, lastAct }, rng, c.init));
  }

  /** The logit's learned scalar bias [1] ('bias', zero-initialised). */
  protected addBias(rng: Rng): Tensor {
    return this.addParam('bias', param([1], 'zeros', rng));
  }
}

export interface TowerOutput {
  /** What is served: [B, U] for the user side, [B, I] for the item side. */
  rep: Tensor;
  /** Field embeddings the L2 penalty covers. */
  emb: (Tensor | null)[];
}

export abstract class TwoTowerModel<U extends TowerOutput = TowerOutput, I extends TowerOutput = TowerOutput> extends ModelBase implements RecModel {
  readonly twoTower = true;

  protected abstract userTower(batch: Batch): U;
  protected abstract itemTower(batch: Batch): I;
  abstract score(userReps: Tensor, itemReps: Tensor): Tensor;

  /** The model's own loss terms, already weighted (CIR, mimic losses...). */
  protected extraTerms(_batch: Batch, _user: U, _item: I): Record<string, Tensor | null> {
    return {};
  }

  encodeUser(batch: Batch): Tensor {
    return this.userTower(batch).rep;
  }

  encodeItem(batch: Batch): Tensor {
    return this.itemTower(batch).rep;
  }

  forward(batch: Batch): Tensor {
    return this.score(this.encodeUser(batch), this.encodeItem(batch));
  }

  loss(batch: Batch): LossOutput {
    const u = this.userTower(batch);
    const i = this.itemTower(batch);
    const logits = this.score(u.rep, i.rep);
    const l2 = l2Penalty(this.l2Embedding, [...u.emb, ...i.emb], batch.size);
    return { ...lossOf(batch, logits, { ...this.extraTerms(batch, u, i), l2 }), reps: { user: u.rep, item: i.rep } };
  }
}

export interface SingleOutput {
  /** [B] */
  logits: Tensor;
  emb: (Tensor | null)[];
}

/** A model that needs user and item features together: nothing can be cached per item. */
export abstract class SingleTowerModel extends ModelBase implements RecModel {
  readonly twoTower = false;

  protected abstract run(batch: Batch): SingleOutput;

  forward(batch: Batch): Tensor {
    return this.run(batch).logits;
  }

  loss(batch: Batch): LossOutput {
    const r = this.run(batch);
    return lossOf(batch, r.logits, { l2: l2Penalty(this.l2Embedding, r.emb, batch.size) });
  }
}
