// Module: a named tree of parameters, buffers and sub-modules, with a training flag. Models compose modules;
// optimizers and checkpoints walk namedParameters()/namedBuffers().
import type { Tensor } from '../core/tensor.js';
import type { Rng } from '../core/random.js';

export class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  private readonly ownRngs = new Map<string, Rng>();

  protected addParam(name: string, t: Tensor): Tensor {
    if (this.ownParams.has(name)) throw new Error(`Module: parameter '${name}' registered twice`);
    t.requiresGrad = true;
    t.name ||= name;
    this.ownParams.set(name, t);
    return t;
  }

  protected addBuffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, t);
    return t;
  }

  /** Registers a generator this module draws from in training (dropout masks...), so checkpoints can save it. */
  protected addRng(name: string, rng: Rng): Rng {
    this.ownRngs.set(name, rng);
    return rng;
  }

  namedRngs(prefix = ''): [string, Rng][] {
    const out: [string, Rng][] = [];
    for (const [n, r] of this.ownRngs) out.push([prefix + n, r]);
    for (const [n, m] of this.children) out.push(...m.namedRngs(`${prefix}${n}.`));
    return out;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    if (this.children.has(name)) throw new Error(`Module: sub-module '${name}' registered twice`);
    this.children.set(name, m);
    return m;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownBuffers) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** This module and every descendant, depth first, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters and buffers: everything a checkpoint holds. */
  stateTensors(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.data.fill(0);
      t.sparseGrad = null;
    }
  }
}
