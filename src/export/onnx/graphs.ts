// A model's ONNX graphs from its declaration. Two-tower models: user_tower.onnx (user + context features -> user_rep
// [B, U]), item_tower.onnx (item features -> item_rep [B, I]), scorer.onnx (user_rep [1 or N, U] + item_rep [N, I]
// -> score [N]) and model.onnx (every feature -> score [B], the training forward). Single-tower models: model.onnx.
// `score` is the logit; sigmoid gives the click probability.
import type { RecModel } from '../../models/types.js';
import { own } from '../../util/own.js';
import { OnnxGraph } from './graph.js';
import type { OnnxDeclaration, OnnxModel, TwoTowerOnnx } from './declaration.js';
import { ONNX_MODELS } from './registry.js';

export interface OnnxGraphFile {
  file: string;
  graph: OnnxGraph;
  doc: string;
}

/** The model kind's declaration, or an error naming the model and the kinds that can be exported. */
export function onnxModelOf(model: RecModel): OnnxModel {
  const declare = own(ONNX_MODELS as Record<string, OnnxDeclaration>, model.kind);
  if (!declare) throw new Error(`onnx export: model '${model.kind}' has no ONNX export yet (exportable: ${Object.keys(ONNX_MODELS).join(', ')})`);
  return declare(model, onnxModelOf);
}

export function onnxGraphs(model: RecModel): OnnxGraphFile[] {
  const d = onnxModelOf(model);
  if (d.towers === 1) {
    const g = new OnnxGraph('model', model);
    g.output(d.forward(g), 'score', 'float32', ['batch'], 'logit per row');
    return [{ file: 'model.onnx', graph: g, doc: `${model.kind}: ${d.doc}` }];
  }
  return [userTower(model, d), itemTower(model, d), scorer(model, d), forward(model, d)];
}

function userTower(model: RecModel, d: TwoTowerOnnx): OnnxGraphFile {
  const g = new OnnxGraph('user_tower', model);
  const u = d.user(g);
  g.output(u.value, 'user_rep', 'float32', ['batch', u.width], d.userDoc);
  return { file: 'user_tower.onnx', graph: g, doc: `${model.kind} user tower: user and context features -> user_rep, ${d.userDoc}` };
}

function itemTower(model: RecModel, d: TwoTowerOnnx): OnnxGraphFile {
  const g = new OnnxGraph('item_tower', model);
  const v = d.item(g);
  g.output(v.value, 'item_rep', 'float32', ['batch', v.width], d.itemDoc);
  return { file: 'item_tower.onnx', graph: g, doc: `${model.kind} item tower: item features -> item_rep, ${d.itemDoc}` };
}

function scorer(model: RecModel, d: TwoTowerOnnx): OnnxGraphFile {
  // The widths come from a throwaway build of the towers (their graphs are not kept).
  const uw = d.user(new OnnxGraph('widths', model)).width;
  const iw = d.item(new OnnxGraph('widths', model)).width;
  const g = new OnnxGraph('scorer', model);
  const u = g.input('user_rep', 'float32', ['users', uw], `${d.userDoc}; one row for every candidate, or 1 row for all`);
  const v = g.input('item_rep', 'float32', ['items', iw], d.itemDoc);
  g.output(d.score(g, u, v), 'score', 'float32', ['items'], d.scoreDoc);
  return { file: 'scorer.onnx', graph: g, doc: `${model.kind} scorer: user_rep + item_rep -> score, ${d.scoreDoc}` };
}

function forward(model: RecModel, d: TwoTowerOnnx): OnnxGraphFile {
  const g = new OnnxGraph('model', model);
  g.output(d.score(g, d.user(g).value, d.item(g).value), 'score', 'float32', ['batch'], d.scoreDoc);
  return { file: 'model.onnx', graph: g, doc: `${model.kind} forward: every feature -> score (user tower, item tower and scorer in one graph)` };
}
