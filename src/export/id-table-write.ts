// Writing a bundle's id file (layout: id-table.ts).
import { open } from 'node:fs/promises';
import { ID_TABLE_HEADER, ID_TABLE_MAGIC, ID_TABLE_VERSION } from './id-table.js';
import { buildStringTable } from './string-table.js';

/** Writes ids (distinct, well-formed UTF-16) as an id file; `what` names it in errors (a duplicate or malformed id). */
export async function writeIdTable(path: string, ids: readonly string[], what: string): Promise<void> {
  const { desc, bytes } = buildStringTable(ids, what);
  const header = Buffer.alloc(ID_TABLE_HEADER);
  header.write(ID_TABLE_MAGIC, 0, 'latin1');
  header.writeUInt32LE(ID_TABLE_VERSION, 8);
  header.writeUInt32LE(desc.count, 12);
  header.writeUInt32LE(desc.capacity, 16);
  header.writeUInt32LE(desc.blobBytes, 20);
  const f = await open(path, 'w');
  try {
    await f.write(header);
    await f.write(bytes);
  } finally {
    await f.close();
  }
}
