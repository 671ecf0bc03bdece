// Plain objects read by a key that comes from outside the code (a raw row's column, a JSON map's id, a registry name in
// a config file or a bundle manifest): own properties only, so a key named like an Object.prototype member
// ('constructor', 'toString', '__proto__') is an ordinary missing key instead of an inherited function. Lookups the
// code builds itself from data use a Map instead.

/** o[key] when o has key as its own property; undefined otherwise. */
export function own<T>(o: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}
