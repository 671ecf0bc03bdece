// exportOnnx: a trained model and its dataset -> a directory of ONNX graphs (graphs.ts), encoders.json (the
// dataset's fitted encoders, the bundle's format), inputs.json (inputs-json.ts) and model.safetensors (the weights,
// named as in checkpoints), written atomically.
// Shape letters: B batch.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomic } from '../../util/atomic-dir.js';
import { noGrad, scope } from '../../core/index.js';
import type { Batch, TrainingData } from '../../data/index.js';
import { headOf } from '../../data/batch.js';
import type { RecModel } from '../../models/types.js';
import { fromRunDir } from '../export-bundle.js';
import { encodeSafetensors } from '../safetensors.js';
import { OPSET } from './graph.js';
import { encodeModel } from './proto.js';
import { onnxGraphs, type OnnxGraphFile } from './graphs.js';
import { lengthInput, type InputSpec } from './features.js';
import { IDS_RULE, ONNX_FORMAT, ONNX_FORMAT_VERSION, featureEntries, type OnnxExample, type OnnxInputsJson } from './inputs-json.js';

/** What the safetensors copy's names and shapes mean (its __metadata__.layout). */
export const SAFETENSORS_LAYOUT = 'the model\'s parameters and buffers as its checkpoints name them; Linear weights are [in, out] '
  + '(y = x W + b: transpose for torch.nn.Linear); embedding tables [rows, D] with row 0 padding and row 1 out of vocabulary';

export interface OnnxExportResult {
  dir: string;
  files: { file: string; bytes: number }[];
  inputs: OnnxInputsJson;
}

export interface OnnxExportOptions {
  /** Written into every graph's producer_version (default: 'prerank'). */
  producerVersion?: string;
  /** Extra metadata_props of every graph (e.g. the model version). */
  metadata?: Record<string, string>;
}

/** Writes `dir` (replaced whole): the model's .onnx files, encoders.json and inputs.json. */
export async function exportOnnx(model: RecModel, dataset: TrainingData, dir: string, o: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  const graphs = onnxGraphs(model);
  const encoded = graphs.map((f) => ({ file: f.file, bytes: encodeModel(f.graph, { doc: f.doc, producerVersion: o.producerVersion ?? 'prerank', metadata: { model: model.kind, ...o.metadata } }) }));
  const inputs = inputsJson(model, dataset, graphs);
  await writeDirAtomic(dir, async (tmp) => {
    for (const e of encoded) await writeFile(join(tmp, e.file), e.bytes);
    await writeFile(join(tmp, 'encoders.json'), JSON.stringify(dataset.encoders.toJSON()));
    await writeFile(join(tmp, 'inputs.json'), JSON.stringify(inputs, null, 1));
    await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(model.stateTensors(), { model: model.kind, layout: SAFETENSORS_LAYOUT }));
  });
  return { dir, files: encoded.map((e) => ({ file: e.file, bytes: e.bytes.length })), inputs };
}

function inputsJson(model: RecModel, ds: TrainingData, graphs: OnnxGraphFile[]): OnnxInputsJson {
  const byName = new Map(ds.features.map((f) => [f.name, f]));
  const files = Object.fromEntries(graphs.map(({ file, graph, doc }) => [file, {
    doc,
    inputs: graph.inputs.map((i) => {
      const f = byName.get(i.name) ?? ds.features.find((x) => lengthInput(x.name) === i.name);
      const spec: InputSpec & { doc: string } = f
        ? { name: i.name, dtype: i.type, shape: i.dims, feature: f.name, source: f.source, role: i.name === f.name ? (f.kind === 'dense' ? 'value' : 'ids') : 'lengths', doc: i.doc ?? '' }
        : { name: i.name, dtype: i.type, shape: i.dims, feature: '', source: 'user', role: 'value', doc: i.doc ?? '' };
      return spec;
    }),
    outputs: graph.outputs.map((x) => ({ name: x.name, dtype: x.type, shape: x.dims, doc: x.doc ?? '' })),
  }]));
  return {
    format: ONNX_FORMAT, version: ONNX_FORMAT_VERSION, model: model.kind, opset: OPSET, encoders: 'encoders.json', ids: IDS_RULE,
    files, features: featureEntries(ds.features, ds.encoders.toJSON()), example: example(model, ds),
  };
}

/** The first test row (else the first row): its raw tokens, the model.onnx feeds and prerank's logit. */
function example(model: RecModel, ds: TrainingData): OnnxExample | undefined {
  const split = ds.splitSize('test') ? 'test' : 'train';
  const b: Batch | undefined = ds.batches(split, { batchSize: 1, shuffle: false }).epoch(0).next().value;
  if (!b || b.size === 0) return undefined;
  const row = headOf(b, 1);
  const raw: OnnxExample['raw'] = {};
  const feeds: OnnxExample['feeds'] = {};
  const token = (f: string, id: number): string => (id === 0 ? '(padding)' : id === 1 ? '(out of vocabulary)' : ds.encoders.vocabulary(f).token(id) ?? `(hash bucket ${id})`);
  for (const f of ds.features) {
    if (f.kind === 'sparse') {
      feeds[f.name] = [row.sparse[f.name][0]];
      raw[f.name] = token(f.name, row.sparse[f.name][0]);
    } else if (f.kind === 'dense') {
      feeds[f.name] = [row.dense[f.name][0]];
      raw[f.name] = row.dense[f.name][0];
    } else {
      const s = row.sequence[f.name];
      const ids = Array.from(s.ids.subarray(0, s.lengths[0]));
      feeds[f.name] = ids.length ? ids : [0];
      feeds[lengthInput(f.name)] = [ids.length];
      raw[f.name] = ids.map((id) => token(f.name, id));
    }
  }
  const was = model.training;
  model.eval();
  try {
    const score = noGrad(() => scope(() => model.forward(row).f[0]));
    return { about: `row 0 of the ${split} split: raw holds the tokens behind the ids and the scaled dense values; feeds are model.onnx's inputs (shape [1] or [1, length])`, raw, feeds, score };
  } finally {
    model.train(was);
  }
}

/** exportOnnx for a training run directory (config.json + best/ or last/ checkpoint). */
export async function exportOnnxRun(runDir: string, dir: string, o: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  const { model, dataset } = await fromRunDir(runDir);
  return exportOnnx(model, dataset, dir, o);
}
