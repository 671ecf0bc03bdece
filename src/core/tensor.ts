// Tensor: a typed array with a shape, a place on the autograd tape, and a lifetime managed by scopes.
// Shape letters used in comments across the engine: B batch, F fields, D embedding dim, H heads, P head size,
// L layers, N items/candidates, K top-k.
import { allocBuffer, freeBuffer, type DType, type Data } from './buffer-pool.js';
import { registerInScope } from './scope.js';

export type { DType, Data } from './buffer-pool.js';
export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

let nextId = 1;

/** One recorded op (src/core/tape.ts): its inputs, its output and how to take the output's gradient back to them. */
export interface TapeNode {
  op: string;
  inputs: readonly Tensor[];
  output: Tensor;
  /** Gradients w.r.t. each input (null where the input needs none), given the output's gradient. */
  backward(gradOut: Tensor, needs: readonly boolean[]): (Tensor | null)[];
}

/** Rows of an embedding table touched by a gather, kept instead of a dense gradient (see Parameter `sparse`). */
export interface SparseGrad {
  ids: Int32Array[];
  rows: Float32Array[];
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  /** Number of elements (the product of the shape). */
  readonly size: number;
  requiresGrad = false;
  /** Accumulated gradient of a leaf that requires grad (persistent, outlives scopes). */
  grad: Tensor | null = null;
  /** Lazy row gradient for sparse embedding tables. */
  sparseGrad: SparseGrad | null = null;
  /** Set for embedding tables whose gradient should stay sparse. */
  sparse = false;
  /** The tape node that produced this tensor, when recorded. */
  node: TapeNode | null = null;
  name = '';
  /** For views (reshape, detach): the tensor that owns the buffer, kept alive as long as the view is. */
  readonly base: Tensor | null;
  private buf: Data | null;
  private readonly pooled: boolean;

  constructor(data: Data, shape: Shape, opts: { pooled?: boolean; register?: boolean; base?: Tensor } = {}) {
    const n = shapeSize(shape);
    if (data.length < n) throw new Error(`Tensor: data has ${data.length} elements, shape ${shapeStr(shape)} needs ${n}`);
    this.buf = data;
    this.size = n;
    this.shape = Object.freeze([...shape]);
    this.dtype = data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64' : 'int32';
    this.pooled = opts.pooled ?? false;
    this.base = opts.base ? (opts.base.base ?? opts.base) : null;
    if (opts.register !== false) registerInScope(this);
  }

  /** A new tensor from the buffer pool; zero-filled when `zero` (else contents are undefined). */
  static empty(shape: Shape, dtype: DType = 'float32', zero = false): Tensor {
    return new Tensor(allocBuffer(dtype, shapeSize(shape), zero), shape, { pooled: true });
  }

  static zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
    return Tensor.empty(shape, dtype, true);
  }

  static full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
    const t = Tensor.empty(shape, dtype);
    t.data.fill(value);
    return t;
  }

  /** Wraps (does not copy) a typed array. */
  static from(data: Data | number[], shape?: Shape, dtype: DType = 'float32'): Tensor {
    const arr = Array.isArray(data) ? (dtype === 'int32' ? Int32Array.from(data) : dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data)) : data;
    return new Tensor(arr, shape ?? [arr.length]);
  }

  /**
   * Makes `data` this tensor's values in place of its own buffer, without a copy (a loaded model reading its weights
   * from the file's mapped bytes). Only for a leaf that owns an unpooled buffer; dtype and length must match.
   */
  rebind(data: Data): void {
    if (this.pooled || this.base !== null) throw new Error(`Tensor ${this.describe()}: only a leaf owning its buffer can be rebound`);
    if (data.constructor !== this.data.constructor || data.length !== this.data.length) {
      throw new Error(`Tensor ${this.describe()}: cannot rebind to ${data.constructor.name}(${data.length})`);
    }
    this.buf = data;
  }

  get data(): Data {
    if (this.buf === null) throw new Error(`Tensor ${this.describe()} was used after release`);
    return this.buf;
  }

  /** Float data; throws for int32 tensors. */
  get f(): Float32Array | Float64Array {
    const d = this.data;
    if (d instanceof Int32Array) throw new Error(`Tensor ${this.describe()} is int32 where a float tensor was expected`);
    return d;
  }

  get rank(): number {
    return this.shape.length;
  }

  get released(): boolean {
    return this.buf === null;
  }

  /** Last-axis length and the number of rows before it. */
  get cols(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1];
  }

  get rows(): number {
    return this.size / Math.max(1, this.cols);
  }

  describe(): string {
    return `${this.name || '#' + this.id}${shapeStr(this.shape)}:${this.dtype}`;
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor ${this.describe()} has ${this.size} elements, expected 1`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data.subarray(0, this.size));
  }

  /** Returns the buffer to the pool; later use throws. Idempotent. */
  release(): void {
    if (this.buf === null) return;
    if (this.pooled) freeBuffer(this.buf);
    this.buf = null;
    if (this.grad) this.grad.release();
    this.grad = null;
    this.node = null;
  }

  /** A view of the same buffer with another shape (no copy, not recorded on the tape). */
  view(shape: Shape): Tensor {
    return new Tensor(this.data, shape, { base: this });
  }

  /** Copy of the data in a fresh (pooled) tensor, detached from the tape. */
  clone(): Tensor {
    const t = Tensor.empty(this.shape, this.dtype);
    t.data.set(this.data.subarray(0, this.size));
    return t;
  }
}
