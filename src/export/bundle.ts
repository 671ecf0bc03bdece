// Bundle.load: reads a bundle written by exportBundle, checking the format version and the sha256 of every file it
// reads, and refusing a mismatched or corrupt bundle with a message naming the file and what differs. Parts:
// 'user' = encoders + weights (user tower and score) + a strategy's stored user encodings when the bundle has them,
// 'item' = the item table (or the item features of a single-tower model), 'all' = both. Encoders of format /2 are
// read in place from encoders.bin (encoders-bin-read.ts); format /1 bundles (every table in encoders.json) still load.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../core/index.js';
import type { FeatureEncoders } from '../data/index.js';
import type { ModelFactory, RecModel } from '../models/types.js';
import { recoverSwap } from '../util/atomic-dir.js';
import { MemoryBytes, type ByteSource } from './byte-source.js';
import { assignWeights, bundleEncoders, bundleModel, bundleTensors, checkManifest, checkModelHash, encodersMeta, parseJsonFile } from './bundle-parts.js';
import { FileBytes } from './file-bytes.js';
import { readIds, readUserEncodings, type BundleReader, type UserEncodings } from './bundle-ids.js';
import type { Ids } from './id-table.js';
import { parseAttributes, type StoredAttributes } from './item-attributes.js';
import { bundleFile, checkMapped, openItemTable, type ItemFileOptions, type ItemVerify, type UncheckedFile } from './item-file.js';
import type { ItemTable } from './item-table.js';
import { canMap, sha256File } from './mapped-file.js';
import { FILES, modelHash, sha256Async, type BundleManifest } from './manifest.js';

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
async function readTensorDir(r: NodeReader, manifestRel: string, binRel: string): Promise<Map<string, Tensor>> {
  const tm = parseJsonFile(await r.o.read(manifestRel), manifestRel, r.o.fail);
  const bin = await bundleFile(r.dir, r.m, binRel, r.o, r.unchecked, 'sequential');
  return bundleTensors(tm, bin, manifestRel, binRel, r.o.fail);
}

/** How Bundle.load reads files: in place (mapped where it can) or whole, each checked; mapped files' deferred checks. */
interface NodeReader extends BundleReader {
  dir: string;
  o: ItemFileOptions;
  unchecked: UncheckedFile[];
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
    const fail = (msg: string) => new BundleError(dir, msg);
    const j = parseJsonFile(await readFile(path, 'utf8'), 'manifest.json', fail);
    const m = checkManifest(j, fail);
    checkModelHash(m, modelHash(m), fail);
    return m;
  }

  static async load(dir: string, opts: BundleLoadOptions = {}): Promise<Bundle> {
    const parts = opts.parts ?? 'all';
    const m = await Bundle.readManifest(dir);
    const read = (rel: string): Promise<Buffer> => readVerified(dir, m, rel);
    const fail = (msg: string) => new BundleError(dir, msg);
    const o: ItemFileOptions = { map: opts.map, verify: opts.verify, read, fail };
    const unchecked: UncheckedFile[] = [];
    const r: NodeReader = { dir, m, o, unchecked, read, fail, inPlace: (rel) => bundleFile(dir, m, rel, o, unchecked) };
    let model: RecModel | null = null;
    let encoders: FeatureEncoders | null = null;
    let userEncodings: UserEncodings | null = null;
    let encoderBytes: ByteSource | null = null;
    if (parts !== 'item') {
      ({ encoders, bytes: encoderBytes } = await Bundle.readEncoders(dir, m, read, opts.encoders ?? 'auto'));
      model = bundleModel(m, fail, opts.models);
      // shared, not copied: a served model's weights stay in the file's pages (mapped: one copy per host)
      assignWeights(model, m, await readTensorDir(r, FILES.weightsManifest, FILES.weightsBin), `bundle ${dir} weights`, fail);
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
    const fail = (msg: string) => new BundleError(dir, msg);
    const j = parseJsonFile(await read(FILES.encoders), FILES.encoders, fail);
    const meta = encodersMeta(m, j, fail);
    let bytes: ByteSource | null = null;
    if (meta) {
      const path = join(dir, FILES.encodersBin);
      const inMemory = mode === 'memory' || (mode === 'auto' && existsSync(path) && statSync(path).size <= ENCODERS_IN_MEMORY);
      if (inMemory) bytes = new MemoryBytes(await read(FILES.encodersBin));
      else {
        if (!m.files[FILES.encodersBin]) throw fail(`manifest.json lists no hash for ${FILES.encodersBin}`);
        try {
          bytes = new FileBytes(path);
        } catch (e) {
          throw fail(`cannot read ${FILES.encodersBin}: ${(e as Error).message}`);
        }
      }
    }
    return { encoders: bundleEncoders(m, j, meta, bytes, fail), bytes };
  }

  /** items/attributes.json checked against the manifest and parsed, or null when the bundle has none. */
  async itemAttributes(): Promise<StoredAttributes | null> {
    if (!this.manifest.files[FILES.itemAttributes]) return null;
    const text = (await readVerified(this.dir, this.manifest, FILES.itemAttributes)).toString('utf8');
    try {
      return parseAttributes(text, FILES.itemAttributes);
    } catch (e) {
      throw new BundleError(this.dir, (e as Error).message);
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

  /** Releases the model's tensors; call only when no request uses the bundle any more. */
  dispose(): void {
    if (this.model) for (const t of this.model.stateTensors().values()) t.release();
    this.encoderBytes?.close();
  }
}
