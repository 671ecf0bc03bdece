// OnnxGraph: builds one ONNX graph as plain data (inputs, outputs, nodes, initializers); proto.ts turns it into
// ModelProto bytes. Initializers taken from a model are named by the model's own parameter and buffer names
// (`embed.user_id.table`, `user.fc0.weight`), so a graph's weights can be traced back to the checkpoint.
import type { Tensor } from '../../core/tensor.js';
import type { Module } from '../../nn/module.js';

/** The ONNX opset every exported graph imports (default domain). */
export const OPSET = 17;
/** IR version 8 is the one opset 17 was released with; older readers (onnx 1.12) accept nothing newer. */
export const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64' | 'bool';
/** A fixed size, or a named dynamic axis ('batch', 'items'). */
export type Dim = number | string;
/** Bare numbers are INT attributes, arrays INTS; floats are marked. */
export type AttrValue = number | readonly number[] | string | { float: number };

export interface ValueInfo {
  name: string;
  type: ElemType;
  dims: Dim[];
  doc?: string;
}

export interface NodeSpec {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface Initializer {
  name: string;
  type: ElemType;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export class OnnxGraph {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly nodes: NodeSpec[] = [];
  readonly initializers = new Map<string, Initializer>();
  private readonly names = new Set<string>();
  private readonly weightNames: Map<Tensor, string>;
  private counter = 0;

  /** `model`: whose parameters and buffers `weight()` may take (named as the model names them). */
  constructor(readonly name: string, model: Module) {
    this.weightNames = new Map([...model.namedParameters(), ...model.namedBuffers()].map(([n, t]) => [t, n]));
  }

  input(name: string, type: ElemType, dims: Dim[], doc?: string): string {
    this.claim(name);
    this.inputs.push({ name, type, dims, doc });
    return name;
  }

  /** Declares `value` a graph output under `name` (through an Identity node when the names differ). */
  output(value: string, name: string, type: ElemType, dims: Dim[], doc?: string): void {
    if (value !== name) {
      this.claim(name);
      this.nodes.push({ name: `${name}_identity`, op: 'Identity', inputs: [value], outputs: [name], attrs: {} });
    }
    this.outputs.push({ name, type, dims, doc });
  }

  /** One of the model's parameters or buffers as a float32 initializer named as the model names it (added once). */
  weight(t: Tensor): string {
    const name = this.weightNames.get(t);
    if (name === undefined) throw new Error(`onnx export (${this.name}): a tensor of shape [${t.shape.join(', ')}] is not a parameter or buffer of the model`);
    if (!this.initializers.has(name)) {
      this.claim(name);
      this.initializers.set(name, { name, type: 'float32', dims: [...t.shape], data: Float32Array.from(t.f) });
    }
    return name;
  }

  /** A float32 constant (an initializer with a generated name). */
  floats(values: readonly number[] | Float32Array, dims: number[] = [values.length]): string {
    return this.constant('float32', dims, Float32Array.from(values));
  }

  /** An int64 constant: shapes, axes, indices. dims [] is a scalar. */
  int64s(values: readonly number[], dims: number[] = [values.length]): string {
    return this.constant('int64', dims, BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** Adds a node with one output; returns the output's name. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.opN(op, inputs, 1, attrs)[0];
  }

  opN(op: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const id = `${op}_${this.counter++}`;
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? id : `${id}_${i}`));
    this.nodes.push({ name: id, op, inputs, outputs: outs, attrs });
    return outs;
  }

  private constant(type: ElemType, dims: number[], data: Float32Array | BigInt64Array): string {
    const name = this.fresh(`const_${this.counter++}`);
    this.initializers.set(name, { name, type, dims, data });
    return name;
  }

  private fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`onnx export (${this.name}): the name '${name}' is used twice`);
    this.names.add(name);
  }
}
