// ModelProto bytes from an OnnxGraph, through protobufjs and the official onnx.proto (onnx-proto.ts). Tensor data
// is written as raw_data: little-endian, as the ONNX specification requires whatever the writer's byte order.
import protobuf from 'protobufjs';
import { ONNX_PROTO } from './onnx-proto.js';
import { IR_VERSION, OPSET, type AttrValue, type Dim, type ElemType, type Initializer, type OnnxGraph, type ValueInfo } from './graph.js';

/** onnx.TensorProto.DataType codes. */
export const DATA_TYPE: Record<ElemType, number> = { float32: 1, int64: 7, bool: 9 };
/** onnx.AttributeProto.AttributeType codes. */
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

let modelType: protobuf.Type | null = null;

/** onnx.ModelProto, parsed from the schema once. */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export interface ModelInfo {
  /** What the model computes, for a reader of the file. */
  doc: string;
  producerVersion: string;
  /** Stored as metadata_props. */
  metadata?: Record<string, string>;
}

/** The graph as ModelProto bytes (opset 17, IR version 8). */
export function encodeModel(g: OnnxGraph, info: ModelInfo): Uint8Array {
  const T = modelProtoType();
  const message = {
    ir_version: IR_VERSION,
    producer_name: 'prerank',
    producer_version: info.producerVersion,
    doc_string: info.doc,
    opset_import: [{ domain: '', version: OPSET }],
    metadata_props: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      initializer: [...g.initializers.values()].map(tensorProto),
      node: g.nodes.map((n) => ({
        name: n.name, op_type: n.op, input: n.inputs, output: n.outputs,
        attribute: Object.entries(n.attrs).map(([name, v]) => attribute(name, v)),
      })),
    },
  };
  const problem = T.verify(message);
  if (problem) throw new Error(`onnx export (${g.name}): not a valid ModelProto: ${problem}`);
  return T.encode(T.fromObject(message)).finish();
}

/** Bytes back to a plain object (field names as in onnx.proto, int64 as numbers): for tests and inspection. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const T = modelProtoType();
  return T.toObject(T.decode(bytes), { longs: Number, enums: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}

function dim(d: Dim): { dim_value: number } | { dim_param: string } {
  return typeof d === 'number' ? { dim_value: d } : { dim_param: d };
}

function valueInfo(v: ValueInfo): object {
  return {
    name: v.name,
    doc_string: v.doc ?? '',
    type: { tensor_type: { elem_type: DATA_TYPE[v.type], shape: { dim: v.dims.map(dim) } } },
  };
}

function tensorProto(t: Initializer): object {
  const raw = new Uint8Array(t.data.byteLength);
  const view = new DataView(raw.buffer);
  if (t.data instanceof Float32Array) t.data.forEach((x, i) => view.setFloat32(i * 4, x, true));
  else t.data.forEach((x, i) => view.setBigInt64(i * 8, x, true));
  return { name: t.name, data_type: DATA_TYPE[t.type], dims: t.dims, raw_data: raw };
}

function attribute(name: string, v: AttrValue): object {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`onnx attribute '${name}': ${v} is not an integer (mark floats as { float })`);
    return { name, type: ATTR.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: v };
  return { name, type: ATTR.FLOAT, f: (v as { float: number }).float };
}
