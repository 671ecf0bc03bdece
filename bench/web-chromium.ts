// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) with one page holding prerank/web's
// WasmScorer (SIMD128 and relaxed-SIMD builds) and onnxruntime-web side by side (bench/web-page.ts), served from loopback: dist/src and dist/wasm,
// onnxruntime-web's dist folder at /ort/, and each case's files at /case/<i>/. Every response carries COOP/COEP
// headers so the page is cross-origin isolated: Chromium's performance.now() then ticks in 5 us steps instead of
// 100 us, which the k = 100 cells need.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServingPlanSpec } from '../src/models/common/serving.js';
import { PAGE_HTML } from './web-page.js';
import { chromiumMissing, launchChromium, openPage } from '../test/browser-fixture.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const ORT_DIST = dirname(fileURLToPath(import.meta.resolve('onnxruntime-web')));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** A user tower feed as onnxruntime's Tensor takes it. */
export interface Feed { type: 'int64' | 'float32'; data: BigInt64Array | Float32Array; dims: readonly number[] }

/** One model's work for both sides of the page. */
export interface WebCase {
  /** The serving plan the wasm scorer compiles. */
  spec: ServingPlanSpec;
  /** Item reps [N, dim], the table both sides read candidates from. */
  table: Float32Array;
  dim: number;
  /** The user tower's input vector (the wasm side's user). */
  input: Float32Array;
  /** user_tower.onnx's feeds for the same user (onnxruntime's side). */
  feeds: Record<string, Feed>;
  /** A directory holding the model's user_tower.onnx and scorer.onnx (`prerank export --format onnx`). */
  onnxDir: string;
}

export type OrtLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SideScores { scores: number[]; top: number[] }

/** JSON with each typed array replaced by { $typed: [type, byteOffset, length] } into one binary blob. */
function encode(value: unknown): { json: string; blob: Buffer } {
  const parts: Buffer[] = [];
  let size = 0;
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (!(v instanceof Float32Array || v instanceof Int32Array || v instanceof BigInt64Array)) return v;
    const pad = (8 - (size % 8)) % 8;
    parts.push(Buffer.alloc(pad), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    size += pad;
    const at = size;
    size += v.byteLength;
    return { $typed: [v.constructor.name, at, v.length] };
  });
  return { json, blob: Buffer.concat(parts) };
}

type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

type Files = Map<string, { body: Buffer | string; type: string }>;

/** The page, the built prerank/web modules and .wasm, onnxruntime-web's files, and the cases' files; 404 otherwise. */
function serveFile(files: Files, rawUrl: string, res: ServerResponse): void {
  const url = decodeURIComponent(new URL(rawUrl, 'http://x').pathname);
  const mem = url === '/' ? { body: PAGE_HTML, type: TYPES['.html'] } : files.get(url);
  const file = /^\/(src\/[\w/-]+\.js|wasm\/[\w-]+\.wasm)$/.test(url) ? join(DIST, url)
    : /^\/ort\/[\w.-]+\.(mjs|wasm)$/.test(url) ? join(ORT_DIST, url.slice(5)) : null;
  const body = mem?.body ?? (file && existsSync(file) ? readFileSync(file) : null);
  if (body === null) return void res.writeHead(404, ISOLATED).end();
  const type = mem?.type ?? TYPES[url.slice(url.lastIndexOf('.'))] ?? 'application/octet-stream';
  res.writeHead(200, { ...ISOLATED, 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}

export class ChromiumBench {
  private constructor(private readonly server: Server, private readonly browser: Browser, private readonly page: Page,
    private readonly errors: string[], readonly info: { crossOriginIsolated: boolean; ort: string; userAgent: string; relaxed: string | null; simd128: string },
    private readonly files: Files) {}

  /** Why the bench cannot run here (no chromium), or null. */
  static missing(): string | null {
    return chromiumMissing();
  }

  static async open(): Promise<ChromiumBench> {
    const missing = ChromiumBench.missing();
    if (missing) throw new Error(`bench web (chromium): ${missing}`);
    const files: Files = new Map();
    const server = createServer((req, res) => serveFile(files, req.url ?? '/', res));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const browser = await launchChromium();
    try {
      const { page, errors, flags: { __error: error } } = await openPage(browser, `http://127.0.0.1:${(server.address() as { port: number }).port}/`, ['__ready', '__error']);
      if (error) throw new Error(`bench web (chromium): the page failed to start: ${error}`);
      const info = await page.evaluate(() => (window as never as { bench: { info: ChromiumBench['info'] } }).bench.info);
      return new ChromiumBench(server, browser, page, errors, info, files);
    } catch (e) {
      await browser.close();
      server.close();
      throw e;
    }
  }

  private call<T>(fn: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(([f, a]) => (window as never as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[f as string](...(a as unknown[])), [fn, args] as const) as Promise<T>;
  }

  /** Puts case i's files on the server and loads them in the page: plan, table, onnxruntime sessions per level (the first in use). */
  async load(i: number, c: WebCase, levels: readonly OrtLevel[] = ['all']): Promise<void> {
    const { json, blob } = encode({ spec: c.spec, dim: c.dim, input: c.input, feeds: c.feeds });
    const put = (name: string, body: Buffer | string, type = 'application/octet-stream') => this.files.set(`/case/${i}/${name}`, { body, type });
    put('meta.json', json, TYPES['.json']);
    put('blob.bin', blob);
    put('table.f32', Buffer.from(c.table.buffer, c.table.byteOffset, c.table.byteLength));
    for (const f of ['user_tower.onnx', 'scorer.onnx']) put(f, readFileSync(join(c.onnxDir, f)));
    await this.call('load', i, levels);
  }

  /** The k candidates of case i's next requests: rows of its table. */
  setRows(i: number, rows: Int32Array): Promise<void> {
    return this.call('setRows', i, Array.from(rows));
  }

  /** Requests of both sides alternating for at least `ms` (tiers the page's wasm up); returns how many. */
  warm(i: number, ms: number, n: number): Promise<number> {
    return this.call('warm', i, ms, n);
  }

  /**
   * count onnxruntime-web requests of case i per graph optimisation level loaded, the levels alternating; later
   * requests use the level of the fastest p50 (returned with every level's p50 in us).
   */
  calibrate(i: number, count: number, n: number): Promise<{ level: OrtLevel; p50: Record<OrtLevel, number> }> {
    return this.call('calibrate', i, count, n);
  }

  /** One request of each side: all k scores (candidate order) and the top n; relaxed null where the page has no relaxed SIMD. */
  check(i: number, n: number): Promise<{ wasm: SideScores; relaxed: SideScores | null; ort: SideScores }> {
    return this.call('check', i, n);
  }

  /** count requests of each side in a row, the sides in turn: microseconds per request (relaxed empty where the page has no relaxed SIMD). */
  time(i: number, count: number, n: number): Promise<{ wasm: number[]; relaxed: number[]; ort: number[] }> {
    return this.call('time', i, count, n);
  }

  /** GFLOP/s of 12 register-resident chains of 4-float multiply-adds in the page: fused (relaxed_madd; null where not validated) or mul + add. */
  peak(fused: boolean): Promise<number | null> {
    return this.call('peak', fused);
  }

  async dispose(i: number): Promise<void> {
    await this.call('dispose', i);
    for (const k of [...this.files.keys()]) if (k.startsWith(`/case/${i}/`)) this.files.delete(k);
  }

  /** Console errors and uncaught exceptions of the page so far. */
  pageErrors(): string[] {
    return [...this.errors];
  }

  async close(): Promise<void> {
    await this.browser.close();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
