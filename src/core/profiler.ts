// Per-op time profile of training steps (off unless started; PRERANK_PROFILE=1 has the bench print it).
// Backward time is exact: each tape node's backward closure plus its gradient accumulation. Forward time is the
// time from the previous recorded op (or `profileMark()`) to this op's record(), so JS glue between two ops (id
// arrays, masks, Tensor.from) is charged to the op after it. Ops that recorded nothing (no input needs grad) are
// charged to the next recorded op as well; call profileMark() before a step so the batch loop is not counted.
export interface ProfileRow {
  op: string;
  calls: number;
  forwardMs: number;
  backwardMs: number;
}

let rows: Map<string, ProfileRow> | null = null;
let last = 0;
let withShapes = false;

export function profiling(): boolean {
  return rows !== null;
}

/** `shapes`: one row per op and output shape (e.g. to tell the linear layers apart). */
export function startProfile(opts: { shapes?: boolean } = {}): void {
  rows = new Map();
  withShapes = opts.shapes ?? false;
  last = performance.now();
}

/** Stops profiling and returns the rows, most expensive (forward + backward) first. */
export function stopProfile(): ProfileRow[] {
  const out = [...(rows ?? new Map<string, ProfileRow>()).values()];
  rows = null;
  return out.sort((a, b) => b.forwardMs + b.backwardMs - (a.forwardMs + a.backwardMs));
}

/** Restarts the forward clock (time since the last op is not charged to the next one). */
export function profileMark(): void {
  last = performance.now();
}

function row(op: string, shape?: readonly number[]): ProfileRow {
  if (withShapes && shape) op = `${op} [${shape.join(', ')}]`;
  let r = rows!.get(op);
  if (!r) rows!.set(op, (r = { op, calls: 0, forwardMs: 0, backwardMs: 0 }));
  return r;
}

/** Called by record(): charges the time since the last op to `op`'s forward. */
export function profileForward(op: string, shape: readonly number[]): void {
  const now = performance.now();
  const r = row(op, shape);
  r.calls++;
  r.forwardMs += now - last;
  last = now;
}

/** Charges `ms` to `op`'s backward (and restarts the forward clock, since the backward pass ran meanwhile). */
export function profileBackward(op: string, shape: readonly number[], ms: number): void {
  row(op, shape).backwardMs += ms;
  last = performance.now();
}

/** Adds a row for work outside the tape (the optimizer step, evaluation). */
export function profileAdd(op: string, forwardMs: number): void {
  if (!rows) return;
  const r = row(op);
  r.calls++;
  r.forwardMs += forwardMs;
  last = performance.now();
}

/** The rows as an aligned text table with shares of the total. */
export function formatProfile(list: readonly ProfileRow[], steps: number): string {
  const total = list.reduce((s, r) => s + r.forwardMs + r.backwardMs, 0);
  const lines = [`${'op'.padEnd(40)} ${'calls/step'.padStart(10)} ${'fwd ms/step'.padStart(12)} ${'bwd ms/step'.padStart(12)} ${'share'.padStart(6)}`];
  for (const r of list) {
    const t = r.forwardMs + r.backwardMs;
    lines.push(`${r.op.padEnd(40)} ${(r.calls / steps).toFixed(1).padStart(10)} ${(r.forwardMs / steps).toFixed(2).padStart(12)} ${(r.backwardMs / steps).toFixed(2).padStart(12)} ${((100 * t) / total).toFixed(1).padStart(5)}%`);
  }
  lines.push(`${'total'.padEnd(40)} ${''.padStart(10)} ${(list.reduce((s, r) => s + r.forwardMs, 0) / steps).toFixed(2).padStart(12)} ${(list.reduce((s, r) => s + r.backwardMs, 0) / steps).toFixed(2).padStart(12)}`);
  return lines.join('\n');
}
