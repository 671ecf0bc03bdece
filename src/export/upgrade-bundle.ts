// A copy of a bundle with its item ids in the current id-table layout, without the training run: every other file is
// hard-linked (copied when the destination is on another file system), so a 10M-item bundle's 5 GB item table costs
// no copy. Only items/ids.bin is rewritten (the same ids in the same rows) and the manifest's sha256 of it updated;
// users/ids.bin keeps its layout, since it is part of the model's hash (and read once per request, not per candidate).
import { copyFile, link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { writeDirAtomic } from '../util/atomic-dir.js';
import { Bundle, BundleError } from './bundle.js';
import { upgradeIdTableBytes } from './id-table.js';
import { BUNDLE_FORMAT, FILES, sha256 } from './manifest.js';

export interface UpgradeResult {
  /** The item ids' layout before (1 or 2). */
  fromLayout: number;
  linked: number;
  copied: number;
}

/** Every file under dir, as paths relative to it. */
async function filesUnder(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p, base));
    else if (e.isFile()) out.push(relative(base, p));
  }
  return out;
}

/**
 * Writes `out` (replacing it atomically) as a copy of the bundle `src` whose items/ids.bin is in the current layout.
 * Refuses a bundle of another format than the current one, a damaged id file (its sha256 or its table) and out = src.
 */
export async function upgradeBundle(src: string, out: string): Promise<UpgradeResult> {
  if (resolve(src) === resolve(out)) throw new BundleError(src, 'the upgraded copy needs another directory than the bundle itself (--out)');
  const m = await Bundle.readManifest(src);
  if (m.format !== BUNDLE_FORMAT) {
    throw new BundleError(src, `format '${m.format}' keeps its ids as JSON; re-export the model with this prerank to get id tables`);
  }
  const rel = FILES.itemIds;
  const old = await readFile(join(src, rel)).catch((e: Error) => {
    throw new BundleError(src, `cannot read ${rel}: ${e.message}`);
  });
  if (sha256(old) !== m.files[rel]) throw new BundleError(src, `${rel} does not match its sha256 in manifest.json (damaged or edited)`);
  const fromLayout = old.readUInt32LE(8);
  let bytes: Uint8Array;
  try {
    bytes = upgradeIdTableBytes(new Uint8Array(old.buffer, old.byteOffset, old.byteLength), rel);
  } catch (e) {
    throw new BundleError(src, (e as Error).message);
  }
  const manifest = { ...m, files: { ...m.files, [rel]: sha256(bytes) } };
  const result: UpgradeResult = { fromLayout, linked: 0, copied: 0 };
  await writeDirAtomic(out, async (tmp) => {
    for (const f of await filesUnder(src)) {
      await mkdir(join(tmp, f, '..'), { recursive: true });
      if (f === rel) await writeFile(join(tmp, f), bytes);
      else if (f === 'manifest.json') await writeFile(join(tmp, f), `${JSON.stringify(manifest, null, 1)}\n`);
      else await linkOrCopy(join(src, f), join(tmp, f), result);
    }
  });
  return result;
}

async function linkOrCopy(from: string, to: string, r: UpgradeResult): Promise<void> {
  try {
    await link(from, to);
    r.linked++;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw e;
    await copyFile(from, to);
    r.copied++;
  }
}
