// Bundle.load: reads a bundle written by exportBundle, checking the format version and the sha256 of every file it
// reads, and refusing a mismatched or corrupt bundle with a message naming the file and what differs. Parts:
// 'user' = encoders + weights (user tower and score) + a strategy's stored user encodings when the bundle has them,
// 'item' = the item table (or the item features of a single-tower model), 'all' = both. Encoders of format /2 are
// read in place from encoders.bin (encoders-bin-read.ts); format /1 bundles (every table in encoders.json) still load.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../core/index.js';
import { FeatureEncoders, type EncodersJson } from '../data/index.js';
import { MODELS } from '../models/registry.js';
import type { ModelFactory, RecModel } from '../models/types.js';
import { NoDrawRng } from '../nn/init.js';
import { assignTensors, tensorsFromBytes, type TensorManifest } from '../nn/state.js';
import { recoverSwap } from '../util/atomic-dir.js';
import { own } from '../util/own.js';
import { MemoryBytes, type ByteSource } from './byte-source.js';
import { FileBytes } from './file-bytes.js';
import { EncodersFormatError, parseEncodersMeta, readEncodersBin } from './encoders-bin-read.js';
import { readIds, readUserEncodings, type BundleReader, type UserEncodings } from './bundle-ids.js';
import type { Ids } from './id-table.js';
import { bundleFile, checkMapped, openItemTable, type ItemVerify, type UncheckedFile } from './item-file.js';
import type { ItemTable } from './item-table.js';
import { canMap, sha256File } from './mapped-file.js';
import { canonicalJson, FILES, modelHash, modelVersionOf, READABLE_FORMATS, sha256Async, type BundleManifest } from './manifest.js';

export type { UserEncodings } from './bundle-ids.js';

export type BundlePart = 'user' | 'item' | 'all';

export interface BundleLoadOptions {
  parts?: BundlePart;
  /** Model factories by kind (default: the registry). */
  models?: Record<string, ModelFactory<any>>;
  /**
   * How encoders.bin is read: 'memory' reads it whole and checks its sha256; 'file' keeps it open and reads each
   * lookup's bytes with pread (load time and memory independent of its size; its length and header are checked,
   * not its hash); 'auto' (default) is 'memory' up to ENCODERS_IN_MEMORY bytes, else 'file'.
   */
  encoders?: 'memory' | 'file' | 'auto';
  /**
   * Map the files read in place (item table, id tables, weights, stored user encodings) read-only (default: when
   * the native addon loaded) instead of reading them into the heap. The model's weights are then the mapped bytes:
   * a bundle's model is for serving, and writing its weights (training it) faults the process; load with
   * `map: false` for weights of its own.
   */
  map?: boolean;
  /**
   * 'load' (default): every file's sha256 is checked before load returns. 'defer': mapped files are only
   * size-checked, so loading costs the same at any size; call verifyDeferred() to check them.
   */
  verify?: ItemVerify;
}

/** Largest encoders.bin that 'auto' reads into memory. */
export const ENCODERS_IN_MEMORY = 64 << 20;

/** Encoded item features of a single-tower bundle: `sparse.<f>`, `dense.<f>`, `sequence.<f>.ids|lengths`. */
export interface ItemFeatures {
  ids: Ids;
  tensors: Map<string, Tensor>;
}

/** A bundle file's bytes, checked against the manifest's sha256 (hashed off the event loop); `hint` ends the errors. */
async function readVerified(dir: string, m: BundleManifest, rel: string, hint = ''): Promise<Buffer> {
  const expected = m.files[rel];
  if (!expected) throw new BundleError(dir, `manifest.json lists no hash for ${rel}`);
  let data: Buffer;
  try {
    data = await readFile(join(dir, rel));
  } catch (e) {
    throw new BundleError(dir, `cannot read ${rel}: ${(e as Error).message}${hint}`);
  }
  const got = await sha256Async(data);
  if (got !== expected) throw new BundleError(dir, `${rel} does not match the manifest (sha256 ${got.slice(0, 16)}…, expected ${expected.slice(0, 16)}…): the file was changed or is corrupt${hint}`);
  return data;
}

/** readVerified's check, hashing the file through a read-only mapping instead of reading it into the heap. */
async function mappedVerified(dir: string, m: BundleManifest, rel: string, hint: string): Promise<void> {
  let got: string;
  try {
    got = await sha256File(join(dir, rel));
  } catch (e) {
    throw new BundleError(dir, `cannot read ${rel}: ${(e as Error).message}${hint}`);
  }
  const expected = m.files[rel];
  if (got !== expected) throw new BundleError(dir, `${rel} does not match the manifest (sha256 ${got.slice(0, 16)}…, expected ${expected.slice(0, 16)}…): the file was changed or is corrupt${hint}`);
}

