// What guards the admin routes (POST /admin/reload): where they may be exposed without a token, how the token is
// compared, and which directories a reload may load from.
//
// Exposure rule: admin routes without a token are allowed only on a loopback address — an IPv4 address in
// 127.0.0.0/8, the IPv6 loopback ::1 (also written 0:0:0:0:0:0:0:1 or [::1]), an IPv4-mapped loopback
// (::ffff:127.x.y.z), or the name `localhost`. Every other host (0.0.0.0, ::, a LAN address, any other name; names are
// not resolved) needs a token, or the admin routes off.
import { createHash, timingSafeEqual } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** True for the loopback addresses of the rule above. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.split('.')[0] === '127';
  if (!isIPv6(h)) return false;
  const canon = new URL(`http://[${h}]/`).hostname.slice(1, -1); // compressed, lower case; mapped IPv4 as hex
  return canon === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canon);
}

/** The name of the environment variable `prerank serve` reads the admin token from when --admin-token is absent. */
export const ADMIN_TOKEN_ENV = 'PRERANK_ADMIN_TOKEN';

/**
 * Throws when the admin routes would be reachable from other machines without a token: `host` not loopback, admin
 * routes on, no token. An empty token is refused everywhere.
 */
export function checkAdminExposure(o: { host?: string; admin?: boolean; adminToken?: string }): void {
  if (o.admin === false) return;
  if (o.adminToken !== undefined && o.adminToken.length === 0) throw new Error('the admin token is empty');
  if (o.host === undefined || o.adminToken !== undefined || isLoopback(o.host)) return;
  throw new Error(`refusing to serve the admin routes on ${o.host}, a non-loopback address, without a token: ` +
    `set --admin-token or ${ADMIN_TOKEN_ENV}, or pass --no-admin to turn the admin routes off`);
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Compares a presented token with the expected one in constant time (SHA-256 digests: lengths do not leak). */
export function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** realpath of the longest existing prefix of an absolute path, with the rest appended (it may not exist yet). */
async function realpathLenient(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(p) === p) throw e;
    return join(await realpathLenient(dirname(p)), basename(p));
  }
}

export type RootCheck = { ok: true; path: string } | { ok: false; message: string };

/**
 * Where a reload of `requested` may load from: relative paths are taken from `root`; `..` and symlinks are resolved
 * (realpath) on both sides, and the result must be `root` or lie below it. The resolved path is what gets loaded.
 */
export async function resolveUnderRoot(root: string | undefined, requested: string): Promise<RootCheck> {
  if (root === undefined) return { ok: false, message: 'no bundle root is configured (--bundle-root): reloads are refused' };
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (e) {
    return { ok: false, message: `the bundle root ${root} cannot be resolved (${(e as Error).message}): reloads are refused` };
  }
  let real: string;
  try {
    real = await realpathLenient(resolve(root, requested));
  } catch (e) {
    return { ok: false, message: `${requested} cannot be resolved under the bundle root ${rootReal} (${(e as Error).message})` };
  }
  const rel = relative(rootReal, real);
  if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) return { ok: true, path: real };
  return { ok: false, message: `${requested} resolves to ${real}, outside the bundle root ${rootReal}: reloads load only from under it (--bundle-root)` };
}
