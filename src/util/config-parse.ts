// Strict validation of a config object against a zod schema, with error messages that name each problem's full path
// from the config's kind ("train.epoch: unknown key 'epoch'; did you mean 'epochs'?"). No file access: pages load it
// too (prerank/web builds models from a bundle's config); reading config files is src/util/config.ts.
import { z } from 'zod';
import { didYouMean } from './suggest.js';

export class ConfigError extends Error {}

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

const KNOWN = '; valid keys: ';

/** A parse-time error map: an unknown-key issue carries the object's valid keys (read back by `configIssues`). */
export const configErrorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code !== 'unrecognized_keys') return undefined;
  const shape = (iss.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
  return `unknown key ${iss.keys.map((k) => `'${k}'`).join(', ')}${KNOWN}${shape ? Object.keys(shape).join(', ') : ''}`;
};

const pathText = (root: string, path: Path): string => [root, ...path.map(String)].filter((p) => p !== '').join('.') || '(root)';

/** One line per problem, each starting with its path from `root`. */
export function formatConfigIssues(issues: readonly Issue[], root: string, base: Path = []): string[] {
  const lines: string[] = [];
  for (const iss of issues) {
    const path = [...base, ...iss.path];
    if (iss.code === 'unrecognized_keys') {
      const at = iss.message.indexOf(KNOWN);
      const known = at < 0 ? [] : iss.message.slice(at + KNOWN.length).split(', ').filter(Boolean);
      for (const k of iss.keys) {
        const hint = didYouMean(k, known);
        lines.push(`${pathText(root, [...path, k])}: unknown key '${k}'${hint || (known.length ? ` (valid keys: ${known.join(', ')})` : '')}`);
      }
    } else if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      lines.push(...formatUnion(iss.errors, root, path));
    } else {
      lines.push(`${pathText(root, path)}: ${iss.message}`);
    }
  }
  return lines;
}

/**
 * A value no variant of a union accepts: the variant it most likely meant. Variants whose type does not match at
 * all are set aside; a key unknown to every variant is reported once against the keys of them all.
 */
function formatUnion(branches: Issue[][], root: string, path: Path): string[] {
  const typeOnly = (b: Issue[]) => b.every((i) => i.code === 'invalid_type' && i.path.length === 0);
  // every variant a type or a fixed value the input is not (a count or 'auto'): name them all
  const valueOnly = (b: Issue[]) => b.every((i) => (i.code === 'invalid_type' || i.code === 'invalid_value') && i.path.length === 0);
  if (branches.every(valueOnly) && branches.some((b) => b.some((i) => i.code === 'invalid_value'))) {
    const expected = [...new Set(branches.flat().flatMap((i) => (i.code === 'invalid_type' ? [i.expected] : i.code === 'invalid_value' ? i.values.map((v) => JSON.stringify(v).replaceAll('"', "'")) : [])))];
    return [`${pathText(root, path)}: expected ${expected.join(' or ')}`];
  }
  const near = branches.filter((b) => !typeOnly(b));
  if (near.length === 0) {
    const expected = [...new Set(branches.flat().map((i) => (i.code === 'invalid_type' ? i.expected : '')).filter(Boolean))];
    return [`${pathText(root, path)}: expected ${expected.join(' or ') || 'another value'}`];
  }
  const unknownAtRoot = (b: Issue[]) => b.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0) as z.core.$ZodIssueUnrecognizedKeys | undefined;
  const rootUnknown = near.map(unknownAtRoot);
  if (near.length > 1 && rootUnknown.every((u) => u !== undefined)) {
    const keys = rootUnknown[0]!.keys.filter((k) => rootUnknown.every((u) => u!.keys.includes(k)));
    const known = [...new Set(rootUnknown.flatMap((u) => u!.message.slice(u!.message.indexOf(KNOWN) + KNOWN.length).split(', ')))];
    if (keys.length) return formatConfigIssues([{ ...rootUnknown[0]!, keys, message: `unknown key${KNOWN}${known.join(', ')}` }], root, path);
  }
  const best = near.reduce((a, b) => (b.length < a.length ? b : a));
  return formatConfigIssues(best, root, path);
}

/** Validates `input` against `schema`; the parsed value, or one line per problem (paths from `root`). */
export function configIssues<S extends z.ZodType>(schema: S, input: unknown, root: string): { ok: true; data: z.output<S> } | { ok: false; lines: string[] } {
  const r = schema.safeParse(input, { error: configErrorMap });
  return r.success ? { ok: true, data: r.data } : { ok: false, lines: formatConfigIssues(r.error.issues, root) };
}

/** Validates a config object; throws `Err` ("invalid <what>:" and one indented line per problem) when it does not fit. */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, root: string, what = `${root} config`,
  Err: new (message: string) => Error = ConfigError): z.output<S> {
  const r = configIssues(schema, input, root);
  if (!r.ok) throw new Err(`invalid ${what}:\n${r.lines.map((l) => `  ${l}`).join('\n')}`);
  return r.data;
}

/**
 * Inside a zod `superRefine`: validates a nested value (e.g. a model's own config inside a train config) against
 * another schema and reports its problems under `path`, so they carry the full path from the outer config's kind.
 */
export function refineWith(ctx: z.core.$RefinementCtx, schema: z.ZodType, value: unknown, path: Path): void {
  const r = schema.safeParse(value, { error: configErrorMap });
  if (r.success) return;
  for (const iss of r.error.issues) ctx.addIssue({ ...iss, path: [...path, ...iss.path] } as z.core.$ZodRawIssue);
}

/** A superRefine issue on `path`: an unknown name (a registered model, strategy...) with the closest known one. */
export function unknownName(ctx: z.core.$RefinementCtx, what: string, name: string, known: readonly string[], path: Path): void {
  ctx.addIssue({ code: 'custom', path: [...path], input: name,
    message: `unknown ${what} '${name}'${didYouMean(name, known)} (registered: ${known.join(', ')})` });
}
