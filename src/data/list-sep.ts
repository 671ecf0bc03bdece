// The separator of a list value's items in a text column: DuckDB ingest writes lists so (duck-source.ts), and
// encoding splits them (encode-table.ts) in Node and in a page alike.
export const LIST_SEP = '\x1f';
