// Scopes bound tensor lifetimes: every tensor created inside scope(fn) is released when fn returns, except the
// tensors fn returns and those passed to keep(). Parameters are created outside any scope or kept.
import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

export function registerInScope(t: Tensor): void {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
}

/** Takes `t` out of every open scope so it survives them; the caller now owns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) {
    s.delete(t);
    if (t.base) s.delete(t.base);
  }
  return t;
}

function collect(value: unknown, out: Set<Tensor>): void {
  if (value === null || typeof value !== 'object') return;
  if ((value as Tensor).shape !== undefined && typeof (value as Tensor).release === 'function') {
    const t = value as Tensor;
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
  const mine = new Set<Tensor>();
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
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  const outer = stack[stack.length - 1];
  for (const t of mine) {
    if (survivors.has(t)) outer?.add(t);
    else t.release();
  }
  return result;
}
