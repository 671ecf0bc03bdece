// The error every data problem becomes: which file, which line and column, the value, and what was expected.

export interface BadRow {
  file: string;
  line: number;
  /** 1-based field index. */
  column: number;
  columnName: string;
  value: string;
  error: string;
}

export class DataError extends Error {
  constructor(message: string, readonly badRows: BadRow[] = []) {
    super(message);
    this.name = 'DataError';
  }
}

export function formatBadRow(b: BadRow): string {
  const col = b.columnName ? ` column "${b.columnName}"` : '';
  return `${b.file}:${b.line}:${b.column}: ${b.error};${col} value ${JSON.stringify(clip(b.value))}`;
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
