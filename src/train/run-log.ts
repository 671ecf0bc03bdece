// The per-run JSONL log: one JSON object per line (epoch records, the final summary).
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export class RunLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}
