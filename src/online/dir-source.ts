// A directory of event files that writers append to: *.csv, *.tsv (a header line each) and *.jsonl, read in file
// name order. The offset is (file, line, byte after the line's newline). A last line without its newline is not
// consumed until the newline arrives; once a later file exists the earlier one is final, and an unterminated last
// line in it is reported as a bad event (it can never complete).
import { existsSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirOffset, EventSource, SourceEvent, SourceOffset } from './source.js';

const EXTENSIONS = ['.csv', '.tsv', '.jsonl'];
const CHUNK = 1 << 20;

/** Splits one CSV line (RFC 4180 quoting within the line; no embedded newlines). */
export function splitCsvLine(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  let quoted = false;
  while (i < line.length) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cur += c;
      i++;
    } else if (c === '"' && cur === '') {
      quoted = true;
      i++;
    } else if (line.startsWith(delimiter, i)) {
      out.push(cur);
      cur = '';
      i += delimiter.length;
    } else {
      cur += c;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  out.push(cur);
  return out;
}

interface FileState {
  name: string;
  /** Byte just after the last consumed line, and that line's number (0 before the first). */
  byte: number;
  line: number;
  header?: string[];
}

export class DirectorySource implements EventSource {
  readonly description: string;
  private cur: FileState | null = null;

  constructor(readonly dir: string, private readonly opts: { delimiter?: string } = {}) {
    this.description = `directory ${dir}`;
  }

  async open(after: SourceOffset | null): Promise<void> {
    if (!existsSync(this.dir)) throw new Error(`event directory ${this.dir} does not exist`);
    if (after === null) return;
    if (after.kind !== 'dir') throw new Error(`the checkpoint's offset is a ${after.kind} offset, but the source is a directory`);
    if (!existsSync(join(this.dir, after.file))) throw new Error(`the checkpoint's offset is in ${after.file}, which is no longer in ${this.dir}`);
    this.cur = { name: after.file, byte: after.byte, line: after.line };
  }

  private async files(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => !n.startsWith('.') && EXTENSIONS.some((e) => n.endsWith(e))).sort();
  }

  private format(name: string): 'csv' | 'tsv' | 'jsonl' {
    return name.endsWith('.jsonl') ? 'jsonl' : name.endsWith('.tsv') ? 'tsv' : 'csv';
  }

  async read(max: number): Promise<SourceEvent[]> {
    const out: SourceEvent[] = [];
    while (out.length < max) {
      const files = await this.files();
      if (!this.cur) {
        if (!files.length) break;
        this.cur = { name: files[0], byte: 0, line: 0 };
      }
      const later = files.find((f) => f > this.cur!.name);
      const { ended } = await this.readFile(this.cur, max - out.length, out, later !== undefined);
      if (out.length >= max || !ended || !later) break;
      this.cur = { name: later, byte: 0, line: 0 };
    }
    return out;
  }

  /** Reads complete lines of one file from its position; `ended` when the file has nothing more to give. */
  private async readFile(st: FileState, max: number, out: SourceEvent[], final: boolean): Promise<{ ended: boolean }> {
    const path = join(this.dir, st.name);
    const fmt = this.format(st.name);
    const fh = await open(path, 'r');
    try {
      if (fmt !== 'jsonl' && !st.header) {
        const ok = await this.readHeader(fh, st);
        if (!ok) return { ended: final };
      }
      const size = (await fh.stat()).size;
      if (size < st.byte) throw new Error(`${path} has ${size} bytes, fewer than the ${st.byte} already consumed: the file was truncated or replaced (files in an event directory may only grow)`);
      const want = max;
      let got = 0;
      while (st.byte < size && got < want) {
        const len = Math.min(CHUNK, size - st.byte);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, st.byte);
        let start = 0;
        let nl: number;
        while (got < want && (nl = buf.indexOf(10, start)) !== -1 && nl < bytesRead) {
          const text = buf.toString('utf8', start, nl).replace(/\r$/, '');
          st.line++;
          st.byte += nl - start + 1;
          start = nl + 1;
          if (st.line === 1 && fmt !== 'jsonl') continue;
          if (text.trim() === '') continue;
          out.push(this.parse(st, text, fmt));
          got++;
        }
        if (got >= want) return { ended: false };
        if (start === 0) {
          // No newline in the rest of the file (or in a whole chunk): a partial last line.
          if (bytesRead < CHUNK && final) {
            st.line++;
            const where = `${path}:${st.line}`;
            st.byte = size;
            out.push({ offset: this.offset(st), where, error: 'the line has no newline at the end and a later file exists: it is incomplete', typed: false });
            return { ended: true };
          }
          if (bytesRead === CHUNK) throw new Error(`${path}:${st.line + 1}: a line longer than ${CHUNK} bytes`);
          return { ended: false };
        }
      }
      return { ended: st.byte >= size };
    } finally {
      await fh.close();
    }
  }

  private async readHeader(fh: Awaited<ReturnType<typeof open>>, st: FileState): Promise<boolean> {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const nl = buf.indexOf(10);
    if (nl === -1 || nl >= bytesRead) return false;
    const delim = this.opts.delimiter ?? (this.format(st.name) === 'tsv' ? '\t' : ',');
    st.header = splitCsvLine(buf.toString('utf8', 0, nl).replace(/\r$/, ''), delim).map((h) => h.trim());
    if (st.byte === 0) {
      st.byte = nl + 1;
      st.line = 1;
    }
    return true;
  }

  private offset(st: FileState): DirOffset {
    return { kind: 'dir', file: st.name, line: st.line, byte: st.byte };
  }

  private parse(st: FileState, text: string, fmt: 'csv' | 'tsv' | 'jsonl'): SourceEvent {
    const where = `${join(this.dir, st.name)}:${st.line}`;
    const offset = this.offset(st);
    if (fmt === 'jsonl') {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (e) {
        return { offset, where, error: `not valid JSON: ${(e as Error).message}`, typed: true };
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return { offset, where, error: 'a JSON line must hold one object', typed: true };
      return { offset, where, fields: v as Record<string, unknown>, typed: true };
    }
    const delim = this.opts.delimiter ?? (fmt === 'tsv' ? '\t' : ',');
    let vals: string[];
    try {
      vals = splitCsvLine(text, delim);
    } catch (e) {
      return { offset, where, error: (e as Error).message, typed: false };
    }
    const h = st.header!;
    if (vals.length !== h.length) return { offset, where, error: `${vals.length} fields, the header has ${h.length} (${h.join(',')})`, typed: false };
    return { offset, where, fields: Object.fromEntries(h.map((k, i) => [k, vals[i]])), typed: false };
  }

  async commit(): Promise<void> {
    // The checkpoint's offset is the only position a directory source has: nothing to acknowledge.
  }

  async close(): Promise<void> {}
}
