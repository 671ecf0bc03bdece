// Environment variables where there are any: Node's process environment, none in a page (prerank/web runs core there).

/** The variable's value, or undefined (unset, or no process environment in this runtime). */
export function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}
