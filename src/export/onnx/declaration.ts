// What a model declares to be exported as ONNX: for a two-tower model its user tower, item tower and scorer as graph
// pieces (composed into user_tower.onnx, item_tower.onnx, scorer.onnx and the full forward model.onnx); for a
// single-tower model its forward. Each model kind registers one declaration (registry.ts).
// Shape letters: B batch, N items, U/I user/item rep widths.
import type { Tensor } from '../../core/tensor.js';
import type { Module } from '../../nn/module.js';
import type { RecModel } from '../../models/types.js';
import type { OnnxGraph } from './graph.js';

export interface Rep {
  /** The representation [B, width]. */
  value: string;
  width: number;
}

export interface TwoTowerOnnx {
  towers: 2;
  /** User rep [B, U] from user and context features (declares their inputs). */
  user(g: OnnxGraph): Rep;
  /** Item rep [B, I] from item features (declares their inputs). */
  item(g: OnnxGraph): Rep;
  /** Logits [N] from user reps [N or 1, U] and item reps [N, I], paired row by row (one user row: broadcast). */
  score(g: OnnxGraph, user: string, items: string): string;
  /** What the user rep holds, for the docs of user_tower.onnx and inputs.json. */
  userDoc: string;
  itemDoc: string;
  scoreDoc: string;
}

export interface SingleTowerOnnx {
  towers: 1;
  /** Logits [B] from every feature (declares their inputs). */
  forward(g: OnnxGraph): string;
  doc: string;
}

export type OnnxModel = TwoTowerOnnx | SingleTowerOnnx;

/**
 * A model kind's declaration; throws naming what it cannot express for this instance. `declare` gives the
 * declaration of another model (a wrapper model's base).
 */
export type OnnxDeclaration = (model: RecModel, declare: (inner: RecModel) => OnnxModel) => OnnxModel;

/** The model's own parameter `name` (dotted). */
export function paramOf(model: Module, name: string, what: string): Tensor {
  const t = model.namedParameters().find(([n]) => n === name)?.[1];
  if (!t) throw new Error(`onnx export (${what}): the model has no parameter '${name}'`);
  return t;
}
