// A Redis Stream read through a consumer group. Entries are delivered with XREADGROUP and acknowledged (XACK) only
// when the trainer commits an offset, i.e. after the checkpoint holding them is durable. On (re)start the consumer's
// pending entries (delivered, never acknowledged: the work a killed trainer lost) are read first, then new ones;
// any entry whose id is at or before the checkpoint's offset was already applied and is acknowledged, not applied
// again. A lost connection pauses reading: every call retries with exponential backoff (logged) until Redis answers.
import { Redis } from 'ioredis';
import type { SourceConfig } from './config.js';
import type { EventSource, RedisOffset, SourceEvent, SourceLogger, SourceOffset } from './source.js';

type RedisConfig = Extract<SourceConfig, { kind: 'redis' }>;
type Entry = [id: string, fields: string[] | null];

/** Compares stream ids 'ms-seq' numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : (as ?? 0n) < (bs ?? 0n) ? -1 : 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RedisStreamSource implements EventSource {
  readonly description: string;
  private readonly redis: Redis;
  private applied: string | null = null;
  /** Reading the consumer's pending entries (from this id) before new ones. */
  private pendingCursor: string | null = '0';
  /** Delivered ids not yet acknowledged, in order. */
  private unacked: string[] = [];
  /** Consecutive failures of the current call (for the backoff). */
  private failures = 0;
  closed = false;

  constructor(private readonly cfg: RedisConfig, private readonly log: SourceLogger) {
    this.description = `redis stream ${cfg.stream} (group ${cfg.group}, consumer ${cfg.consumer}) at ${cfg.url}`;
    this.redis = new Redis(cfg.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: (n) => Math.min(50 * n, 1000),
      enableOfflineQueue: true,
    });
    this.redis.on('error', () => {
      // Reported by the retry loop; without a listener ioredis prints every reconnect failure.
    });
  }

  /** Runs a Redis call, retrying with backoff while the server is unreachable; a reply error (bad command) throws. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const r = await fn();
        if (this.failures > 0) this.log(`redis: ${what} works again after ${this.failures} failed attempt(s); resuming`);
        this.failures = 0;
        return r;
      } catch (e) {
        const err = e as Error;
        if (err.name === 'ReplyError' && !/LOADING|NOGROUP/.test(err.message)) throw new Error(`${this.description}: ${what}: ${err.message}`);
        if (this.closed) throw err;
        if (/NOGROUP/.test(err.message)) await this.createGroup().catch(() => undefined);
        const wait = Math.min(100 * 2 ** this.failures, 5000);
        this.failures++;
        this.log(`redis: ${what} failed (${err.message}); training paused, retrying in ${wait} ms (attempt ${this.failures})`);
        await sleep(wait);
      }
    }
  }

  private async createGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.cfg.stream, this.cfg.group, '0', 'MKSTREAM');
    } catch (e) {
      if (!/BUSYGROUP/.test((e as Error).message)) throw e;
    }
  }

  async open(after: SourceOffset | null): Promise<void> {
    if (after && after.kind !== 'redis') throw new Error(`the checkpoint's offset is a ${after.kind} offset, but the source is a Redis stream`);
    this.applied = after?.id ?? null;
    await this.call('connect', async () => {
      if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
      await this.createGroup();
    });
  }

  async read(max: number): Promise<SourceEvent[]> {
    const out: SourceEvent[] = [];
    while (out.length < max) {
      const pending = this.pendingCursor !== null;
      const from = this.pendingCursor ?? '>';
      const args: (string | number)[] = ['GROUP', this.cfg.group, this.cfg.consumer, 'COUNT', max - out.length];
      if (!pending && this.cfg.blockMs > 0 && out.length === 0) args.push('BLOCK', this.cfg.blockMs);
      args.push('STREAMS', this.cfg.stream, from);
      const res = (await this.call('XREADGROUP', () =>
        (this.redis as unknown as { xreadgroup(...a: (string | number)[]): Promise<unknown> }).xreadgroup(...args))) as [string, Entry[]][] | null;
      const entries = res?.[0]?.[1] ?? [];
      if (pending && entries.length === 0) {
        this.pendingCursor = null;
        continue;
      }
      if (entries.length === 0) break;
      for (const [id, fields] of entries) {
        if (pending) this.pendingCursor = id;
        this.unacked.push(id);
        if (this.applied !== null && compareStreamIds(id, this.applied) <= 0) continue;
        out.push(this.toEvent(id, fields));
      }
      if (!pending) break;
    }
    return out;
  }

  private toEvent(id: string, fields: string[] | null): SourceEvent {
    const offset: RedisOffset = { kind: 'redis', id };
    const where = `${this.cfg.stream} ${id}`;
    if (fields === null) return { offset, where, error: 'the entry was deleted from the stream before it was read', typed: false };
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) pairs.push([fields[i], fields[i + 1]]);
    const f = Object.fromEntries(pairs); // own properties, whatever the field names
    if (Object.keys(f).length === 1 && Object.hasOwn(f, 'json')) {
      try {
        const v: unknown = JSON.parse(f.json);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return { offset, where, error: "field 'json' must hold one JSON object", typed: true };
        return { offset, where, fields: v as Record<string, unknown>, typed: true };
      } catch (e) {
        return { offset, where, error: `field 'json' is not valid JSON: ${(e as Error).message}`, typed: true };
      }
    }
    return { offset, where, fields: f, typed: false };
  }

  async commit(offset: SourceOffset): Promise<void> {
    if (offset.kind !== 'redis') throw new Error('a Redis source commits Redis offsets');
    if (this.applied === null || compareStreamIds(offset.id, this.applied) > 0) this.applied = offset.id;
    const done = this.unacked.filter((id) => compareStreamIds(id, offset.id) <= 0);
    if (!done.length) return;
    for (let i = 0; i < done.length; i += 1000) {
      const part = done.slice(i, i + 1000);
      await this.call('XACK', () => this.redis.xack(this.cfg.stream, this.cfg.group, ...part));
    }
    const set = new Set(done);
    this.unacked = this.unacked.filter((id) => !set.has(id));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.redis.disconnect();
  }
}
