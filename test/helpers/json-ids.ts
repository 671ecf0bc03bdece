// Rewrites a bundle's id tables as the JSON arrays bundle formats /1 and /2 kept (items/ids.json, users/ids.json),
// re-hashing the manifest: old-format bundles for the tests that check they still load.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstIds, readIdTable } from '../../src/export/id-table.js';
import { FILES, modelHash, modelVersionOf, sha256, type BundleManifest } from '../../src/export/manifest.js';

export function asJsonIds(dir: string, format: 'prerank-bundle/1' | 'prerank-bundle/2' = 'prerank-bundle/2'): void {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  const sides = [[FILES.itemIds, FILES.itemIdsJson, m.items.count], [FILES.userIds, FILES.userIdsJson, m.strategy?.userEncodings?.count ?? 0]] as const;
  for (const [bin, json, count] of sides) {
    if (!m.files[bin]) continue;
    const ids = readIdTable(new Uint8Array(readFileSync(join(dir, bin))), count, bin);
    const text = JSON.stringify(firstIds(ids, ids.size));
    writeFileSync(join(dir, json), text);
    rmSync(join(dir, bin));
    delete m.files[bin];
    m.files[json] = sha256(text);
  }
  m.format = format;
  m.hash = modelHash(m);
  m.modelVersion = modelVersionOf(m.model.kind, m.hash);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}
