// Progress reporting: a redrawn status line on a TTY (batches/s, loss, ETA), nothing per batch otherwise.
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  private t0 = 0;
  private last = 0;

  start(): void {
    this.t0 = performance.now();
    this.last = 0;
  }

  update(label: string, done: number, total: number, loss: number): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const secs = (now - this.t0) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (total - done) / rate : 0;
    const width = 24;
    const filled = Math.round((width * done) / Math.max(total, 1));
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(1)} batch/s loss ${loss.toFixed(4)} ETA ${eta.toFixed(0)}s   `);
  }

  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
