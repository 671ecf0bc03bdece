// Reading a bundle's ids and a strategy's stored user encodings. Format /3 keeps ids as id tables read in place
// (id-table.ts): mapped where the addon can, so opening costs the same at 1k or 10M ids and no per-id object
// reaches the heap; formats /1 and /2 kept JSON arrays, parsed whole (kept readable so old bundles still serve).
import { ArrayKeyIndex } from '../data/vocabulary.js';
import { readIdTable, type Ids } from './id-table.js';
import { alignedView } from './item-table.js';
import { FILES, jsonIds, type BundleManifest } from './manifest-format.js';

/** A training strategy's stored user reps (OneBP): row `ids.indexOf(userKey)` of the [count, U] matrix. */
export interface UserEncodings {
  ids: Ids;
  dim: number;
  data: Float32Array;
}

/**
 * What reading a bundle's ids and user encodings needs: its manifest, a file's bytes read whole (`read`, checked
 * against the manifest) and read in place (`inPlace`: mapped in Node where it can, the fetched bytes in a page),
 * and the bundle's error.
 */
export interface BundleReader {
  m: BundleManifest;
  read: (rel: string) => Promise<Uint8Array>;
  inPlace: (rel: string) => Promise<ArrayBufferView>;
  fail: (message: string) => Error;
}

/** The ids of one side (`items` or `users`), `count` of them. */
export async function readIds(r: BundleReader, side: 'items' | 'users', count: number): Promise<Ids> {
  const { m, fail } = r;
  if (jsonIds(m.format)) {
    const rel = side === 'items' ? FILES.itemIdsJson : FILES.userIdsJson;
    let ids: unknown;
    try {
      ids = JSON.parse(new TextDecoder().decode(await r.read(rel)));
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw fail(`${rel} is not valid JSON: ${e.message}`);
    }
    if (!Array.isArray(ids) || ids.length !== count) throw fail(`${rel} has ${Array.isArray(ids) ? ids.length : 'no'} ids, the manifest says ${count}`);
    const keys = ids.map(String);
    if (side === 'users' && new Set(keys).size !== keys.length) throw fail(`${rel} lists a user twice`);
    return new ArrayKeyIndex(keys);
  }
  const rel = side === 'items' ? FILES.itemIds : FILES.userIds;
  const b = await r.inPlace(rel);
  try {
    return readIdTable(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), count, rel);
  } catch (e) {
    throw fail((e as Error).message);
  }
}

/** The stored user encodings the manifest's strategy entry describes, checked against it. */
export async function readUserEncodings(r: BundleReader): Promise<UserEncodings> {
  const { m, fail } = r;
  const info = m.strategy!.userEncodings!;
  const where = `manifest.json strategy.userEncodings (strategy '${m.strategy!.kind}')`;
  if (info.dtype !== 'float32') throw fail(`${where}: dtype '${String(info.dtype)}' is not float32`);
  if (m.items.cached && info.dim !== m.items.userDim) throw fail(`${where}: dim ${info.dim} differs from the user tower's rep width ${m.items.userDim}`);
  const ids = await readIds(r, 'users', info.count);
  const bytes = await r.inPlace(FILES.userEncodings);
  const want = info.count * info.dim * 4;
  if (bytes.byteLength !== want) throw fail(`${FILES.userEncodings} has ${bytes.byteLength} bytes, expected ${want} (${info.count} users x ${info.dim} float32)`);
  return { ids, dim: info.dim, data: alignedView(bytes, Float32Array, 4) };
}
