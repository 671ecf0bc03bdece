// loadBundle: a bundle written by `prerank export`, loaded in a page over fetch. What is fetched, in this order:
// manifest.json (refused before anything else when its format, model kind or item table does not fit the web
// scorer), then together encoders.json (+ encoders.bin), weights/manifest.json + weights/tensors.bin, the item ids
// and the item table (streamed straight into the scorer module's memory; + items/scales.bin for int8), and a
// strategy's stored user encodings when the bundle has them. Nothing else: no ANN index, no item features.
import { readIds, readUserEncodings, type BundleReader, type UserEncodings } from '../export/bundle-ids.js';
import { MemoryBytes } from '../export/byte-source.js';
import { assignWeights, bundleEncoders, bundleModel, bundleTensors, checkManifest, checkModelHash, encodersMeta, parseJsonFile } from '../export/bundle-parts.js';
import type { Ids } from '../export/id-table.js';
import { FILES, modelHashText, type BundleManifest } from '../export/manifest-format.js';
import type { UserServingPlan } from '../models/common/serving.js';
import type { RecModel } from '../models/types.js';
import { BundleFetcher, bundleBase, sha256Hex, type FetchFn } from './bundle-fetch.js';
import type { WasmItems } from './wasm-items.js';
import type { WasmSource } from './wasm-module.js';
import { WasmScorer } from './wasm-scorer.js';
import { WebBundle } from './web-bundle.js';

export interface LoadBundleOptions {
  /** The fetch to use (default: the global fetch). */
  fetch?: FetchFn;
  /** A loaded scorer to put the bundle in (several bundles may share one), or where its module is (default: beside this package's code). */
  wasm?: WasmScorer | WasmSource;
  /** Check every file against the manifest's sha256 (default true; skipped where the runtime has no WebCrypto digest). */
  verify?: boolean;
}

/** Fetches the bundle at `url` (its directory, or its manifest.json) and makes it ready to score requests. */
export async function loadBundle(url: string | URL, opts: LoadBundleOptions = {}): Promise<WebBundle> {
  const f = new BundleFetcher(bundleBase(url), opts.fetch ?? ((u, init) => fetch(u, init)), opts.verify ?? true);
  const m = checkManifest(parseJsonFile(await f.bytes('manifest.json'), 'manifest.json', f.fail), f.fail);
  checkModelHash(m, opts.verify ?? true ? await sha256Hex(modelHashText(m)) : null, f.fail);
  f.manifest = m;
  if (!m.model.twoTower || !m.items.cached) {
    throw f.fail(`model '${m.model.kind}' is a single-tower model: the web scorer scores two-tower bundles, whose item reps are cached in the bundle`);
  }
  const model = bundleModel(m, f.fail);
  if (!model.servingPlan) throw f.fail(`model '${m.model.kind}' has no serving plan: the web scorer runs only models that have one`);
  const scorerP = opts.wasm instanceof WasmScorer ? Promise.resolve(opts.wasm) : WasmScorer.load(opts.wasm);
  const [encoders, , itemIds, userEncodings, scorer] = await Promise.all([
    readEncoders(f, m), readWeights(f, m, model), readIds(reader(f, m), 'items', m.items.count), readUsers(f, m), scorerP,
  ]);
  let plan: UserServingPlan;
  try {
    plan = model.servingPlan();
  } catch (e) {
    throw f.fail(`model '${m.model.kind}' with this config has no serving plan (${(e as Error).message}): the web scorer cannot run it`);
  }
  const compiled = scorer.compile(plan.spec);
  let items: WasmItems;
  try {
    items = await readItems(f, m, scorer, itemIds);
  } catch (e) {
    compiled.dispose();
    throw e;
  }
  return new WebBundle({ url: f.base.href, manifest: m, model, encoders, userEncodings, itemIds, plan, compiled, items, scorer, sizes: f.sizes });
}

/** The bundle readers' view of the fetcher (bundle-ids.ts reads ids and stored user encodings through it). */
function reader(f: BundleFetcher, m: BundleManifest): BundleReader {
  return { m, read: (rel) => f.bytes(rel), inPlace: (rel) => f.bytes(rel), fail: f.fail };
}

async function readEncoders(f: BundleFetcher, m: BundleManifest) {
  const j = parseJsonFile(await f.bytes(FILES.encoders), FILES.encoders, f.fail);
  const meta = encodersMeta(m, j, f.fail);
  const bytes = meta ? new MemoryBytes(await f.bytes(FILES.encodersBin)) : null;
  return bundleEncoders(m, j, meta, bytes, f.fail);
}

async function readWeights(f: BundleFetcher, m: BundleManifest, model: RecModel): Promise<void> {
  const [tm, bin] = await Promise.all([f.bytes(FILES.weightsManifest), f.bytes(FILES.weightsBin)]);
  const weights = bundleTensors(parseJsonFile(tm, FILES.weightsManifest, f.fail), bin, FILES.weightsManifest, FILES.weightsBin, f.fail);
  assignWeights(model, m, weights, `bundle ${f.base.href} weights`, f.fail);
}

async function readUsers(f: BundleFetcher, m: BundleManifest): Promise<UserEncodings | null> {
  return m.strategy?.userEncodings ? readUserEncodings(reader(f, m)) : null;
}

/** The item table streamed into module memory, its size and sha256 checked. */
async function readItems(f: BundleFetcher, m: BundleManifest, scorer: WasmScorer, ids: Ids): Promise<WasmItems> {
  if (!m.items.cached) throw f.fail('the manifest says the item table is not cached');
  const { dim, dtype } = m.items;
  const scales = dtype === 'int8' ? await f.bytes(FILES.itemScales) : null;
  if (scales && scales.byteLength !== ids.size * 4) throw f.fail(`${FILES.itemScales} has ${scales.byteLength} bytes, expected ${ids.size * 4} (${ids.size} float32 scales)`);
  const width = dtype === 'float32' ? 4 : dtype === 'int8' ? 1 : 2;
  const want = ids.size * dim * width;
  let items: WasmItems;
  try {
    items = await scorer.fetchItems(f.response(FILES.itemReps), { dim, dtype, scales: scales ? new Float32Array(scales.buffer, 0, ids.size) : undefined });
  } catch (e) {
    throw f.fail(`${FILES.itemReps}: ${(e as Error).message}`);
  }
  if (items.count !== ids.size) {
    items.dispose();
    throw f.fail(`${FILES.itemReps} has ${items.count * dim * width} bytes, expected ${want} (${ids.size} items x ${dim} ${dtype})`);
  }
  f.sizes[FILES.itemReps] = want;
  try {
    await f.check(FILES.itemReps, items.bytes());
  } catch (e) {
    items.dispose();
    throw e;
  }
  return items;
}
