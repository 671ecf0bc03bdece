// Optimizer base: one fused kernel call per dense parameter; sparse embedding tables are updated row-wise on the
// rows their gathers touched (gradients of repeated ids summed first).
import { Tensor } from '../../core/tensor.js';
import { kernelsFor } from '../../core/kernels/dispatch.js';
import type { FArr, Kernels } from '../../core/kernels/types.js';

export interface RowGrad {
  /** Unique row ids, ascending. */
  ids: Int32Array;
  /** Their summed gradient rows [ids.length, D]. */
  rows: Float32Array;
}

// Per-table scratch: slot[id] = position of id among this step's unique rows, or -1 (reset after each use).
const slots = new WeakMap<Tensor, Int32Array>();

/** Sums the row gradients a table collected over one or more gathers into unique rows (ids ascending). */
export function coalesceRows(table: Tensor): RowGrad | null {
  const sg = table.sparseGrad;
  if (!sg || sg.ids.length === 0) return null;
  const [V, D] = table.shape;
  let slot = slots.get(table);
  if (!slot) slots.set(table, (slot = new Int32Array(V).fill(-1)));
  let count = 0;
  for (const ids of sg.ids) for (let i = 0; i < ids.length; i++) if (slot[ids[i]] < 0) slot[ids[i]] = count++;
  const unique = new Int32Array(count);
  for (const ids of sg.ids) for (let i = 0; i < ids.length; i++) unique[slot[ids[i]]] = ids[i];
  unique.sort();
  for (let k = 0; k < count; k++) slot[unique[k]] = k;
  const rows = new Float32Array(count * D);
  sg.ids.forEach((ids, part) => {
    const src = sg.rows[part];
    for (let i = 0; i < ids.length; i++) {
      const o = slot![ids[i]] * D;
      for (let d = 0; d < D; d++) rows[o + d] += src[i * D + d];
    }
  });
  for (let k = 0; k < count; k++) slot[unique[k]] = -1;
  return { ids: unique, rows };
}

export abstract class Optimizer {
  stepCount = 0;
  protected readonly params: [string, Tensor][];
  /** Per-parameter state (moments, accumulators), keyed `${param}.${slot}`, created on first use. */
  private readonly slots = new Map<string, Tensor>();

  constructor(params: Tensor[] | [string, Tensor][], public lr: number) {
    this.params = params.map((p, i) => (Array.isArray(p) ? p : [`p${i}`, p]));
    const names = new Set<string>();
    for (const [n, t] of this.params) {
      if (names.has(n)) throw new Error(`${this.constructor.name}: two parameters named '${n}'`);
      names.add(n);
      if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new Error(`${this.constructor.name}: parameter ${t.describe()} is not float`);
    }
  }

  /** Applies one update from the accumulated gradients (parameters without a gradient are skipped). */
  step(): void {
    this.stepCount++;
    for (const [name, p] of this.params) {
      const k = kernelsFor(p);
      if (p.sparse) {
        const rg = coalesceRows(p);
        if (rg) this.updateRows(k, name, p, rg);
      } else if (p.grad) {
        this.updateDense(k, name, p, p.grad.f);
      }
    }
  }

  zeroGrad(): void {
    for (const [, p] of this.params) {
      p.grad?.data.fill(0);
      p.sparseGrad = null;
    }
  }

  protected slot(name: string, slot: string, p: Tensor, init = 0): Tensor {
    const key = `${name}.${slot}`;
    let t = this.slots.get(key);
    if (!t) {
      const data = p.dtype === 'float64' ? new Float64Array(p.size) : new Float32Array(p.size);
      if (init !== 0) data.fill(init);
      this.slots.set(key, (t = new Tensor(data, p.shape, { register: false })));
    }
    return t;
  }

  /** Optimizer state for checkpoints: the slot tensors (live, not copies). */
  stateTensors(): Map<string, Tensor> {
    return this.slots;
  }

  /** Restores slots saved from stateTensors() and the step count; slot names must belong to this optimizer's parameters. */
  loadState(tensors: Map<string, Tensor>, stepCount: number): void {
    const names = new Map(this.params);
    for (const [key, t] of tensors) {
      const name = key.slice(0, key.lastIndexOf('.'));
      const p = names.get(name);
      if (!p || p.size !== t.size) throw new Error(`${this.constructor.name}.loadState: '${key}' does not match any parameter of this optimizer`);
      this.slot(name, key.slice(name.length + 1), p).data.set(t.data);
    }
    this.stepCount = stepCount;
  }
  protected abstract updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void;
  protected abstract updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void;
}
