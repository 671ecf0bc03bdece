// Scopes bound tensor lifetimes: every tensor created inside scope(fn) is released when fn returns, except the
// tensors fn returns and those passed to keep(). Parameters are created outside any scope or kept.

/** What a scope holds: a tensor, as far as its lifetime goes. */
export interface Scoped {
  /** For a view, the tensor that owns its buffer. */
  readonly base: Scoped | null;
  release(): void;
}

const stack: Set<Scoped>[] = [];

export function registerInScope(t: Scoped): void {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
}

/** Takes `t` out of every open scope so it survives them; the caller now owns it. */
export function keep<T extends Scoped>(t: T): T {
  for (const s of stack) {
    s.delete(t);
    if (t.base) s.delete(t.base);
  }
  return t;
}

function collect(value: unknown, out: Set<Scoped>): void {
  if (value === null || typeof value !== 'object') return;
  if ((value as { shape?: unknown }).shape !== undefined && typeof (value as Scoped).release === 'function') {
    const t = value as Scoped;
    out.add(t);
    if (t.base) out.add(t.base);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out);
  }
}

/** Runs fn; releases the tensors it created, except those reachable from its result (moved to the outer scope). */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Scoped>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    for (const t of mine) t.release();
    throw err;
  }
  stack.pop();
  const survivors = new Set<Scoped>();
  collect(result, survivors);
  const outer = stack[stack.length - 1];
  for (const t of mine) {
    if (survivors.has(t)) outer?.add(t);
    else t.release();
  }
  return result;
}
