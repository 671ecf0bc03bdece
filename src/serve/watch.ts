// `prerank serve --watch <root>`: follows the CURRENT pointer of a versioned bundle root (src/export/versions.ts) and
// swaps each newly published version in through the same path as POST /admin/reload (Service.load: load beside the
// old deployment, warm, swap one reference; in-flight requests finish on the old one). fs.watch on the root
// directory gives prompt notice (CURRENT is replaced by rename, so the directory is watched, not the file); a poll
// (default every second) covers file systems where fs.watch misses events and a root that does not exist yet.
// A version that fails to load (corrupt, truncated, missing files) is never served: the old deployment stays, one
// log line names the version and the reason, the failure is counted by reason, and that version is not retried
// (a later publish is picked up as usual). Failures that are not the bundle's fault (e.g. the item store is
// unreachable) are retried after `retryMs`.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { BundleError } from '../export/bundle.js';
import { CURRENT_FILE, parseVersionName, readCurrentVersion } from '../export/versions.js';
import type { Deployment, Service } from './service.js';

/** Why a version was not served: a file does not match its hash or has the wrong size, a file or dir is missing,
 *  the bundle is otherwise unusable, CURRENT itself is malformed or dangling, or anything else (retried). */
export type ReloadFailure = 'corrupt' | 'missing' | 'invalid' | 'pointer' | 'error';

export function classifyReloadError(e: unknown): ReloadFailure {
  if (!(e instanceof BundleError)) return 'error';
  const m = e.message;
  if (/does not match the manifest|has \d+ bytes, expected|is not valid JSON|was edited|does not match its hash/.test(m)) return 'corrupt';
  if (/no manifest\.json|cannot read|lists no hash/.test(m)) return 'missing';
  return 'invalid';
}

export interface WatchOptions {
  /** Poll interval in ms (default 1000). */
  pollMs?: number;
  /** Retry interval for failures of kind 'error' (default 10000 ms). */
  retryMs?: number;
  log?: (msg: string) => void;
  onLoaded?: (d: Deployment, version: string, seconds: number) => void;
  onFailure?: (reason: ReloadFailure, version: string | null, message: string) => void;
}

export class VersionWatcher {
  readonly root: string;
  /** The CURRENT content last acted on (loaded or failed), so each published version is tried once. */
  private handled: string | null = null;
  private retryAt = 0;
  private lastPointerError: string | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private fsw: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(root: string, private readonly service: Service, private readonly o: WatchOptions = {}) {
    this.root = resolve(root);
    // A deployment already serving a version of this root counts as handled.
    const d = service.deployment;
    if (d && resolve(dirname(d.bundle.dir)) === this.root && parseVersionName(basename(d.bundle.dir)) !== null) this.handled = basename(d.bundle.dir);
  }

  /** Checks once now (awaited: the current version is served, or its failure handled, when this resolves), then watches. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.o.pollMs ?? 1000);
    this.timer.unref();
    this.attach();
  }

  private attach(): void {
    if (this.fsw || this.closed || !existsSync(this.root)) return;
    try {
      this.fsw = watch(this.root, (_ev, file) => {
        if (file === null || file === CURRENT_FILE) void this.check();
      });
      this.fsw.on('error', () => {
        this.fsw?.close();
        this.fsw = null; // the poll keeps going and re-attaches
      });
      this.fsw.unref();
    } catch {
      this.fsw = null;
    }
  }

  /** Looks at CURRENT and loads it if it is new. Concurrent calls coalesce into one more pass. */
  check(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    this.attach();
    let cur;
    try {
      cur = readCurrentVersion(this.root);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastPointerError) {
        this.lastPointerError = msg;
        this.fail('pointer', null, msg);
      }
      return;
    }
    this.lastPointerError = null;
    if (!cur || cur.name === this.handled) return;
    if (this.service.isReloading) return; // an /admin/reload is running: the next poll tries again
    if (this.handled === `retry:${cur.name}` && Date.now() < this.retryAt) return;
    const t0 = performance.now();
    try {
      const d = await this.service.load(cur.dir);
      if (this.closed) return;
      this.handled = cur.name;
      const seconds = (performance.now() - t0) / 1000;
      this.o.log?.(`serving ${cur.name} (${d.modelVersion}), loaded in ${seconds.toFixed(2)} s`);
      this.o.onLoaded?.(d, cur.name, seconds);
    } catch (e) {
      if (this.closed) return;
      const reason = classifyReloadError(e);
      if (reason === 'error') {
        this.handled = `retry:${cur.name}`;
        this.retryAt = Date.now() + (this.o.retryMs ?? 10_000);
      } else {
        this.handled = cur.name;
      }
      this.fail(reason, cur.name, (e as Error).message);
    }
  }

  private fail(reason: ReloadFailure, version: string | null, message: string): void {
    const serving = this.service.deployment;
    const keep = serving ? `still serving ${basename(serving.bundle.dir)} (${serving.modelVersion})` : 'nothing served yet';
    this.o.log?.(`version ${version ?? '?'} not served (${reason}): ${message}; ${keep}`);
    this.o.onFailure?.(reason, version, message);
  }

  /** Stops watching; waits for a load in progress. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.fsw?.close();
    await this.running?.catch(() => undefined);
  }
}
