// An epoch's progress: a redrawn status line on a TTY (batches/s, loss, ETA), a plain line every `recordEveryMs`
// when stderr is a file or pipe, and at the same pace a record for the run log, so an epoch of an hour (a large log,
// a quiet experiment) says how far it is.

/** What the run log gets while an epoch runs. */
export interface ProgressRecord {
  epoch: number;
  /** Steps done in this epoch, and how many it has. */
  step: number;
  of: number;
  samplesPerSec: number;
  /** Mean training loss over the epoch so far. */
  loss: number;
  etaSeconds: number;
}

export interface ProgressOptions {
  /** Show progress on stderr: a redrawn line on a terminal (CI not set), else a line every `recordEveryMs`. */
  line: boolean;
  /** Where the periodic records go. */
  record?: (r: ProgressRecord) => void;
  /** Milliseconds between records and plain lines (default a minute). */
  recordEveryMs?: number;
}

export class Progress {
  private readonly tty: boolean;
  /** A line a period on stderr instead of the redrawn one (stderr is a file or pipe). */
  private readonly plain: boolean;
  private readonly everyMs: number;
  private t0 = 0;
  /** Steps and samples an epoch resumed mid-way had done before this pass (not in this pass's rates). */
  private step0 = 0;
  private samples0 = 0;
  private lastLine = 0;
  private lastPeriodic = 0;
  private recording = false;

  constructor(private readonly o: ProgressOptions) {
    this.tty = o.line && Boolean(process.stderr.isTTY) && !process.env.CI;
    this.plain = o.line && !this.tty;
    this.everyMs = o.recordEveryMs ?? 60_000;
  }

  /** A new epoch (or one resumed at `from`); `record`: send it the periodic records. */
  start(record: boolean, from: { step: number; samples: number } = { step: 0, samples: 0 }): void {
    this.recording = record && this.o.record !== undefined;
    this.step0 = from.step;
    this.samples0 = from.samples;
    this.t0 = performance.now();
    this.lastLine = 0;
    this.lastPeriodic = this.t0;
  }

  update(epoch: number, done: number, total: number, samples: number, loss: number): void {
    const now = performance.now();
    const redraw = this.tty && (now - this.lastLine >= 100 || done === total);
    const periodic = (this.recording || this.plain) && now - this.lastPeriodic >= this.everyMs && done < total;
    if (!redraw && !periodic) return;
    const secs = Math.max((now - this.t0) / 1000, 1e-9);
    const ran = done - this.step0;
    const eta = ran > 0 ? ((total - done) * secs) / ran : 0;
    const status = `${done}/${total} ${(ran / secs).toFixed(1)} batch/s loss ${loss.toFixed(4)} ETA ${eta.toFixed(0)}s`;
    if (redraw) {
      this.lastLine = now;
      const width = 24;
      const filled = Math.round((width * done) / Math.max(total, 1));
      process.stderr.write(`\repoch ${epoch} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${status}   `);
    }
    if (periodic) {
      this.lastPeriodic = now;
      if (this.plain) process.stderr.write(`epoch ${epoch}: ${status}\n`);
      if (this.recording) this.o.record!({ epoch, step: done, of: total, samplesPerSec: (samples - this.samples0) / secs, loss, etaSeconds: eta });
    }
  }

  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
