// Fetching a bundle's files over HTTP for loadBundle: each file by its path relative to the bundle's address, its
// bytes in one ArrayBuffer (read in place by the bundle readers), checked against the manifest's sha256 with
// WebCrypto when the runtime has it (pages served over HTTPS or from localhost, Node). Every error names the URL.
import type { BundleManifest } from '../export/manifest-format.js';

/** A bad or unreachable bundle: the message names the bundle's address, the file and what was expected. */
export class WebBundleError extends Error {
  constructor(readonly url: string, message: string) {
    super(`bundle ${url}: ${message}`);
    this.name = 'WebBundleError';
  }
}

export type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** sha256 of the bytes as hex, or null when the runtime has no WebCrypto digest (a page served over plain HTTP). */
export async function sha256Hex(bytes: Uint8Array | string): Promise<string | null> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (!subtle) return null;
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = new Uint8Array(await subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Reads the files of the bundle at `base` (a directory address ending in '/'). */
export class BundleFetcher {
  readonly fail: (message: string) => WebBundleError;
  /** Bytes fetched, by file (what a page downloads to load the bundle). */
  readonly sizes: Record<string, number> = {};
  manifest: BundleManifest | null = null;

  constructor(readonly base: URL, private readonly fetchFn: FetchFn, private readonly verify: boolean) {
    this.fail = (message) => new WebBundleError(base.href, message);
  }

  url(rel: string): URL {
    return new URL(rel, this.base);
  }

  /** The response for a file, refused unless HTTP 2xx. */
  async response(rel: string): Promise<Response> {
    const url = this.url(rel);
    let res: Response;
    try {
      res = await this.fetchFn(url);
    } catch (e) {
      throw this.fail(`cannot fetch ${rel} (${url.href}): ${(e as Error).message}`);
    }
    if (!res.ok) {
      const hint = res.status === 404 ? ' (not found: is this the address of a bundle directory written by `prerank export`, and does it have this file?)' : '';
      throw this.fail(`cannot fetch ${rel} (${url.href}): HTTP ${res.status}${hint}`);
    }
    return res;
  }

  /** A file's bytes (8-byte aligned: the start of their own ArrayBuffer), checked against the manifest's sha256. */
  async bytes(rel: string): Promise<Uint8Array> {
    if (this.manifest && !this.manifest.files[rel]) throw this.fail(`manifest.json lists no hash for ${rel}`);
    const res = await this.response(rel);
    const bytes = new Uint8Array(await res.arrayBuffer());
    this.sizes[rel] = bytes.byteLength;
    await this.check(rel, bytes);
    return bytes;
  }

  /** Checks bytes already read (e.g. streamed into module memory) against the manifest's sha256, when verifying. */
  async check(rel: string, bytes: Uint8Array): Promise<void> {
    if (!this.verify || !this.manifest) return;
    const expected = this.manifest.files[rel];
    const got = await sha256Hex(bytes);
    if (got !== null && got !== expected) {
      throw this.fail(`${rel} does not match the manifest (sha256 ${got.slice(0, 16)}…, expected ${String(expected).slice(0, 16)}…): the file was changed or is corrupt`);
    }
  }
}

/** The directory address of a bundle given as its directory or its manifest.json (relative: to the page's address). */
export function bundleBase(url: string | URL): URL {
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const u = new URL(url, page);
  if (u.pathname.endsWith('/manifest.json')) return new URL('.', u);
  return u.pathname.endsWith('/') ? u : new URL(`${u.href}/`);
}
