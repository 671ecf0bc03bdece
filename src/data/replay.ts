// Replaying a log as a stream: rows split by time into a prefix (for an offline model) and the rest, and the rest
// written as JSONL event files that an online trainer's directory source reads (src/online/dir-source.ts).
import { writeFileSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { RawData } from './ingest.js';
import type { DataConfig } from './spec.js';

export interface TimeSplit {
  /** The first timestamp of the rest (0 for an empty log). */
  cut: number;
  /** Rows before the cut, in time order (ties by row). */
  prefix: Int32Array;
  /** Rows at or after the cut, in time order (ties by row). */
  rest: Int32Array;
}

/** Splits the rows at the time of the row `fraction` of the way through them in time order (rows sharing it go to the rest). */
export function timeSplit(raw: RawData, fraction: number, what = 'time split'): TimeSplit {
  const time = raw.time;
  if (!time) throw new Error(`${what}: the data config '${raw.name}' has no keys.time`);
  const order = Int32Array.from({ length: raw.rows }, (_, i) => i).sort((a, b) => time[a] - time[b] || a - b);
  const cut = order.length ? time[order[Math.floor(fraction * order.length)]] : 0;
  return { cut, prefix: order.filter((r) => time[r] < cut), rest: order.filter((r) => time[r] >= cut) };
}

/** Writes raw rows (in the given order) as JSONL event files, `per` events a file, each file renamed into place when complete. */
export async function writeReplay(raw: RawData, cfg: DataConfig, rows: Int32Array, dir: string, per: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const k = cfg.keys;
  const cols = [...raw.rowColumns];
  for (let at = 0, f = 0; at < rows.length; at += per, f++) {
    const lines: string[] = [];
    for (let j = at; j < Math.min(rows.length, at + per); j++) {
      const r = rows[j];
      const e: Record<string, unknown> = { [k.user]: raw.users.keys[raw.user[r]], [k.item]: raw.items.keys[raw.item[r]] };
      if (k.time) e[k.time] = raw.time![r];
      e.label = raw.label[r];
      if (cfg.weight && raw.weight) e[cfg.weight.column] = raw.weight[r];
      for (const [name, c] of cols) e[name] = c.values[r];
      lines.push(JSON.stringify(e));
    }
    const name = `events-${String(f).padStart(5, '0')}.jsonl`;
    writeFileSync(join(dir, `.${name}.tmp`), `${lines.join('\n')}\n`);
    await rename(join(dir, `.${name}.tmp`), join(dir, name));
  }
}
