// A deployment is one loaded bundle with its item store, ANN index and scorer. The service holds the current one;
// reload loads a new one beside it, warms it, and swaps one reference. Each request pins the deployment it
// started on (acquire/release), so in-flight requests finish on the old one, which is closed once they have.
import { Bundle, type BundleLoadOptions } from '../export/bundle.js';
import type { ItemVerify } from '../export/item-file.js';
import type { AnnKind } from './ann.js';
import type { CandidateSource } from '../export/candidate-source.js';
import { openCandidateSource } from './candidates.js';
import type { Scorer, ScoreStats } from './scorer.js';
import { createScorer } from './scorers/index.js';
import { openStore, storeKind } from './stores/index.js';
import type { ItemStore } from './stores/types.js';

export interface DeployOptions {
  /** 'memory' (default), redis://host:port[/db][?prefix=..&lru=..] or redis-cluster://host:port,host:port,...[?...]. */
  store?: string;
  lruRows?: number;
  /**
   * Retrieval's candidate index: 'usearch' (default; brute force when it does not load), 'brute-force' or 'off' (no
   * index, and with a Redis store no item table in process: /v1/retrieve answers 501).
   */
  ann?: AnnKind | 'off';
  models?: BundleLoadOptions['models'];
  observe?: (s: ScoreStats) => void;
  log?: (msg: string) => void;
  /**
   * How the first bundle of a Service (nothing served yet) checks its mapped item table against the manifest:
   * 'load' (default) before it serves; 'background' serves as soon as the table is mapped and size-checked (opening
   * then costs the same at any table size) and hashes it meanwhile. A reload always checks before it swaps (the old
   * bundle serves meanwhile).
   */
  firstVerify?: 'load' | 'background';
  /** The background check found the served table corrupt: the Service has stopped serving it (default: log it). */
  onCorrupt?: (e: Error) => void;
}

export class Deployment {
  private inflight = 0;
  private retired = false;
  private closing: Promise<void> | null = null;

  private constructor(readonly bundle: Bundle, readonly store: ItemStore | null, readonly ann: CandidateSource | null, readonly scorer: Scorer,
    readonly notes: string[]) {}

  get modelVersion(): string {
    return this.bundle.modelVersion;
  }

  /** verify 'defer': the mapped files are only size-checked; bundle.verifyDeferred() checks their sha256. */
  static async open(dir: string, o: DeployOptions & { verify?: ItemVerify } = {}): Promise<Deployment> {
    const url = o.store ?? 'memory';
    const kind = storeKind(url);
    const manifest = await Bundle.readManifest(dir);
    // the Redis store reads the item table only to publish it; retrieval (an index, or exact mode) needs it in process
    const wantAnn = (o.ann ?? 'usearch') !== 'off' && manifest.items.cached;
    const parts = kind === 'memory' || wantAnn || !manifest.model.twoTower ? 'all' : 'user';
    const bundle = await Bundle.load(dir, { parts, models: o.models, verify: o.verify });
    const notes: string[] = [];
    let store: ItemStore | null = null;
    let ann: CandidateSource | null = null;
    try {
      if (bundle.twoTower) {
        const table = async () => bundle.items ?? (await Bundle.load(dir, { parts: 'item' })).items!;
        store = await openStore({ url, modelHash: manifest.hash, table, lruRows: o.lruRows, log: o.log });
        if (store.size !== manifest.items.count) notes.push(`item store holds ${store.size} items, the bundle ${manifest.items.count}`);
        if (wantAnn && bundle.items) {
          const r = await openCandidateSource(bundle, o.ann === 'brute-force' ? 'brute-force' : 'usearch');
          ann = r.source;
          if (r.note) notes.push(r.note);
        }
      }
      const scorer = createScorer(bundle, { store, ann, observe: o.observe });
      await scorer.warm();
      for (const n of notes) o.log?.(n);
      return new Deployment(bundle, store, ann, scorer, notes);
    } catch (e) {
      await store?.close();
      ann?.close();
      bundle.dispose();
      throw e;
    }
  }

  acquire(): this {
    this.inflight++;
    return this;
  }

  release(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) void this.close();
  }

  /** No new requests; closes when the last in-flight one releases. */
  retire(): void {
    this.retired = true;
    if (this.inflight === 0) void this.close();
  }

  get inFlight(): number {
    return this.inflight;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.store?.close();
      this.ann?.close();
      this.bundle.dispose();
    })();
    return this.closing;
  }
}

export class Service {
  private current: Deployment | null = null;
  private reloading: Promise<Deployment> | null = null;
  private readonly listeners: ((d: Deployment) => void)[] = [];

  constructor(private readonly opts: DeployOptions = {}) {}

  get ready(): boolean {
    return this.current !== null;
  }

  get deployment(): Deployment | null {
    return this.current;
  }

  get isReloading(): boolean {
    return this.reloading !== null;
  }

  onSwap(fn: (d: Deployment) => void): void {
    this.listeners.push(fn);
  }

  /** Loads and warms the bundle beside the current deployment, then swaps atomically. One reload at a time. */
  async load(dir: string): Promise<Deployment> {
    if (this.reloading) throw new Error('a reload is already in progress');
    const background = this.current === null && this.opts.firstVerify === 'background';
    this.reloading = Deployment.open(dir, { ...this.opts, verify: background ? 'defer' : 'load' });
    try {
      const next = await this.reloading;
      const old = this.current;
      this.current = next;
      for (const fn of this.listeners) fn(next);
      old?.retire();
      if (next.bundle.verifyPending) void next.bundle.verifyDeferred().catch((e: Error) => this.corrupt(next, e));
      return next;
    } finally {
      this.reloading = null;
    }
  }

  /** A served bundle failed its background check: stop serving it (requests get 503 until a good one loads). */
  private corrupt(d: Deployment, e: Error): void {
    if (this.current === d) {
      this.current = null;
      d.retire();
    }
    (this.opts.onCorrupt ?? ((err: Error) => this.opts.log?.(`${err.message}: not served`)))(e);
  }

  /** Runs fn on the current deployment, pinned until fn settles. */
  async with<T>(fn: (d: Deployment) => Promise<T>): Promise<T> {
    const d = this.current;
    if (!d) throw new NotReadyError();
    d.acquire();
    try {
      return await fn(d);
    } finally {
      d.release();
    }
  }

  async close(): Promise<void> {
    await this.reloading?.catch(() => undefined);
    const d = this.current;
    this.current = null;
    d?.retire();
    await d?.close();
  }
}

export class NotReadyError extends Error {
  constructor() {
    super('no bundle loaded yet');
  }
}
