// Optimizer base: one fused kernel call per dense parameter; sparse embedding tables are updated row-wise on the
// rows their gathers touched (gradients of repeated ids summed first).
import type { Tensor } from '../../core/tensor.js';
import { kernelsFor } from '../../core/kernels/dispatch.js';
import type { FArr, Kernels } from '../../core/kernels/types.js';

export interface RowGrad {
  /** Unique row ids, ascending. */
  ids: Int32Array;
  /** Their summed gradient rows [ids.length, D]. */
  rows: Float32Array;
}

/** Sums the row gradients a table collected over one or more gathers into unique rows. */
export function coalesceRows(table: Tensor): RowGrad | null {
  const sg = table.sparseGrad;
  if (!sg || sg.ids.length === 0) return null;
  const D = table.shape[1];
  const slot = new Map<number, number>();
  for (const ids of sg.ids) for (let i = 0; i < ids.length; i++) if (!slot.has(ids[i])) slot.set(ids[i], 0);
  const unique = Int32Array.from(slot.keys()).sort();
  unique.forEach((id, k) => slot.set(id, k));
  const rows = new Float32Array(unique.length * D);
  sg.ids.forEach((ids, part) => {
    const src = sg.rows[part];
    for (let i = 0; i < ids.length; i++) {
      const o = slot.get(ids[i])! * D;
      for (let d = 0; d < D; d++) rows[o + d] += src[i * D + d];
    }
  });
  return { ids: unique, rows };
}

export abstract class Optimizer {
  stepCount = 0;
  protected readonly params: [string, Tensor][];

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

  /** Optimizer state for checkpoints (moment buffers etc.), keyed by `${param}.${slot}`. */
  abstract stateTensors(): Map<string, Tensor>;
  protected abstract updateDense(k: Kernels, name: string, p: Tensor, g: FArr): void;
  protected abstract updateRows(k: Kernels, name: string, p: Tensor, rg: RowGrad): void;
}
