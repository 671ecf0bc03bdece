// items/attributes.json: what people read about an item (the items file's text columns: MovieLens titles and
// genres), written at export when the data has an items file, read by the model explorer page. Not part of the
// model's identity (not in `hash`); hashed in manifest.files like every bundle file.
// {"columns": ["title", "genres"], "items": {"<item id>": ["Toy Story (1995)", "Adventure|Animation"], ...}}
import type { ItemAttributes } from '../data/index.js';

/** Attributes beyond this many bytes of JSON are not written (the manifest says why). */
export const MAX_ATTRIBUTE_BYTES = 32 << 20;

export interface ItemAttributesInfo {
  columns: string[];
  /** Items with attributes (items absent from the items file have none). */
  count: number;
}

export interface StoredAttributes {
  columns: string[];
  items: Record<string, (string | null)[]>;
}

/** The file's text, or a reason it is not written. */
export function attributesJson(a: ItemAttributes): { json: string; info: ItemAttributesInfo } | { skipped: string } {
  const items: Record<string, (string | null)[]> = Object.create(null);
  for (const [k, v] of a.values) items[k] = v;
  const json = JSON.stringify({ columns: a.columns, items } satisfies StoredAttributes);
  if (json.length > MAX_ATTRIBUTE_BYTES) return { skipped: `item attributes take ${json.length} bytes of JSON, more than ${MAX_ATTRIBUTE_BYTES}: not written` };
  return { json, info: { columns: a.columns, count: a.values.size } };
}

/** Parses and checks the file's text; `where` names it in errors. */
export function parseAttributes(text: string, where: string): StoredAttributes {
  const j = JSON.parse(text) as Partial<StoredAttributes>;
  const fail = (m: string) => new Error(`${where}: ${m}`);
  if (!Array.isArray(j.columns) || !j.columns.every((c) => typeof c === 'string')) throw fail('"columns" must be an array of strings');
  if (typeof j.items !== 'object' || j.items === null || Array.isArray(j.items)) throw fail('"items" must be an object of id -> values');
  const n = j.columns.length;
  const items: Record<string, (string | null)[]> = Object.create(null);
  for (const [id, v] of Object.entries(j.items)) {
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => x === null || typeof x === 'string')) {
      throw fail(`items["${id}"] must be ${n} strings or nulls (one per column)`);
    }
    items[id] = v;
  }
  return { columns: j.columns, items };
}
