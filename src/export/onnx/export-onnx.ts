// exportOnnx: a trained model and its source (a training run's dataset or a bundle's encoders: sources.ts) -> a
// directory of ONNX graphs (graphs.ts), encoders.json (the fitted encoders in their JSON form), inputs.json
// (inputs-json.ts) and model.safetensors (the weights, named as in checkpoints), written atomically.
// Shape letters: B batch.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomic } from '../../util/atomic-dir.js';
import { noGrad, scope } from '../../core/index.js';
import type { EncodersJson, TrainingData } from '../../data/index.js';
import type { RecModel } from '../../models/types.js';
import { Bundle } from '../bundle.js';
import { fromRunDir } from '../export-bundle.js';
import { encodeSafetensors } from '../safetensors.js';
import { OPSET } from './graph.js';
import { encodeModel } from './proto.js';
import { onnxGraphs, type OnnxGraphFile } from './graphs.js';
import { lengthInput, type InputSpec } from './features.js';
import { IDS_RULE, ONNX_FORMAT, ONNX_FORMAT_VERSION, featureEntries, type OnnxExample, type OnnxInputsJson } from './inputs-json.js';
import { datasetSource, encodersSource, type OnnxSource } from './sources.js';

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

/**
 * Writes `dir` (replaced whole): the model's .onnx files, encoders.json, inputs.json and model.safetensors. `from`: a
 * training dataset (datasetSource) or any OnnxSource.
 */
export async function exportOnnx(model: RecModel, from: OnnxSource | TrainingData, dir: string, o: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  const source = 'batches' in from ? datasetSource(from) : from;
  const graphs = onnxGraphs(model);
  const encoded = graphs.map((f) => ({ file: f.file, bytes: encodeModel(f.graph, { doc: f.doc, producerVersion: o.producerVersion ?? 'prerank', metadata: { model: model.kind, ...o.metadata } }) }));
  const encoders = source.encoders.toJSON();
  const inputs = inputsJson(model, source, encoders, graphs);
  await writeDirAtomic(dir, async (tmp) => {
    for (const e of encoded) await writeFile(join(tmp, e.file), e.bytes);
    await writeFile(join(tmp, 'encoders.json'), JSON.stringify(encoders));
    await writeFile(join(tmp, 'inputs.json'), JSON.stringify(inputs, null, 1));
    await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(model.stateTensors(), { model: model.kind, layout: SAFETENSORS_LAYOUT }));
  });
  return { dir, files: encoded.map((e) => ({ file: e.file, bytes: e.bytes.length })), inputs };
}

function inputsJson(model: RecModel, src: OnnxSource, encoders: EncodersJson, graphs: OnnxGraphFile[]): OnnxInputsJson {
  const byName = new Map(src.features.map((f) => [f.name, f]));
  const files = Object.fromEntries(graphs.map(({ file, graph, doc }) => [file, {
    doc,
    inputs: graph.inputs.map((i) => {
      const f = byName.get(i.name) ?? src.features.find((x) => lengthInput(x.name) === i.name);
      const spec: InputSpec & { doc: string } = f
        ? { name: i.name, dtype: i.type, shape: i.dims, feature: f.name, source: f.source, role: i.name === f.name ? (f.kind === 'dense' ? 'value' : 'ids') : 'lengths', doc: i.doc ?? '' }
        : { name: i.name, dtype: i.type, shape: i.dims, feature: '', source: 'user', role: 'value', doc: i.doc ?? '' };
      return spec;
    }),
    outputs: graph.outputs.map((x) => ({ name: x.name, dtype: x.type, shape: x.dims, doc: x.doc ?? '' })),
  }]));
  return {
    format: ONNX_FORMAT, version: ONNX_FORMAT_VERSION, model: model.kind, opset: OPSET, encoders: 'encoders.json', ids: IDS_RULE,
    files, features: featureEntries(src.features, encoders), example: example(model, src),
  };
}

/** The source's example row: its raw tokens, the model.onnx feeds and prerank's logit. */
function example(model: RecModel, src: OnnxSource): OnnxExample | undefined {
  if (!src.example) return undefined;
  const { row, about } = src.example;
  const raw: OnnxExample['raw'] = {};
  const feeds: OnnxExample['feeds'] = {};
  const token = (f: string, id: number): string => (id === 0 ? '(padding)' : id === 1 ? '(out of vocabulary)' : src.encoders.vocabulary(f).token(id) ?? `(hash bucket ${id})`);
  for (const f of src.features) {
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
    return { about: `${about}: raw holds the tokens behind the ids and the scaled dense values; feeds are model.onnx's inputs (shape [1] or [1, length])`, raw, feeds, score };
  } finally {
    model.train(was);
  }
}

/** exportOnnx for a training run directory (config.json + best/ or last/ checkpoint). */
export async function exportOnnxRun(runDir: string, dir: string, o: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  const { model, dataset } = await fromRunDir(runDir);
  return exportOnnx(model, dataset, dir, o);
}

/** exportOnnx for a serving bundle (its model config, weights and encoders; no training data needed). */
export async function exportOnnxBundle(bundleDir: string, dir: string, o: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  // encoders.bin read whole: its sha256 is checked, and every table is written out as JSON anyway
  const bundle = await Bundle.load(bundleDir, { parts: 'user', encoders: 'memory' });
  try {
    return await exportOnnx(bundle.model!, encodersSource(bundle.manifest.features, bundle.encoders!), dir,
      { ...o, metadata: { modelVersion: bundle.modelVersion, ...o.metadata } });
  } finally {
    bundle.dispose();
  }
}
