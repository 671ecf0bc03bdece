// Writing a bundle's id file (layouts: id-table.ts).
import { open } from 'node:fs/promises';
import { ID_TABLE_VERSION, idTableBytes, type IdTableLayout } from './id-table.js';

/** Writes ids (distinct, well-formed UTF-16) as an id file; `what` names it in errors (a duplicate or malformed id). */
export async function writeIdTable(path: string, ids: readonly string[], what: string, layout: IdTableLayout = ID_TABLE_VERSION): Promise<void> {
  const bytes = idTableBytes(ids, what, layout);
  const f = await open(path, 'w');
  try {
    // in slices: one write of a Uint8Array is capped at 2 GiB
    for (let at = 0; at < bytes.byteLength; at += 1 << 30) await f.write(bytes.subarray(at, Math.min(bytes.byteLength, at + (1 << 30))));
  } finally {
    await f.close();
  }
}
