// What a bundle's files become, from their bytes, without file access: the manifest checked, the encoders, and the
// model built from its kind and config with the exported weights in place. Bundle.load (Node, files) and
// prerank/web's loadBundle (a page, fetch) both read bundles through these, so a page builds the same model, and
// so the same serving plan, as the server.
import type { Tensor } from '../core/tensor.js';
import { FeatureEncoders, type EncodersJson } from '../data/encoders.js';
import { MODELS } from '../models/registry.js';
import type { ModelFactory, RecModel } from '../models/types.js';
import { NoDrawRng } from '../nn/init.js';
import { assignTensors, tensorsFromBytes, type TensorManifest } from '../nn/tensor-bytes.js';
import { own } from '../util/own.js';
import type { ByteSource } from './byte-source.js';
import type { EncodersBinMeta } from './encoders-bin-format.js';
import { EncodersFormatError, parseEncodersMeta, readEncodersBin } from './encoders-bin-read.js';
import { canonicalJson, FILES, modelVersionOf, READABLE_FORMATS, type BundleManifest } from './manifest-format.js';

/** A bundle's error for a message about it (BundleError in Node, WebBundleError in a page). */
export type BundleFail = (message: string) => Error;

const utf8 = new TextDecoder();

/** A file's bytes parsed as JSON; `rel` names it in the error. */
export function parseJsonFile(bytes: Uint8Array | string, rel: string, fail: BundleFail): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : utf8.decode(bytes));
  } catch (e) {
    throw fail(`${rel} is not valid JSON: ${(e as Error).message}`);
  }
}

/** manifest.json's content checked for a format this prerank reads and the fields every bundle has. */
export function checkManifest(j: unknown, fail: BundleFail): BundleManifest {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw fail('manifest.json is not a JSON object');
  const m = j as BundleManifest;
  if (!READABLE_FORMATS.includes(m.format)) throw fail(`manifest.json has format '${String(m.format)}'; this prerank reads ${READABLE_FORMATS.map((f) => `'${f}'`).join(', ')} (re-export the model with this prerank)`);
  for (const k of ['model', 'features', 'files', 'items', 'hash'] as const) {
    if (m[k] === undefined) throw fail(`manifest.json has no '${k}'`);
  }
  return m;
}

/**
 * That nothing of the model's identity was edited: `hash` is the sha256 of modelHashText(m) (null: not computed
 * here), and modelVersion is derived from the manifest's hash.
 */
export function checkModelHash(m: BundleManifest, hash: string | null, fail: BundleFail): void {
  if (hash !== null && hash !== m.hash) {
    throw fail(`manifest.json was edited: its model, feature spec or file hashes give sha256 ${hash.slice(0, 16)}…, the manifest says ${String(m.hash).slice(0, 16)}…`);
  }
  if (m.modelVersion !== modelVersionOf(m.model.kind, m.hash)) throw fail(`manifest.json modelVersion '${m.modelVersion}' does not match its hash`);
}

/** Format /2 and later: encoders.json's content checked as the description of encoders.bin; format /1: null. */
export function encodersMeta(m: BundleManifest, json: unknown, fail: BundleFail): EncodersBinMeta | null {
  if (m.format === 'prerank-bundle/1') return null;
  try {
    const meta = parseEncodersMeta(json, FILES.encoders);
    if (meta.binary.file !== FILES.encodersBin) throw new EncodersFormatError(`${FILES.encoders}: binary.file is '${meta.binary.file}', expected '${FILES.encodersBin}'`);
    return meta;
  } catch (e) {
    throw fail(e instanceof EncodersFormatError ? e.message : `cannot read ${FILES.encodersBin}: ${(e as Error).message}`);
  }
}

/**
 * The encoders: format /1 from encoders.json's content, later formats from encoders.bin's bytes as `meta` describes
 * them (closed on error); checked against the manifest's feature spec.
 */
export function bundleEncoders(m: BundleManifest, json: unknown, meta: EncodersBinMeta | null, bytes: ByteSource | null, fail: BundleFail): FeatureEncoders {
  let encoders: FeatureEncoders;
  if (!meta) encoders = FeatureEncoders.fromJSON(json as EncodersJson);
  else {
    if (!bytes) throw fail(`${FILES.encoders} says the tables are in ${FILES.encodersBin}, which was not read`);
    try {
      encoders = readEncodersBin(meta, bytes, FILES.encodersBin);
    } catch (e) {
      bytes.close();
      throw fail(e instanceof EncodersFormatError ? e.message : `cannot read ${FILES.encodersBin}: ${(e as Error).message}`);
    }
  }
  if (canonicalJson(encoders.featureInfo()) !== canonicalJson(m.features)) {
    bytes?.close();
    throw fail('encoders.json describes other features than manifest.json (feature spec differs)');
  }
  return encoders;
}

/** The manifest's model (kind and config from the registry, or from `models`), with no weights yet. */
export function bundleModel(m: BundleManifest, fail: BundleFail, models?: Record<string, ModelFactory<any>>): RecModel {
  const registry: Record<string, ModelFactory<any>> = models ?? MODELS;
  const factory = own(registry, m.model.kind);
  if (!factory) throw fail(`model kind '${m.model.kind}' is not registered here (known: ${Object.keys(registry).join(', ')})`);
  const model = factory({ features: m.features, rng: new NoDrawRng(0) }, m.model.config);
  if (model.twoTower !== m.model.twoTower) throw fail(`model '${m.model.kind}' is ${model.twoTower ? 'two' : 'single'}-tower here but was exported as ${m.model.twoTower ? 'two' : 'single'}-tower`);
  return model;
}

/** A tensor directory of the bundle (its manifest's content over its tensors.bin bytes), read in place. */
export function bundleTensors(manifestJson: unknown, bin: ArrayBufferView, manifestRel: string, binRel: string, fail: BundleFail): Map<string, Tensor> {
  try {
    return tensorsFromBytes(manifestJson as TensorManifest, bin, manifestRel, binRel);
  } catch (e) {
    throw fail((e as Error).message);
  }
}

/** The exported weights put into the model, shared, not copied (a served model never writes them); eval mode. */
export function assignWeights(model: RecModel, m: BundleManifest, weights: Map<string, Tensor>, what: string, fail: BundleFail): void {
  try {
    assignTensors(model.stateTensors(), weights, what, { share: true });
  } catch (e) {
    throw fail(`weights do not fit model '${m.model.kind}' with its config: ${(e as Error).message}`);
  }
  model.eval();
}