/** A tensor directory of the bundle (manifest + tensors.bin), its tensors read in place from the (mapped) bytes. */
async function readTensorDir(r: BundleReader, manifestRel: string, binRel: string): Promise<Map<string, Tensor>> {
  let tm: TensorManifest;
  try {
    tm = JSON.parse((await r.o.read(manifestRel)).toString('utf8')) as TensorManifest;
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw r.o.fail(`${manifestRel} is not valid JSON: ${(e as Error).message}`);
  }
  const bin = await bundleFile(r.dir, r.m, binRel, r.o, r.unchecked, 'sequential');
  try {
    return tensorsFromBytes(tm, bin, manifestRel, binRel);
  } catch (e) {
    throw r.o.fail((e as Error).message);
  }
}

export class BundleError extends Error {
  constructor(readonly dir: string, message: string) {
    super(`bundle ${dir}: ${message}`);
    this.name = 'BundleError';
  }
}

export class Bundle {
  private constructor(
    readonly dir: string,
    readonly manifest: BundleManifest,
    readonly parts: BundlePart,
    /** Present for parts 'user' and 'all'. */
    readonly model: RecModel | null,
    readonly encoders: FeatureEncoders | null,
    /** Two-tower bundles, parts 'item' and 'all'. */
    readonly items: ItemTable | null,
    /** Single-tower bundles, parts 'item' and 'all'. */
    readonly itemFeatures: ItemFeatures | null,
    /** Stored user reps a training strategy exported (parts 'user' and 'all'); null: every user goes through the tower. */
    readonly userEncodings: UserEncodings | null = null,
    /** The open encoders.bin, closed by dispose(). */
    private readonly encoderBytes: ByteSource | null = null,
    /** Mapped files loaded with verify 'defer', not yet checked against the manifest. */
    private unchecked: UncheckedFile[] = [],
  ) {}

  /** True while a mapped file loaded with verify 'defer' has not been checked (verifyDeferred checks it). */
  get verifyPending(): boolean {
    return this.unchecked.length > 0;
  }

  /**
   * Checks the sha256 of the files that Bundle.load deferred (verify 'defer'), reading every page; throws
   * a BundleError naming the file that differs from the manifest. Nothing to do after a load that verified.
   */
  async verifyDeferred(): Promise<void> {
    await checkMapped(this.manifest, this.unchecked, (msg) => new BundleError(this.dir, msg));
    this.unchecked = [];
  }

  get modelVersion(): string {
    return this.manifest.modelVersion;
  }

  get twoTower(): boolean {
    return this.manifest.model.twoTower;
  }

  static async readManifest(dir: string): Promise<BundleManifest> {
    const path = join(dir, 'manifest.json');
    // an export killed between its two renames left the previous bundle under a temporary name: put it back
    if (!existsSync(path)) await recoverSwap(dir);
    if (!existsSync(path)) throw new BundleError(dir, 'no manifest.json (is this a bundle directory written by `prerank export`?)');
    let m: BundleManifest;
    try {
      m = JSON.parse(await readFile(path, 'utf8')) as BundleManifest;
    } catch (e) {
      throw new BundleError(dir, `manifest.json is not valid JSON: ${(e as Error).message}`);
    }
    if (!READABLE_FORMATS.includes(m.format)) throw new BundleError(dir, `manifest.json has format '${String(m.format)}'; this prerank reads ${READABLE_FORMATS.map((f) => `'${f}'`).join(', ')} (re-export the model with this prerank)`);
    for (const k of ['model', 'features', 'files', 'items', 'hash'] as const) {
      if (m[k] === undefined) throw new BundleError(dir, `manifest.json has no '${k}'`);
    }
    const hash = modelHash(m);
    if (hash !== m.hash) {
      throw new BundleError(dir, `manifest.json was edited: its model, feature spec or file hashes give sha256 ${hash.slice(0, 16)}…, the manifest says ${String(m.hash).slice(0, 16)}…`);
    }
    if (m.modelVersion !== modelVersionOf(m.model.kind, m.hash)) throw new BundleError(dir, `manifest.json modelVersion '${m.modelVersion}' does not match its hash`);
    return m;
  }

