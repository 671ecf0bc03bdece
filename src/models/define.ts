// A model's definition: everything the registry, config checking, the parametrised model tests and serving need to
// know about a model, declared once in the model's own file (`export const dssm = defineModel({...})`); the
// registry (registry.ts) is a list of these.
import type { z } from 'zod';
import type { ModelContext, ModelFactory, RecModel } from './types.js';
import { parseModelConfig } from './common/base.js';

/**
 * How a model is served: 'plan' — a two-tower model that describes its user side as a native serving plan
 * (servingPlan(); a configuration the plan cannot express throws there and is served on tensors); 'tensors' — a
 * two-tower model served by encodeUser + score on tensors; 'single-tower' — user and item features go through one
 * network, so nothing is cached per item and every candidate runs the whole model.
 */
export type ServingKind = 'plan' | 'tensors' | 'single-tower';

/** The registry's factories by name, handed to a model that builds another registered model (CS3 wraps one). */
export type ModelLookup = Readonly<Record<string, ModelFactory<any>>>;

/** The learning rate of a model that declares none (Adam; the two-tower searches' best trials: 1.0e-3-1.7e-3). */
export const DEFAULT_LR = 1e-3;

export interface ModelSpec<K extends string, S extends z.ZodType, M extends RecModel> {
  /** Registry name, as configs and bundle manifests write it. */
  kind: K;
  /** One line: the paper or idea (docs/ARCHITECTURE.md's model table repeats it; the registry test holds them equal). */
  summary: string;
  /** The config schema: strict (unknown keys are errors), every key but a wrapper's base with a default. */
  config: S;
  /** A config small enough for the tests that build and train every registered model. */
  tiny: z.input<S>;
  serving: ServingKind;
  /** The learning rate a train config without `optimizer.lr` uses (default DEFAULT_LR); set from tuning evidence. */
  lr?: number;
  /**
   * The sampled softmax's temperature when the objective sets none (default 1): set where retrieval experiments
   * measured a better one for the model (docs/STRATEGIES.md).
   */
  softmaxTemperature?: number;
  /**
   * Set when the model wraps another registered model named by config[wraps.kind] with that model's config at
   * config[wraps.config]: the registry checks that inner config against the named model's schema.
   */
  wraps?: { kind: string; config: string };
  /** Builds the model from its parsed config (defaults filled in). `models` is the registry, for wrappers. */
  create(ctx: ModelContext, config: z.output<S>, models: ModelLookup): M;
}

export interface ModelDefinition<K extends string = string, S extends z.ZodType = z.ZodType, M extends RecModel = RecModel> extends ModelSpec<K, S, M> {
  /** Parses `config` (unknown keys and bad values throw, naming `kind.key`), then creates the model. */
  build(ctx: ModelContext, config: Partial<z.input<S>> | undefined, models: ModelLookup): M;
}

export function defineModel<K extends string, S extends z.ZodType, M extends RecModel>(spec: ModelSpec<K, S, M>): ModelDefinition<K, S, M> {
  return {
    ...spec,
    build: (ctx, config, models) => spec.create(ctx, parseModelConfig(spec.kind, spec.config, config), models),
  };
}
