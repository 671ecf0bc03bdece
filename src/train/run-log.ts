// The per-run JSONL log: one JSON object per line (epoch records, the final summary). Its folder is made on the
// first write, so a Trainer used only for its epochs (benchmarks, tests) leaves nothing behind.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export class RunLog {
  private made = false;

  constructor(readonly path: string) {}

  write(record: Record<string, unknown>): void {
    if (!this.made) mkdirSync(dirname(this.path), { recursive: true });
    this.made = true;
    appendFileSync(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}