  static async load(dir: string, opts: BundleLoadOptions = {}): Promise<Bundle> {
    const parts = opts.parts ?? 'all';
    const m = await Bundle.readManifest(dir);
    const read = (rel: string): Promise<Buffer> => readVerified(dir, m, rel);
    const fail = (msg: string) => new BundleError(dir, msg);
    const r: BundleReader = { dir, m, o: { map: opts.map, verify: opts.verify, read, fail }, unchecked: [] };
    let model: RecModel | null = null;
    let encoders: FeatureEncoders | null = null;
    let userEncodings: UserEncodings | null = null;
    let encoderBytes: ByteSource | null = null;
    if (parts !== 'item') {
      ({ encoders, bytes: encoderBytes } = await Bundle.readEncoders(dir, m, read, opts.encoders ?? 'auto'));
      const spec = canonicalJson(encoders.featureInfo());
      if (spec !== canonicalJson(m.features)) throw new BundleError(dir, 'encoders.json describes other features than manifest.json (feature spec differs)');
      model = Bundle.buildModel(dir, m, opts.models);
      try {
        // shared, not copied: a served model's weights stay in the file's pages (mapped: one copy per host)
        assignTensors(model.stateTensors(), await readTensorDir(r, FILES.weightsManifest, FILES.weightsBin), `bundle ${dir} weights`, { share: true });
      } catch (e) {
        if (e instanceof BundleError) throw e;
        throw new BundleError(dir, `weights do not fit model '${m.model.kind}' with its config: ${(e as Error).message}`);
      }
      model.eval();
      if (m.strategy?.userEncodings) userEncodings = await readUserEncodings(r);
    }
    let items: ItemTable | null = null;
    let itemFeatures: ItemFeatures | null = null;
    if (parts !== 'user') {
      const ids = await readIds(r, 'items', m.items.count);
      if (m.items.cached) {
        const opened = await openItemTable(dir, m, ids, r.o);
        items = opened.table;
        r.unchecked.push(...opened.unchecked);
      } else {
        itemFeatures = { ids, tensors: await readTensorDir(r, FILES.itemFeaturesManifest, FILES.itemFeaturesBin) };
      }
    }
    return new Bundle(dir, m, parts, model, encoders, items, itemFeatures, userEncodings, encoderBytes, r.unchecked);
  }

  /** Format /1: encoders.json holds every table; /2: encoders.json says where they sit in encoders.bin. */
  private static async readEncoders(dir: string, m: BundleManifest, read: (rel: string) => Promise<Buffer>,
    mode: 'memory' | 'file' | 'auto'): Promise<{ encoders: FeatureEncoders; bytes: ByteSource | null }> {
    let j: unknown;
    try {
      j = JSON.parse((await read(FILES.encoders)).toString('utf8'));
    } catch (e) {
      if (e instanceof BundleError) throw e;
      throw new BundleError(dir, `${FILES.encoders} is not valid JSON: ${(e as Error).message}`);
    }
    if (m.format === 'prerank-bundle/1') return { encoders: FeatureEncoders.fromJSON(j as EncodersJson), bytes: null };
    let bytes: ByteSource | null = null;
    try {
      const meta = parseEncodersMeta(j, FILES.encoders);
      if (meta.binary.file !== FILES.encodersBin) throw new EncodersFormatError(`${FILES.encoders}: binary.file is '${meta.binary.file}', expected '${FILES.encodersBin}'`);
      const path = join(dir, FILES.encodersBin);
      const inMemory = mode === 'memory' || (mode === 'auto' && existsSync(path) && statSync(path).size <= ENCODERS_IN_MEMORY);
      if (inMemory) bytes = new MemoryBytes(await read(FILES.encodersBin));
      else {
        if (!m.files[FILES.encodersBin]) throw new BundleError(dir, `manifest.json lists no hash for ${FILES.encodersBin}`);
        bytes = new FileBytes(path);
      }
      return { encoders: readEncodersBin(meta, bytes, FILES.encodersBin), bytes };
    } catch (e) {
      bytes?.close();
      if (e instanceof BundleError) throw e;
      throw new BundleError(dir, e instanceof EncodersFormatError ? e.message : `cannot read ${FILES.encodersBin}: ${(e as Error).message}`);
    }
  }

  /**
   * The bundle's saved ANN index file, checked against its manifest hash, or null when the bundle has none. Throws a
   * BundleError when the file is listed but missing or changed: the manifest lists it, so the bundle is incomplete or
   * corrupt like with any other file (and usearch must never read a damaged index: a truncated one aborts the process).
   */
  async annIndexPath(file: string = FILES.itemAnn): Promise<string | null> {
    if (!this.manifest.files[file]) return null;
    const hint = '; re-export the bundle, or serve it without the saved index (--ann brute-force)';
    // hashed through a mapping where possible: no heap copy of an index of gigabytes
    if (canMap()) await mappedVerified(this.dir, this.manifest, file, hint);
    else await readVerified(this.dir, this.manifest, file, hint);
    return join(this.dir, file);
  }

  private static buildModel(dir: string, m: BundleManifest, models?: Record<string, ModelFactory<any>>): RecModel {
    const registry: Record<string, ModelFactory<any>> = models ?? MODELS;
    const factory = own(registry, m.model.kind);
    if (!factory) throw new BundleError(dir, `model kind '${m.model.kind}' is not registered here (known: ${Object.keys(registry).join(', ')})`);
    const model = factory({ features: m.features, rng: new NoDrawRng(0) }, m.model.config);
    if (model.twoTower !== m.model.twoTower) throw new BundleError(dir, `model '${m.model.kind}' is ${model.twoTower ? 'two' : 'single'}-tower here but was exported as ${m.model.twoTower ? 'two' : 'single'}-tower`);
    return model;
  }

  /** Releases the model's tensors; call only when no request uses the bundle any more. */
  dispose(): void {
    if (this.model) for (const t of this.model.stateTensors().values()) t.release();
    this.encoderBytes?.close();
  }
}
