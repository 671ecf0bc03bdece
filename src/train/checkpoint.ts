// Checkpoints: model tensors, optimizer slots and every registered RNG's state in one atomically written tensor
// directory, so a resumed run continues exactly where the saved one stopped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../nn/optim/optimizer.js';
import { assignTensors, loadTensors, saveTensors } from '../nn/state.js';
import { pendingRestore, recoverSwap } from '../util/atomic-dir.js';

export interface CheckpointMeta {
  epoch: number;
  stepCount: number;
  rngs: Record<string, number[]>;
  [k: string]: unknown;
}

/** `strategy`: a training strategy's own state (e.g. OneBP's user encodings), saved under 'strategy.'. */
export async function saveCheckpoint(dir: string, model: Module, opt: Optimizer | null, meta: Omit<CheckpointMeta, 'rngs' | 'stepCount'>, strategy?: Module): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [n, t] of model.stateTensors()) tensors.set(`model.${n}`, t);
  if (opt) for (const [n, t] of opt.stateTensors()) tensors.set(`optim.${n}`, t);
  if (strategy) for (const [n, t] of strategy.stateTensors()) tensors.set(`strategy.${n}`, t);
  const rngs = Object.fromEntries([...model.namedRngs(), ...(strategy?.namedRngs('strategy.') ?? [])].map(([n, r]) => [n, r.state()]));
  await saveTensors(dir, tensors, { ...meta, stepCount: opt?.stepCount ?? 0, rngs });
}

/** Loads a checkpoint into `model` (and `opt`), returning its metadata; mismatched names or shapes throw. */
export async function loadCheckpoint(dir: string, model: Module, opt: Optimizer | null, strategy?: Module): Promise<CheckpointMeta> {
  if (!existsSync(join(dir, 'manifest.json'))) await recoverSwap(dir);
  const { tensors, meta } = await loadTensors(dir);
  const part = (prefix: string): Map<string, Tensor> =>
    new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
  assignTensors(model.stateTensors(), part('model.'), `checkpoint ${dir}`);
  if (strategy) assignTensors(strategy.stateTensors(), part('strategy.'), `checkpoint ${dir} (strategy state)`);
  const m = meta as CheckpointMeta;
  if (opt) opt.loadState(part('optim.'), m.stepCount);
  const rngs = new Map([...model.namedRngs(), ...(strategy?.namedRngs('strategy.') ?? [])]);
  for (const [name, st] of Object.entries(m.rngs ?? {})) rngs.get(name)?.setState(st);
  return m;
}

/** True when dir holds a checkpoint, or a save killed mid-swap left the previous one for loadCheckpoint to put back. */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'manifest.json')) || pendingRestore(dir) !== null;
}
